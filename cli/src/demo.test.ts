// The demo author through the real ingest module in this process, on the embedded warehouse (sqlite) and
// the log event bus: loading it lands every bundled page as a document of the demo author, with the text
// that answers the suggested question; loading it again stores and emits nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, type Client } from '@connectrpc/connect';
import { ingestv1, topics } from '@llmtwin/contracts';
import { createModuleHealth, type ServiceModule } from '@llmtwin/host';
import { createIngestModule } from '@llmtwin/ingest';
import { type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { buildServer, createLogger, inProcessTransport } from '@llmtwin/runtime';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEMO_AUTHOR_ID,
  DEMO_AUTHOR_NAME,
  DEMO_QUESTION,
  buildDemoArchive,
  bundledFixturesDir,
  demoPages,
  loadDemoAuthor,
  shouldOfferDemo,
} from './demo.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VLAE_URL = 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes';

describe('the bundled demo pages', () => {
  it('are 5 to 10 committed article pages, the VLAE review among them, each credited from its SOURCE.md', () => {
    expect(bundledFixturesDir()).toBe(path.join(repoRoot, 'services/ingest/test/fixtures'));
    const pages = demoPages();
    expect(pages.length).toBeGreaterThanOrEqual(5);
    expect(pages.length).toBeLessThanOrEqual(10);
    expect(pages.map((p) => p.url)).toContain(VLAE_URL);
    expect(new Set(pages.map((p) => p.url)).size).toBe(pages.length);
    for (const page of pages) {
      expect(existsSync(page.path)).toBe(true);
      const source = readFileSync(sourceMdOf(page.path), 'utf8');
      expect(source).toContain(`**Source repo:** ${page.source.repository}`);
      expect(source).toMatch(new RegExp(`\\*\\*Licence:\\*\\* ${escape(page.source.licence)}\\b`));
      expect(page.attribution).toContain(page.title);
      expect(page.attribution).toContain(page.url);
      expect(page.attribution).toContain(page.source.repository);
      expect(page.attribution).toContain(page.source.licence);
    }
    // docs/demo.md credits the same pages: one table row per page with its author, source and licence.
    const doc = readFileSync(path.join(repoRoot, 'docs/demo.md'), 'utf8');
    for (const page of pages) {
      const row = doc.split('\n').find((line) => line.includes(`](${page.url})`));
      expect(row).toBeDefined();
      expect(row).toContain(`[${page.title}]`);
      expect(row).toContain(`| ${page.author} |`);
      expect(row).toContain(`](${page.source.repository})`);
      expect(row).toContain(`| ${page.source.licence} |`);
    }
    const vlae = pages.find((p) => p.url === VLAE_URL)!;
    expect(vlae.source).toEqual({ repository: 'https://github.com/kepano/defuddle', licence: 'MIT' });
  });

  it('zip into a saved-pages archive whose manifest lists every page at its URL', async () => {
    const archive = await buildDemoArchive();
    expect(archive.fileName).toMatch(/\.zip$/);
    // Well under the 4 MiB a service accepts in one request by default.
    expect(archive.content.byteLength).toBeLessThan(1024 * 1024);
    expect(Buffer.from(archive.content.subarray(0, 4)).readUInt32LE(0)).toBe(0x04034b50);
    expect(archive.attribution).toEqual(demoPages().map((p) => p.attribution));
    const dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-demo-zip-'));
    try {
      const file = path.join(dir, archive.fileName);
      await writeFile(file, archive.content);
      const unzip = (entry: string) => execFileSync('unzip', ['-p', file, entry]).toString('utf8');
      const manifest = JSON.parse(unzip('pages.json')) as { pages: { file: string; url: string }[] };
      expect(manifest.pages).toEqual(demoPages().map((p) => ({ file: p.archivePath, url: p.url })));
      for (const page of demoPages().slice(0, 2)) {
        expect(unzip(page.archivePath)).toBe(readFileSync(page.path, 'utf8'));
      }
      // The credits travel with the copies; the importer skips the file as not listed.
      const notice = unzip('ATTRIBUTION.md');
      for (const line of archive.attribution) expect(notice).toContain(line);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // The same bytes each time: nothing in the archive depends on when it was built.
    expect(Buffer.from((await buildDemoArchive()).content).equals(Buffer.from(archive.content))).toBe(true);
  });
});

/** The SOURCE.md of the fixture set a page belongs to: the nearest one above it. */
function sourceMdOf(pagePath: string): string {
  let dir = path.dirname(pagePath);
  while (!existsSync(path.join(dir, 'SOURCE.md'))) {
    if (dir === path.dirname(dir)) throw new Error(`no SOURCE.md above ${pagePath}`);
    dir = path.dirname(dir);
  }
  return path.join(dir, 'SOURCE.md');
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('loading the demo author', () => {
  let root: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let module: ServiceModule;
  let client: Client<typeof ingestv1.IngestService>;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'llmtwin-demo-'));
    warehouse = await createWarehouse(`sqlite:${path.join(root, 'warehouse.db')}`);
    bus = createEventBus(`log:${path.join(root, 'events.db')}`);
    module = await createIngestModule({
      warehouse,
      eventBus: bus,
      logger: createLogger('demo-test', { level: 'silent' }),
      dataDir: root,
      schedulerTickMs: 3_600_000,
      outboxSweepMs: 3_600_000,
    });
    await module.start?.();
    // Composed as embedded mode composes it: the module behind the standard server (error mapping included)
    // and reached through an in-process transport.
    const logger = createLogger('demo-test', { level: 'silent' });
    const server = buildServer({
      name: 'ingest',
      register: (router) => module.register(router),
      services: [...module.services],
      health: createModuleHealth(module),
      logger,
    });
    client = createClient(ingestv1.IngestService, inProcessTransport(server.routes));
  });

  afterAll(async () => {
    await module?.stop?.();
    await bus?.close();
    await warehouse?.close();
    await rm(root, { recursive: true, force: true });
  });

  const stored = async () =>
    (
      await warehouse.collection('raw_documents').find({}, { sort: [{ field: '_id', direction: 'asc' }] })
    ).map((r) => ({ ...r, raw: Buffer.from(r['raw'] as Uint8Array).toString('base64') }));

  it('is offered on a fresh installation, loads every page, and adds nothing the second time', async () => {
    const pages = demoPages();
    expect(await shouldOfferDemo(client)).toBe(true);

    const polled: ingestv1.CrawlJobState[] = [];
    const first = await loadDemoAuthor(client, {
      pollIntervalMs: 20,
      onProgress: (job) => polled.push(job.state),
    });
    expect(first).toMatchObject({
      authorId: DEMO_AUTHOR_ID,
      authorCreated: true,
      job: { state: 'succeeded', created: pages.length, updated: 0, unchanged: 0, errors: [] },
      question: DEMO_QUESTION,
      answerIn: { url: VLAE_URL },
    });
    expect(first.attribution).toEqual(pages.map((p) => p.attribution));
    expect(polled.at(-1)).toBe(ingestv1.CrawlJobState.SUCCEEDED);
    const { author } = await client.getAuthor({ id: DEMO_AUTHOR_ID });
    expect(author!.displayName).toBe(DEMO_AUTHOR_NAME);

    // Each page is one document of the demo author, under the title and URL the demo credits it with.
    const { documents } = await client.listDocuments({ authorId: DEMO_AUTHOR_ID, page: { pageSize: 50 } });
    expect(documents.map((d) => [d.canonicalUrl, d.title]).sort()).toEqual(
      pages.map((p) => [p.url, p.title]).sort(),
    );
    // The writer each page names (kept in the warehouse record; the RPC's document has no such field).
    const records = await warehouse.collection('raw_documents').find({ authorId: DEMO_AUTHOR_ID });
    expect(records.map((r) => [r['canonicalUrl'], r['author']]).sort()).toEqual(
      pages.map((p) => [p.url, p.author]).sort(),
    );
    const answer = documents.find((d) => d.canonicalUrl === first.answerIn.url)!;
    const { document } = await client.getDocument({ id: answer.id });
    expect(Buffer.from(document!.raw).toString('utf8')).toContain(
      'we want it to be the case that the school buses are close to the trucks',
    );

    const before = { docs: await stored(), events: (await bus.read(topics.documentsRaw)).length };
    expect(before.events).toBe(pages.length);
    // Only the demo author exists and nobody added a source but the demo's pages: still a fresh installation.
    expect(await shouldOfferDemo(client)).toBe(true);

    const again = await loadDemoAuthor(client, { pollIntervalMs: 20 });
    expect(again.authorCreated).toBe(false);
    expect(again.job).toMatchObject({ state: 'succeeded', created: 0, updated: 0, unchanged: pages.length });
    expect(await stored()).toEqual(before.docs);
    expect((await bus.read(topics.documentsRaw)).length).toBe(before.events);
  });

  it('is no longer offered once the installation has an author or a source of its own', async () => {
    await client.createAuthor({ id: DEMO_AUTHOR_ID, displayName: DEMO_AUTHOR_NAME }).catch(() => undefined);
    await client.addSource({ authorId: DEMO_AUTHOR_ID, url: 'https://example.substack.com' });
    expect(await shouldOfferDemo(client)).toBe(false);
    const { sources } = await client.listSources({ authorId: DEMO_AUTHOR_ID });
    const own = sources.find((s) => s.url.startsWith('https://example.substack.com'))!;
    await client.removeSource({ id: own.id });
    expect(await shouldOfferDemo(client)).toBe(true);

    await client.createAuthor({ id: 'ada', displayName: 'Ada Lovelace' });
    expect(await shouldOfferDemo(client)).toBe(false);
  });
});
