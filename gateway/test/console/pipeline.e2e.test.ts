// The console's Pipeline page in Chromium against the real embedded twin: the services' health and consumer lag,
// and a poisoned event — bytes that are not a RawDocumentChanged, published on documents.raw from this process
// into the twin's own event log — retried by the twin's clean consumer, dead-lettered, shown with its key and
// error, and put back on its topic with Replay. Also the maintenance actions, axe in light and dark, and a phone's width.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Locator, Page } from 'playwright-core';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { ingestv1 } from '@llmtwin/contracts';
import { createEventBus } from '@llmtwin/ports/adapters';
import path from 'node:path';
import {
  axeViolations,
  describeViolations,
  goTo,
  screenshot,
  signIn,
  startConsoleTwin,
  type ConsoleTwin,
} from './console.fixture.js';

const RAW_TOPIC = 'llmtwin.documents.raw.v1';
const POISON_KEY = 'doc_poison';
const CRAWL_URL = 'http://127.0.0.1:9/ada/first-post';

/** The services table's row for a service (its row header is the service's name). */
const serviceRow = (page: Page, name: string): Locator =>
  page
    .getByRole('region', { name: 'Services', exact: true })
    .locator('tr', { has: page.getByRole('rowheader', { name, exact: true }) });

describe('console: Pipeline page', () => {
  let ct: ConsoleTwin;
  let crawlJobId: string;
  beforeAll(async () => {
    ct = await startConsoleTwin('console-pipeline-', {
      args: ['--no-demo'],
      env: { LLMTWIN_LLM_BACKENDS: '' },
    });
    // A poisoned event on the twin's own bus. The twin's clean consumer polls the log (every 200 ms), fails to
    // decode it five times over about 3 s of backoff, and then puts it on llmtwin.documents.raw.v1.dlq.
    const bus = createEventBus('log:' + path.join(ct.twin.dataDir, 'events.db'));
    try {
      await bus.ensureTopics([RAW_TOPIC]);
      await bus.publish(RAW_TOPIC, [{ key: POISON_KEY, value: new Uint8Array([0xff, 0x00, 0x13]) }]);
    } finally {
      await bus.close();
    }
    // A crawl that cannot succeed: the crawler refuses loopback addresses, so the job ends partial with an error.
    const ingest = createClient(
      ingestv1.IngestService,
      createConnectTransport({
        baseUrl: ct.url,
        httpVersion: '1.1',
        interceptors: [
          (next) => (req) => {
            req.header.set('authorization', `Bearer ${ct.adminKey}`);
            return next(req);
          },
        ],
      }),
    );
    await ingest.createAuthor({ id: 'ada', displayName: 'Ada' });
    const { job } = await ingest.crawlNow({ target: { case: 'url', value: CRAWL_URL }, authorId: 'ada' });
    crawlJobId = job!.id;
  }, 240_000);
  afterAll(() => ct?.dispose());

  it('shows the services serving with their consumer lag, the dead letter with its error, and replays it', async () => {
    const page = await ct.open();
    await signIn(page, ct.adminKey);
    await goTo(page, 'Pipeline');

    // Health of the pipeline services, and each consumer's lag on the topic it reads.
    for (const name of ['ingest', 'clean', 'chunk', 'embed']) {
      const row = serviceRow(page, name);
      await row.waitFor({ timeout: 60_000 });
      await expect(row.locator('.badge').textContent()).resolves.toBe('serving');
    }
    await expect(serviceRow(page, 'clean').locator('.lag').textContent()).resolves.toMatch(
      /^documents\.raw: \d+ waiting$/,
    );
    await expect(serviceRow(page, 'chunk').locator('.lag').textContent()).resolves.toMatch(
      /^documents\.cleaned: \d+ waiting$/,
    );

    // The poisoned event appears (the list refreshes by itself) with its key and decode error, once for each
    // consumer group of documents.raw that gave up on it: clean and registry.
    const dlq = page.getByRole('region', { name: 'Dead letters', exact: true });
    await page
      .getByRole('region', { name: 'Crawl jobs', exact: true })
      .getByText('partial', { exact: true })
      .waitFor();
    const letters = dlq.locator('tbody tr').filter({ hasText: POISON_KEY });
    const letterOf = (group: string) =>
      letters.filter({ has: page.getByRole('cell', { name: group, exact: true }) }).first();
    for (const group of ['clean', 'registry']) {
      await letterOf(group).waitFor({ timeout: 90_000 });
      await expect(letterOf(group).textContent()).resolves.toMatch(
        /EventDecodeError: event at llmtwin\.documents\.raw\.v1\[\d+\]@\d+ is not a valid llmtwin\.ingest\.events\.v1\.RawDocumentChanged/,
      );
    }
    expect(await letters.count()).toBe(2);
    await dlq.getByRole('heading', { name: `${RAW_TOPIC} (2)` }).waitFor();

    // Replay puts both letters back on the topic once; a second replay has nothing new to put back.
    const replay = dlq.getByRole('button', { name: `Replay dead letters of ${RAW_TOPIC}` });
    await replay.click();
    const result = dlq.getByRole('status').filter({ hasText: 'back on' });
    await result.waitFor();
    expect(await result.textContent()).toBe(`Put 2 events back on ${RAW_TOPIC}.`);
    await screenshot(page, 'pipeline');
    await replay.click();
    await result.filter({ hasText: 'Put 0 events back' }).waitFor();

    // The replayed events fail again and come back as new letters for the same key.
    await letters.nth(2).waitFor({ timeout: 90_000 });
  }, 240_000);

  it('reprocesses and reindexes, showing what was queued and the reindex progress', async () => {
    const page = await ct.open();
    await signIn(page, ct.adminKey);
    await goTo(page, 'Pipeline');
    const maintenance = page.getByRole('region', { name: 'Maintenance', exact: true });

    await maintenance.getByLabel('Author id').fill('');
    await maintenance.getByRole('button', { name: 'Reprocess' }).click();
    await expect(
      maintenance.getByRole('status').filter({ hasText: 'queued' }).textContent(),
    ).resolves.toMatch(/^\d+ documents? queued for cleaning\.$/);

    // One author's documents: the request names the author.
    await maintenance.getByLabel('Author id').fill('nobody-here');
    await maintenance.getByRole('button', { name: 'Reprocess' }).click();
    await maintenance
      .getByRole('status')
      .filter({ hasText: '0 documents queued for cleaning (author nobody-here).' })
      .waitFor();

    await maintenance.getByRole('button', { name: 'Start reindex' }).click();
    const progress = maintenance.locator('progress');
    await progress.waitFor();
    await expect(maintenance.getByLabel(/^Reindex rdx_/).count()).resolves.toBe(1);
    // With no documents yet the new collection is empty and swapped in at once: the bar is full.
    await maintenance.getByText(/^Reindex rdx_\S+: swapped$/).waitFor({ timeout: 120_000 });
    expect(await progress.getAttribute('value')).toBe(await progress.getAttribute('max'));
    await expect(
      maintenance.getByRole('status').filter({ hasText: 'chunks embedded' }).textContent(),
    ).resolves.toMatch(/^\d+ of \d+ documents, \d+ chunks embedded/);
  }, 240_000);

  it('lists crawl jobs with their state, source, counts and errors', async () => {
    const page = await ct.open();
    await signIn(page, ct.adminKey);
    await goTo(page, 'Pipeline');
    const row = page
      .getByRole('region', { name: 'Crawl jobs', exact: true })
      .locator('tr', { has: page.getByRole('rowheader', { name: new RegExp(crawlJobId) }) });
    await row.getByText('partial', { exact: true }).waitFor({ timeout: 60_000 });
    expect(await row.textContent()).toContain(CRAWL_URL);
    expect(await row.getByRole('cell', { name: '1 / 1' }).count()).toBe(1);
    await row.getByText('1 error', { exact: true }).click();
    await row
      .getByText(`${CRAWL_URL}: refused to fetch 127.0.0.1: a loopback address`, { exact: false })
      .waitFor();
  }, 120_000);

  it.each(['light', 'dark'] as const)(
    'passes axe WCAG A/AA checks with its data (%s)',
    async (colorScheme) => {
      const page = await ct.open({ colorScheme });
      await signIn(page, ct.adminKey);
      await goTo(page, 'Pipeline');
      await serviceRow(page, 'clean').waitFor();
      await page
        .getByRole('region', { name: 'Dead letters', exact: true })
        .getByText(POISON_KEY)
        .first()
        .waitFor();
      await page
        .getByRole('region', { name: 'Crawl jobs', exact: true })
        .getByText(/No crawl jobs|Job/)
        .first()
        .waitFor();
      expect(describeViolations(await axeViolations(page))).toBe('');
    },
    120_000,
  );

  it('fits a phone: no sideways scrolling at 375 px', async () => {
    const page = await ct.open({ viewport: { width: 375, height: 740 } });
    await signIn(page, ct.adminKey);
    await goTo(page, 'Pipeline');
    await page
      .getByRole('region', { name: 'Dead letters', exact: true })
      .getByText(POISON_KEY)
      .first()
      .waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBe(0);
    // The tables scroll inside their frames instead, which the keyboard can reach.
    expect(describeViolations(await axeViolations(page))).toBe('');
  }, 120_000);
});
