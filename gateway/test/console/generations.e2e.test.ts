// The console's Generations page in headless Chromium against the real embedded twin (no LLM: extractive
// answers). The test makes its data through the public API — an author, a Medium export of two posts imported
// with ImportArchive, two questions answered by Generate — and puts one AlertRaised on the twin's own bus. In the
// browser: both records listed, the search narrowing the list (text, model and end time, all matched by
// ListGenerations itself, which the test also calls with an author key), one record shown in full (question,
// answer, template version, trace id, the retrieved passage with its source), an answer's correction (made with
// EditAnswer), the API's NotFound for an unknown id, the alert for an admin key and no alerts for an author key;
// axe in light and dark, and a phone's width.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { gatewayv1, inferenceeventsv1, inferencev1, ingestv1, topics } from '@llmtwin/contracts';
import { publishEvent } from '@llmtwin/ports';
import { createEventBus } from '@llmtwin/ports/adapters';
import { poll } from '@llmtwin/testkit/poll';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import {
  axeViolations,
  describeViolations,
  goTo,
  screenshot,
  signIn,
  startConsoleTwin,
  type ConsoleTwin,
} from './console.fixture.js';

const execFileAsync = promisify(execFile);

const AUTHOR = 'ada';
const SOURDOUGH_TITLE = 'Keeping a sourdough starter alive';
const Q_SOURDOUGH = 'How often should I feed my sourdough starter?';
const Q_POSTGRES = 'When does a PostgreSQL index make a query slower?';
const CORRECTION =
  'An index slows down writes, and the planner skips it when a query reads most of the table.';
const ALERT_MESSAGE = 'p95 latency 41250 ms over the last 100 generations is above 30000 ms';

/** A Medium-shaped export (posts/*.html) of two posts, zipped with Info-ZIP as Medium ships it. */
async function mediumExport(dir: string): Promise<Uint8Array> {
  const posts = [
    {
      file: '2024-03-01_Keeping-a-sourdough-starter-alive-0a1b2c3d4e5f.html',
      title: SOURDOUGH_TITLE,
      slug: 'keeping-a-sourdough-starter-alive-0a1b2c3d4e5f',
      date: '2024-03-01',
      body:
        'A sourdough starter is flour and water full of wild yeast. Feed the starter every day when it lives on ' +
        'the counter, and once a week when it sleeps in the fridge. Discard half before each feeding, then add ' +
        'equal weights of flour and water. A hungry starter smells of acetone; a fed one doubles in six hours.',
    },
    {
      file: '2024-03-02_Indexes-that-slow-PostgreSQL-down-6f5e4d3c2b1a.html',
      title: 'Indexes that slow PostgreSQL down',
      slug: 'indexes-that-slow-postgresql-down-6f5e4d3c2b1a',
      date: '2024-03-02',
      body:
        'Every PostgreSQL index must be updated on each insert, so a table with many indexes writes slowly. ' +
        'The planner ignores an index when a query reads most of the table: a sequential scan is cheaper then. ' +
        'Measure with EXPLAIN ANALYZE before adding an index, and drop the ones pg_stat_user_indexes never uses.',
    },
  ];
  const src = path.join(dir, 'export');
  await mkdir(path.join(src, 'posts'), { recursive: true });
  for (const p of posts) {
    await writeFile(
      path.join(src, 'posts', p.file),
      `<html><body><article class="h-entry"><header><h1 class="p-name">${p.title}</h1></header>` +
        `<section data-field="body" class="e-content"><p>${p.body}</p></section>` +
        `<footer><a href="https://medium.com/p/${p.slug}"><time class="dt-published" ` +
        `datetime="${p.date}T08:00:00.000Z">${p.date}</time></a> ` +
        `<a href="https://medium.com/@ada/${p.slug}" class="p-canonical">Canonical link</a>` +
        `</footer></article></body></html>`,
    );
  }
  const zip = path.join(dir, 'medium-export.zip');
  await execFileAsync('zip', ['-q', '-r', '-D', '-X', zip, 'posts'], { cwd: src });
  return new Uint8Array(await readFile(zip));
}

