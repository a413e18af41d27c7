// Importing an export archive twice through the ingest module (ImportArchive → crawl job → warehouse) on the
// embedded adapters: the first import reports every document new and none updated (one archive never names a
// document twice), the second reports all of them unchanged and writes and emits nothing. Archives: a
// LinkedIn export written by the project's zip writer (linkedin-export.fixture.ts) and the Medium sample
// export zipped by the system's zip tool, whose five posts that share one canonical URL are one document.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { ingestv1, topics } from '@llmtwin/contracts';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import type { ServiceModule } from '@llmtwin/host';
import { createLogger } from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { committedFixtures } from '../test/fixture-paths.js';
import { ARTICLES, POSTS, linkedinExportZip } from './adapters/import/linkedin-export.fixture.js';
import { createIngestModule } from './module.js';

let root: string;
let warehouse: Warehouse;
let bus: EventBus;
let module: ServiceModule;
let client: Client<typeof ingestv1.IngestService>;

async function importTwice(authorId: string, fileName: string, content: Uint8Array) {
  const jobs: ingestv1.CrawlJob[] = [];
  for (let i = 0; i < 2; i++) {
    const { job } = await client.importArchive({ authorId, fileName, content });
    const { job: done } = await poll(() => client.getCrawlJob({ id: job!.id }), {
      what: `import job ${job!.id} to end`,
      timeoutMs: 30_000,
      intervalMs: 25,
      until: (res) =>
        res.job!.state !== ingestv1.CrawlJobState.QUEUED && res.job!.state !== ingestv1.CrawlJobState.RUNNING,
    });
    jobs.push(done!);
  }
  return jobs;
}

const counts = (job: ingestv1.CrawlJob) => ({
  state: job.state,
  created: Number(job.documentsCreated),
  updated: Number(job.documentsUpdated),
  unchanged: Number(job.documentsUnchanged),
  tombstoned: Number(job.documentsTombstoned),
  errors: job.errors,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ingest-import-e2e-'));
  warehouse = await createWarehouse(`sqlite:${join(root, 'warehouse.db')}`);
  bus = createEventBus(`log:${join(root, 'events.db')}`);
  module = await createIngestModule({
    warehouse,
    eventBus: bus,
    logger: createLogger('ingest-import-e2e', { level: 'silent' }),
    dataDir: join(root, 'data'),
    crawl: { allow: [], respectRobots: true, allowLocalGit: false },
    schedulerTickMs: 3_600_000,
    outboxSweepMs: 3_600_000,
  });
  await module.start?.();
  client = createClient(
    ingestv1.IngestService,
    createRouterTransport((router) => module.register(router)),
  );
}, 60_000);

afterAll(async () => {
  await module?.stop?.();
  await bus?.close();
  await warehouse?.close();
  await rm(root, { recursive: true, force: true });
});

describe('importing the same export twice', () => {
  it('LinkedIn: first every document new and none updated, then all unchanged', async () => {
    await client.createAuthor({ id: 'ingrid', displayName: 'Ingrid Holm' });
    const expected = POSTS.length + Object.keys(ARTICLES).length; // 4 posts from 9 rows, 3 articles
    const eventsBefore = (await bus.read(topics.documentsRaw)).length;
    const [first, second] = await importTwice(
      'ingrid',
      'Basic_LinkedInDataExport_06-10-2025.zip',
      await linkedinExportZip(),
    );
    expect(counts(first!)).toEqual({
      state: ingestv1.CrawlJobState.SUCCEEDED,
      created: expected,
      updated: 0,
      unchanged: 0,
      tombstoned: 0,
      errors: [],
    });
    expect(counts(second!)).toEqual({
      state: ingestv1.CrawlJobState.SUCCEEDED,
      created: 0,
      updated: 0,
      unchanged: expected,
      tombstoned: 0,
      errors: [],
    });
    // One event per document, all from the first import.
    expect((await bus.read(topics.documentsRaw)).length - eventsBefore).toBe(expected);
    const { documents } = await client.listDocuments({ authorId: 'ingrid' });
    expect(
      documents
        .filter((d) => d.draft)
        .map((d) => d.canonicalUrl)
        .sort(),
    ).toEqual([ARTICLES.draftWithLink.url, ARTICLES.draftWithoutLink.url].sort());
    expect(documents.every((d) => d.version === 1n)).toBe(true);
  });

  it('Medium, zipped by the zip tool: one document per canonical URL, then all unchanged', async () => {
    await client.createAuthor({ id: 'joe', displayName: 'Joe Bloggs' });
    const exportDir = join(
      committedFixtures,
      'medium-export/TryGhost-migrate/packages/mg-medium-export/test/fixtures/export',
    );
    const zipPath = join(root, 'medium-export.zip');
    execFileSync('zip', ['-q', '-r', '-X', zipPath, 'posts', 'profile'], { cwd: exportDir });
    const [first, second] = await importTwice('joe', 'medium-export.zip', await readFile(zipPath));
    expect(counts(first!)).toMatchObject({ created: 5, updated: 0, unchanged: 0, errors: [] });
    expect(counts(second!)).toMatchObject({ created: 0, updated: 0, unchanged: 5, errors: [] });
  });
});
