// The Sources & documents page in Chromium against the real embedded twin (no demo author, no model): an
// admin creates an author, imports a Medium export through the file input (a text file is refused with the
// API's message next to the field; the real archive's import job ends with its counts and its documents in the
// list), adds a source with a wrong cron expression (the API's message next to the cron field), then a right
// one that is listed, removes it through the confirmation dialog, and deletes one document the same way. An author key sees its own author,
// fixed, and a wrong URL gets the API's message next to the URL field. axe finds nothing in light and dark, and
// the filled page does not scroll sideways on a phone.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { poll } from '@llmtwin/testkit/poll';
import {
  axeViolations,
  describeViolations,
  goTo,
  screenshot,
  signIn,
  startConsoleTwin,
  type ConsoleTwin,
} from './console.fixture.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// The Medium sample export the ingest tests import (services/ingest/src/import.e2e.test.ts): five documents.
const MEDIUM_EXPORT = path.join(
  repoRoot,
  'services/ingest/test/fixtures/medium-export/TryGhost-migrate/packages/mg-medium-export/test/fixtures/export',
);

/** The sample export zipped with Info-ZIP, as Medium ships it. */
async function mediumExportZip(): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'console-medium-zip-'));
  try {
    const zip = path.join(dir, 'medium-export.zip');
    await promisify(execFile)('zip', ['-q', '-r', '-D', '-X', zip, 'posts', 'profile'], {
      cwd: MEDIUM_EXPORT,
    });
    return await readFile(zip);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const SOURCE_URL = 'https://medium.com/@ada-lovelace';

async function openSources(ct: ConsoleTwin, options: Parameters<ConsoleTwin['open']>[0] = {}): Promise<Page> {
  const page = await ct.open(options);
  await signIn(page, ct.adminKey);
  await goTo(page, 'Sources & documents');
  return page;
}

describe('console: sources & documents', () => {
  let ct: ConsoleTwin;
  beforeAll(async () => {
    ct = await startConsoleTwin('console-sources-', {
      args: ['--no-demo'],
      env: { LLMTWIN_LLM_BACKENDS: '' },
    });
  }, 240_000);
  afterAll(() => ct?.dispose());

  it('creates an author, imports an export archive, adds and removes a source', async () => {
    const page = await openSources(ct);
    await page.getByText('No authors yet. Create one').waitFor();

    // An author: a fresh twin has none.
    await page.getByLabel('Display name').fill('Ada Lovelace');
    await page.getByLabel('Author id (optional)').fill('ada');
    await page.getByRole('button', { name: 'Create author' }).click();
    await page.getByText('Created the author Ada Lovelace (ada).').waitFor();
    await expect(page.getByLabel('Author', { exact: true }).first().inputValue()).resolves.toBe('ada');

    // A file that is not an archive: the API's refusal next to the file field.
    const fileInput = page.getByLabel('Export archive', { exact: true });
    await fileInput.setInputFiles({
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('not a zip'),
    });
    await page.getByRole('button', { name: 'Import archive' }).click();
    const fileError = page.locator('#import-file-error');
    await fileError.waitFor({ timeout: 60_000 });
    expect(await fileError.textContent()).toContain('is not a readable zip archive');
    expect(await fileInput.getAttribute('aria-invalid')).toBe('true');

    // The Medium sample export: uploaded with progress, then the import job's result.
    await fileInput.setInputFiles({
      name: 'medium-export.zip',
      mimeType: 'application/zip',
      buffer: await mediumExportZip(),
    });
    await page.getByRole('button', { name: 'Import archive' }).click();
    await page.locator('#import-progress').waitFor();
    const job = page.locator('.sources-job');
    await job.getByText('succeeded', { exact: true }).waitFor({ timeout: 120_000 });
    const count = (label: string) =>
      job.locator('.sources-counts > div', { has: page.getByText(label, { exact: true }) }).locator('dd');
    expect(await count('New').textContent()).toBe('5');
    expect(await count('Updated').textContent()).toBe('0');
    expect(await count('Unchanged').textContent()).toBe('0');
    expect(await count('Deleted').textContent()).toBe('0');
    expect(await page.locator('#import-file-error').count()).toBe(0);

    // Its documents in the list (reloaded when the import ended; Refresh if the page was quicker).
    const documents = page.getByRole('table', { name: 'Documents' });
    await poll(
      async () => {
        if ((await documents.count()) === 0) await page.getByRole('button', { name: 'Refresh' }).click();
        return documents.locator('tbody tr').count();
      },
      {
        what: 'the five imported documents in the list',
        timeoutMs: 60_000,
        intervalMs: 1000,
        until: (n) => n === 5,
      },
    );
    expect(await documents.getByText('Medium', { exact: true }).count()).toBe(5);
    // The archive is listed as the author's source it stands for.
    const sources = page.getByRole('table', { name: 'Sources' });
    await sources.getByText('archive:', { exact: false }).first().waitFor();

    // A wrong cron expression: the API's message next to the cron field.
    await page.getByLabel('URL', { exact: true }).fill(SOURCE_URL);
    await page.getByLabel('On a cron schedule').check();
    await page.getByLabel('Cron expression').fill('61 3 * * *');
    await page.getByRole('button', { name: 'Add source' }).click();
    const cronError = page.locator('#source-cron-error');
    await cronError.waitFor();
    expect(await cronError.textContent()).toMatch(
      /"61 3 \* \* \*" is not a cron expression.*InvalidArgument/,
    );
    expect(await page.getByLabel('Cron expression').getAttribute('aria-invalid')).toBe('true');
    expect(await sources.getByText(SOURCE_URL).count()).toBe(0);

    // A right one is added and listed.
    await page.getByLabel('Cron expression').fill('0 3 * * *');
    await page.getByLabel('Time zone').fill('Europe/Berlin');
    await page.getByRole('button', { name: 'Add source' }).click();
    await page.getByText(`Added ${SOURCE_URL}`).waitFor();
    expect(await cronError.count()).toBe(0);
    const row = sources.locator('tbody tr', { hasText: SOURCE_URL });
    await row.waitFor();
    expect(await row.textContent()).toContain('cron 0 3 * * * (Europe/Berlin)');
    // A full crawl on demand (the whole listing, deletions found) is queued as a job.
    await row.getByRole('button', { name: `Full crawl: ${SOURCE_URL}` }).click();
    await row.getByText(/^Full crawl job job_\S+ queued\.$/).waitFor();

    expect(describeViolations(await axeViolations(page))).toBe('');
    await screenshot(page, 'sources');

    // Removed only after the dialog says what goes.
    await row.getByRole('button', { name: `Remove: ${SOURCE_URL}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove this source?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(`The source ${SOURCE_URL} of author ada will be removed`);
    expect(await dialog.textContent()).toContain('Its 0 documents stay in the warehouse');
    await dialog.getByRole('button', { name: 'Remove source' }).click();
    await page.getByText(`Removed the source ${SOURCE_URL}; its 0 documents were kept.`).waitFor();
    await poll(() => sources.getByText(SOURCE_URL).count(), {
      what: 'the removed source to leave the list',
      timeoutMs: 30_000,
      intervalMs: 500,
      until: (n) => n === 0,
    });
    // The archive's documents are untouched.
    expect(await documents.locator('tbody tr').count()).toBe(5);

    // One document deleted, after the dialog says what happens: it leaves the list, and shows as deleted
    // with "Show deleted".
    const first = documents.locator('tbody tr').first();
    const deleteButton = first.getByRole('button', { name: /^Delete: / });
    const title = (await deleteButton.getAttribute('aria-label'))!.slice('Delete: '.length);
    await deleteButton.click();
    const confirm = page.getByRole('dialog', { name: 'Delete this document?' });
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain(`“${title}” of author ada will be deleted`);
    await confirm.getByRole('button', { name: 'Delete document' }).click();
    await page.getByText(`Deleted “${title}”.`).waitFor();
    await poll(() => documents.locator('tbody tr').count(), {
      what: 'the deleted document to leave the list',
      timeoutMs: 30_000,
      intervalMs: 500,
      until: (n) => n === 4,
    });
    await page.getByLabel('Show deleted').check();
    const tombstone = documents.locator('tbody tr', { hasText: title });
    await tombstone.getByText('deleted', { exact: true }).waitFor();
    expect(await tombstone.getByRole('button', { name: /^Delete: / }).count()).toBe(0);
    await page.getByLabel('Show deleted').uncheck();
  }, 300_000);

  it("acts on an author key's own author only, with the API's message next to a wrong URL", async () => {
    const res = await fetch(`${ct.url}/llmtwin.gateway.v1.AdminService/CreateApiKey`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ct.adminKey}` },
      body: JSON.stringify({ authorId: 'ada', name: 'console sources test' }),
    });
    expect(res.status).toBe(200);
    const { key } = (await res.json()) as { key: string };
    const page = await ct.open();
    await signIn(page, key);
    await goTo(page, 'Sources & documents');
    // No author to choose (and none to create): the key's own, fixed.
    expect(await page.getByRole('heading', { name: 'Authors' }).count()).toBe(0);
    const author = page.getByLabel('Author', { exact: true }).first();
    expect(await author.inputValue()).toBe('ada');
    expect(await author.getAttribute('readonly')).not.toBeNull();
    const documents = page.getByRole('table', { name: 'Documents' });
    await documents.waitFor({ timeout: 60_000 });
    // The author's documents: the five imported above, less the one deleted there.
    expect(await documents.locator('tbody tr').count()).toBe(4);

    await page.getByLabel('URL', { exact: true }).fill('medium dot com slash ada');
    await page.getByRole('button', { name: 'Add source' }).click();
    const urlError = page.locator('#source-url-error');
    await urlError.waitFor();
    expect(await urlError.textContent()).toMatch(/is not an absolute URL.*InvalidArgument/);
    expect(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid')).toBe('true');
  }, 180_000);

  it('passes axe in dark and fits a phone with its documents listed', async () => {
    const page = await openSources(ct, { colorScheme: 'dark', viewport: { width: 375, height: 740 } });
    await page.getByRole('table', { name: 'Documents' }).waitFor({ timeout: 60_000 });
    await page.getByRole('table', { name: 'Sources' }).waitFor();
    expect(describeViolations(await axeViolations(page))).toBe('');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBe(0);
  }, 180_000);
});