describe('console: Generations', () => {
  let ct: ConsoleTwin;
  let work: string;
  let sourdough: inferencev1.Generation;
  let postgres: inferencev1.Generation;
  let authorKey: string;

  const client = <S extends DescService>(service: S, key: string): Client<S> =>
    createClient(
      service,
      createConnectTransport({
        baseUrl: ct.url,
        httpVersion: '1.1',
        interceptors: [
          (next) => (req) => {
            req.header.set('authorization', `Bearer ${key}`);
            return next(req);
          },
        ],
      }),
    );

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'console-generations-data-'));
    ct = await startConsoleTwin('console-generations-', {
      args: ['--no-demo'],
      env: { LLMTWIN_LLM_BACKENDS: '' },
    });
    const ingest = client(ingestv1.IngestService, ct.adminKey);
    const inference = client(inferencev1.InferenceService, ct.adminKey);
    await ingest.createAuthor({ id: AUTHOR, displayName: 'Ada Baker' });
    await ingest.importArchive({
      authorId: AUTHOR,
      fileName: 'medium-export.zip',
      content: await mediumExport(work),
    });
    // The posts go through clean → chunk → embed; retrieval finds them once they are embedded.
    await poll(() => inference.retrieve({ query: Q_SOURDOUGH, authorId: AUTHOR }), {
      what: 'the imported posts to be retrievable',
      until: (r) => r.chunks.some((c) => c.title === SOURDOUGH_TITLE),
      timeoutMs: 150_000,
      intervalMs: 500,
    });
    const first = await inference.generate({ query: Q_SOURDOUGH, authorId: AUTHOR });
    const second = await inference.generate({ query: Q_POSTGRES, authorId: AUTHOR });
    sourdough = (await inference.getGeneration({ id: first.generationId })).generation!;
    postgres = (await inference.getGeneration({ id: second.generationId })).generation!;
    await inference.editAnswer({
      generationId: postgres.id,
      editedAnswer: CORRECTION,
      comment: 'say it plainly',
    });

    const admin = client(gatewayv1.AdminService, ct.adminKey);
    authorKey = (await admin.createApiKey({ authorId: AUTHOR, name: 'ada console' })).key;

    const bus = createEventBus(`log:${path.join(ct.twin.dataDir, 'events.db')}`);
    try {
      await bus.ensureTopics([topics.alerts]);
      await publishEvent(bus, topics.alerts, inferenceeventsv1.AlertRaisedSchema, 'latency_p95', {
        eventId: 'alert-console-1',
        eventTime: timestampFromMs(Date.now()),
        rule: 'latency_p95',
        model: 'extractive',
        value: 41_250,
        threshold: 30_000,
        windowSize: 100n,
        resolved: false,
        source: 'router-test',
        message: ALERT_MESSAGE,
      });
    } finally {
      await bus.close();
    }
  }, 300_000);

  afterAll(async () => {
    await ct?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const recordLink = (page: Page, query: string) =>
    page.getByRole('region', { name: 'Records' }).getByRole('link', { name: query });

  /** The value shown for a term of the record's definition lists. */
  const termValue = (page: Page, term: string) =>
    page
      .locator('.gen-item')
      .filter({ has: page.locator('dt', { hasText: new RegExp(`^${term}$`) }) })
      .locator('dd');

  it('lists both records, narrows them by text, model and end time, and opens one in full', async () => {
    expect(sourdough.retrieved.length).toBeGreaterThan(0);
    const page = await ct.open();
    await signIn(page, ct.adminKey);
    await goTo(page, 'Generations');
    await recordLink(page, Q_SOURDOUGH).waitFor({ timeout: 30_000 });
    await recordLink(page, Q_POSTGRES).waitFor();
    const rows = page.getByRole('region', { name: 'Records' }).locator('tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.first().textContent()).toContain(AUTHOR);
    expect(await rows.first().textContent()).toContain(postgres.model);

    // The search (ListGenerations' query_contains, matched by the API) narrows the list to the question with
    // the word, whatever its case; with the model that answered both, still that one.
    const text = page.getByLabel('Question or answer contains');
    await text.fill('SOURDOUGH');
    await page.getByRole('button', { name: 'Search' }).click();
    await recordLink(page, Q_POSTGRES).waitFor({ state: 'detached', timeout: 30_000 });
    await recordLink(page, Q_SOURDOUGH).waitFor();
    expect(await rows.count()).toBe(1);
    await page.getByText('1 generation.').waitFor();
    await page.getByLabel('Model', { exact: true }).selectOption(postgres.model);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 generation.').waitFor({ timeout: 30_000 });
    expect(await rows.count()).toBe(1);
    await recordLink(page, Q_SOURDOUGH).waitFor();
    // An end time before both (the API's until) leaves none.
    await text.fill('');
    await page.getByLabel('To', { exact: true }).fill('2020-01-01T00:00');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No generation matches these filters.').waitFor({ timeout: 30_000 });
    expect(await rows.count()).toBe(0);
    await page.getByRole('button', { name: 'Clear' }).click();
    await recordLink(page, Q_POSTGRES).waitFor({ timeout: 30_000 });
    await page.getByLabel('Question or answer contains').fill('sourdough');
    await page.getByRole('button', { name: 'Search' }).click();
    await recordLink(page, Q_POSTGRES).waitFor({ state: 'detached', timeout: 30_000 });

    // And opens its record.
    await recordLink(page, Q_SOURDOUGH).click();
    await page.waitForURL(`**/#/generations/${sourdough.id}`);
    await page.getByRole('heading', { level: 2, name: 'Question and answer' }).waitFor({ timeout: 30_000 });
    expect(await termValue(page, 'Question').textContent()).toBe(Q_SOURDOUGH);
    expect(await termValue(page, 'Answer').textContent()).toBe(sourdough.answer);
    expect(sourdough.answer).not.toBe('');
    expect(await termValue(page, 'Prompt template version').textContent()).toBe(
      sourdough.promptTemplateVersion,
    );
    expect(sourdough.traceId).not.toBe('');
    expect(await termValue(page, 'Trace id').textContent()).toBe(sourdough.traceId);
    expect(await termValue(page, 'Generation id').textContent()).toBe(sourdough.id);
    expect(await termValue(page, 'Author filter').textContent()).toBe(AUTHOR);
    // The retrieved passages, with their source and score.
    const passages = page.getByRole('table', { name: 'Retrieved passages' });
    const best = sourdough.retrieved[0]!;
    const link = passages.getByRole('link', { name: SOURDOUGH_TITLE }).first();
    expect(await link.getAttribute('href')).toBe(best.url);
    expect(await passages.locator('tbody tr').count()).toBe(sourdough.retrieved.length);
    expect(await passages.locator('tbody tr').first().textContent()).toContain(best.score.toFixed(3));
    await page.getByText('No one has corrected this answer.').waitFor();
    await screenshot(page, 'generations');

    // Back to the list.
    await page.getByRole('link', { name: '← All generations' }).click();
    await recordLink(page, Q_POSTGRES).waitFor({ timeout: 30_000 });
  }, 180_000);

  it('filters by model, end time and text in the API, and keeps an author key to its own author', async () => {
    const inference = client(inferencev1.InferenceService, authorKey);
    const ids = async (req: Parameters<typeof inference.listGenerations>[0]) =>
      (await inference.listGenerations(req)).generations.map((g) => g.id);
    // The author key's author is filled in; both records are the extractive model's.
    expect(await ids({})).toEqual([postgres.id, sourdough.id]);
    expect(await ids({ model: sourdough.model })).toEqual([postgres.id, sourdough.id]);
    expect(await ids({ model: 'no-such-model' })).toEqual([]);
    expect(await ids({ queryContains: 'PostgreSQL index' })).toEqual([postgres.id]);
    expect(await ids({ until: postgres.createTime! })).toEqual([sourdough.id]);
    const other = await inference
      .listGenerations({ authorId: 'someone-else', queryContains: 'sourdough' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(ConnectError.from(other).code).toBe(Code.PermissionDenied);
  }, 60_000);

  it("shows a person's correction of an answer on its record", async () => {
    const page = await ct.open();
    await signIn(page, ct.adminKey);
    await page.goto(`${ct.url}/#/generations/${postgres.id}`);
    await termValue(page, 'Corrected answer').waitFor({ timeout: 30_000 });
    expect(await termValue(page, 'Corrected answer').textContent()).toBe(CORRECTION);
    expect(await termValue(page, 'Comment').textContent()).toBe('say it plainly');
    expect(await termValue(page, 'Question').textContent()).toBe(Q_POSTGRES);
    expect(await termValue(page, 'Answer').textContent()).toBe(postgres.answer);
  }, 120_000);

  it("shows the API's NotFound for an unknown generation", async () => {
    const page = await ct.open();
    await signIn(page, ct.adminKey);
    await page.goto(`${ct.url}/#/generations/gen_does_not_exist`);
    const alert = page.getByRole('alert').filter({ hasText: 'gen_does_not_exist' });
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toBe(
      'no generation gen_does_not_exist: ListGenerations lists the stored ones (NotFound)',
    );
    await page.getByRole('heading', { level: 1, name: 'Generations' }).waitFor();
  }, 120_000);

  it('lists the alerts that fired for an admin key, and none for an author key', async () => {
    const page = await ct.open();
    await signIn(page, ct.adminKey);
    await goTo(page, 'Generations');
    const alerts = page.getByRole('region', { name: 'Alerts that fired' });
    const row = alerts.locator('tbody tr').filter({ hasText: ALERT_MESSAGE });
    await row.waitFor({ timeout: 30_000 });
    const text = await row.textContent();
    expect(text).toContain('latency_p95');
    expect(text).toContain('firing');
    expect(text).toContain('41.3 s / 30.0 s');
    expect(text).toContain('100 generations');
    expect(text).toContain('router-test');

    const authorPage = await ct.open();
    await signIn(authorPage, authorKey);
    await goTo(authorPage, 'Generations');
    await recordLink(authorPage, Q_SOURDOUGH).waitFor({ timeout: 30_000 });
    await authorPage.waitForLoadState('networkidle');
    expect(await authorPage.getByRole('region', { name: 'Alerts that fired' }).count()).toBe(0);
    expect(await authorPage.getByText(`${AUTHOR} (your key's author)`).count()).toBe(1);
  }, 120_000);

  it.each(['light', 'dark'] as const)(
    'passes axe WCAG A/AA checks, list and record (%s)',
    async (colorScheme) => {
      const page = await ct.open({ colorScheme });
      await signIn(page, ct.adminKey);
      await goTo(page, 'Generations');
      await recordLink(page, Q_SOURDOUGH).waitFor({ timeout: 30_000 });
      await page.getByRole('region', { name: 'Alerts that fired' }).getByText(ALERT_MESSAGE).waitFor();
      expect(describeViolations(await axeViolations(page))).toBe('');
      await recordLink(page, Q_SOURDOUGH).click();
      await page.getByRole('table', { name: 'Retrieved passages' }).waitFor({ timeout: 30_000 });
      await page.getByText('No one has corrected this answer.').waitFor();
      expect(describeViolations(await axeViolations(page))).toBe('');
    },
    120_000,
  );

  it('fits a phone: neither the list nor a record scrolls sideways at 375 px', async () => {
    const page = await ct.open({ viewport: { width: 375, height: 740 } });
    await signIn(page, ct.adminKey);
    await goTo(page, 'Generations');
    await recordLink(page, Q_SOURDOUGH).waitFor({ timeout: 30_000 });
    await page.getByRole('region', { name: 'Alerts that fired' }).getByText(ALERT_MESSAGE).waitFor();
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBe(0);
    await recordLink(page, Q_SOURDOUGH).click();
    await page.getByRole('table', { name: 'Retrieved passages' }).waitFor({ timeout: 30_000 });
    expect(await overflow()).toBe(0);
  }, 120_000);
});
