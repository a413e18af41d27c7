// Saved pages: real pages from the committed fixtures, zipped here with the manifest that names the address
// each was saved from, imported through the same entry point as platform exports and checked against the
// values the fixture sets' own expected data give; then the same archive through the ingest module twice.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { commonv1, ingestv1, topics } from '@llmtwin/contracts';
import type { ServiceModule } from '@llmtwin/host';
import { type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger, isDomainError } from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import { fixtureBytes, fixtureJson, fixtureText } from '../../../test/fixture-paths.js';
import { createIngestModule } from '../../module.js';
import type { ArchiveReader } from './archive.js';
import { detectExportKind, importArchive } from './import-archive.js';
import { MAX_SAVED_PAGE_BYTES } from './saved-pages.js';
import { writeZip, type ZipFileEntry } from './zip-writer.js';

// Postlight Parser's asserted values for its saved Medium page (a publication on its own domain).
const MEDIUM_FILE = 'medium/postlight-parser/fixtures/medium.com.html';
const postlight = fixtureJson<
  Record<string, { url: string; title: string; author: string; date_published: string }>
>('medium/postlight-parser/expected.json')['fixtures/medium.com.html']!;

// defuddle's expected Markdown for the Substack post on a custom domain opens with a JSON block.
const VLAE_FILE =
  'substack/kepano-defuddle/tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html';
const VLAE_URL = 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes';
const defuddle = JSON.parse(
  /```json\n([\s\S]*?)\n```/.exec(
    fixtureText(
      'substack/kepano-defuddle/tests/expected/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.md',
    ),
  )![1]!,
) as { title: string; author: string; published: string };

const medium = fixtureBytes(MEDIUM_FILE);
const vlae = fixtureBytes(VLAE_FILE);

const manifest = (pages: unknown[]): ZipFileEntry => ({
  name: 'pages.json',
  data: JSON.stringify({ pages }),
});

const zip = async (entries: ZipFileEntry[]) => ({
  bytes: await writeZip(entries),
  fileName: 'saved.zip',
});

const iso = (d: ExtractedDocument) => (d.publishedAt === null ? null : new Date(d.publishedAt).toISOString());

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(isDomainError(err, 'invalid-argument')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected the import to be refused');
}

describe('saved pages archives', () => {
  it('extracts each listed page as the crawler would, reports a missing one and never opens the rest', async () => {
    let reader: ArchiveReader | undefined;
    const progress: string[] = [];
    const result = await importArchive(
      await zip([
        manifest([
          { file: 'pages/wtf.html', url: postlight.url },
          { file: './pages/vlae.html', url: VLAE_URL },
          { file: 'pages/gone.html', url: 'https://example.com/gone' },
        ]),
        { name: 'pages/wtf.html', data: medium },
        { name: 'pages/vlae.html', data: vlae },
        { name: 'notes/private.txt', data: 'not for the twin' },
      ]),
      { onOpened: (r) => (reader = r), onProgress: (p) => progress.push(`${p.done}/${p.total}`) },
    );
    expect(result.kind).toBe('saved-pages');
    expect(result.documents).toHaveLength(2);

    const [wtf, paper] = result.documents;
    expect(wtf).toMatchObject({
      title: postlight.title,
      author: postlight.author,
      // The page's rel=canonical outranks the address it was saved from, as for a crawled page.
      canonicalUrl: 'https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573',
      category: 'article',
      platform: 'medium',
      draft: false,
      rawContentType: 'text/html; charset=utf-8',
    });
    expect(iso(wtf!)).toBe(postlight.date_published);
    expect(Buffer.from(wtf!.raw).equals(Buffer.from(medium))).toBe(true);

    expect(paper).toMatchObject({
      title: defuddle.title,
      author: defuddle.author,
      canonicalUrl: VLAE_URL,
      category: 'article',
      // A Substack custom domain, recognised by the page's own markers.
      platform: 'substack',
      draft: false,
    });
    expect(iso(paper!)).toBe(new Date(defuddle.published).toISOString());

    expect(result.errors).toEqual([
      { item: 'pages/gone.html', message: 'listed in pages.json but not in the archive' },
    ]);
    expect(reader!.opened).toEqual(['pages.json', 'pages/wtf.html', 'pages/vlae.html']);
    expect(result.skipped).toEqual(['notes/private.txt: not listed in pages.json']);
    expect(progress).toEqual(['1/3', '2/3', '3/3']);
  });

  it('reports each bad manifest entry on its own and imports the good one', async () => {
    const big = Buffer.alloc(MAX_SAVED_PAGE_BYTES + 1, ' ');
    const result = await importArchive(
      await zip([
        manifest([
          { file: '../outside.html', url: 'https://example.com/a' },
          { file: 'pages/vlae.html' },
          { file: 'pages/vlae.html', url: 'ftp://example.com/vlae' },
          'pages/vlae.html',
          { file: 'pages/big.html', url: 'https://example.com/big' },
          { file: 'pages/vlae.html', url: VLAE_URL },
          // The same page under another address: its canonical link makes it the same document.
          {
            file: 'pages/vlae-again.html',
            url: 'https://theahura.substack.com/p/ilyas-30-papers-to-carmack-vlaes',
          },
        ]),
        { name: 'pages/vlae.html', data: vlae },
        { name: 'pages/vlae-again.html', data: vlae },
        // Stored: deflated, a page of spaces would be refused as a zip bomb before its size is looked at.
        { name: 'pages/big.html', data: big, store: true },
      ]),
    );
    expect(result.documents.map((d) => d.canonicalUrl)).toEqual([VLAE_URL]);
    expect(result.errors.map((e) => e.item)).toEqual([
      'pages.json#0',
      'pages/vlae.html',
      'pages/vlae.html',
      'pages.json#3',
      'pages/big.html',
      'pages/vlae-again.html',
    ]);
    const messages = result.errors.map((e) => e.message);
    expect(messages[0]).toMatch(/climbs out of the archive with "\.\."/);
    expect(messages[1]).toMatch(
      /"url" of pages\/vlae\.html is missing: give the address the page was saved from/,
    );
    expect(messages[2]).toMatch(/must be http\(s\), not ftp:/);
    expect(messages[3]).toMatch(/must be an object with "file" and "url"/);
    expect(messages[4]).toBe(
      `the page is ${MAX_SAVED_PAGE_BYTES + 1} bytes, over the ${MAX_SAVED_PAGE_BYTES} bytes a crawled page may have`,
    );
    expect(messages[5]).toBe(`same canonical URL ${VLAE_URL} as pages/vlae.html, which was kept`);
  });

  it('finds the manifest in the one folder a zipped folder holds, and paths stay relative to it', async () => {
    const result = await importArchive(
      await zip([
        { name: 'saved/pages.json', data: JSON.stringify({ pages: [{ file: 'vlae.html', url: VLAE_URL }] }) },
        { name: 'saved/vlae.html', data: vlae },
      ]),
    );
    expect(result.kind).toBe('saved-pages');
    expect(result.errors).toEqual([]);
    expect(result.documents.map((d) => d.title)).toEqual([defuddle.title]);
  });

  it('recognises the manifest before any platform layout and refuses an unreadable one as a whole', async () => {
    expect(detectExportKind(['pages.json', 'posts/a.html', 'posts.csv'])).toBe('saved-pages');
    expect(detectExportKind(['a/pages.json', 'b/pages.json'])).toBeNull();
    expect(detectExportKind(['a/b/pages.json'])).toBeNull();
    expect(await refusal(importArchive(await zip([{ name: 'pages.json', data: '{"pages": [' }])))).toMatch(
      /^pages\.json is not valid JSON \(.+\): expected \{"pages": \[\{"file"/,
    );
    expect(await refusal(importArchive(await zip([{ name: 'pages.json', data: '[]' }])))).toMatch(
      /^pages\.json has no "pages" array/,
    );
    expect(await refusal(importArchive(await zip([{ name: 'readme.txt', data: 'hello' }])))).toMatch(
      /nor saved pages: .* or a pages\.json that lists saved pages with their URLs/,
    );
  });
});

describe('saved pages through the ingest module', () => {
  let root: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let module: ServiceModule;
  let client: Client<typeof ingestv1.IngestService>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ingest-saved-pages-'));
    warehouse = await createWarehouse(`sqlite:${join(root, 'warehouse.db')}`);
    bus = createEventBus(`log:${join(root, 'events.db')}`);
    module = await createIngestModule({
      warehouse,
      eventBus: bus,
      logger: createLogger('saved-pages-test', { level: 'silent' }),
      dataDir: join(root, 'data'),
      schedulerTickMs: 3_600_000,
      outboxSweepMs: 3_600_000,
    });
    await module.start?.();
    client = createClient(
      ingestv1.IngestService,
      createRouterTransport((router) => module.register(router)),
    );
  });

  afterAll(async () => {
    await module?.stop?.();
    await bus?.close();
    await warehouse?.close();
    await rm(root, { recursive: true, force: true });
  });

  async function finished(jobId: string): Promise<ingestv1.CrawlJob> {
    const { job } = await poll(() => client.getCrawlJob({ id: jobId }), {
      what: `import job ${jobId} to end`,
      timeoutMs: 30_000,
      intervalMs: 25,
      until: (res) =>
        res.job!.state !== ingestv1.CrawlJobState.QUEUED && res.job!.state !== ingestv1.CrawlJobState.RUNNING,
    });
    return job!;
  }

  const importOnce = async (content: Uint8Array) => {
    const { job } = await client.importArchive({ authorId: 'ada', fileName: 'saved.zip', content });
    return finished(job!.id);
  };

  const stored = async () =>
    (
      await warehouse.collection('raw_documents').find({}, { sort: [{ field: '_id', direction: 'asc' }] })
    ).map((r) => ({ ...r, raw: Buffer.from(r['raw'] as Uint8Array).toString('base64') }));

  it('stores each page once with one event, and importing again changes nothing', async () => {
    await client.createAuthor({ id: 'ada', displayName: 'Ada Lovelace' });
    const content = await writeZip([
      manifest([
        { file: 'wtf.html', url: postlight.url },
        { file: 'vlae.html', url: VLAE_URL },
      ]),
      { name: 'wtf.html', data: medium },
      { name: 'vlae.html', data: vlae },
    ]);

    const first = await importOnce(content);
    expect(first.errors).toEqual([]);
    expect(first.state).toBe(ingestv1.CrawlJobState.SUCCEEDED);
    expect(first.documentsCreated).toBe(2n);
    const { documents } = await client.listDocuments({ authorId: 'ada' });
    expect(documents.map((d) => [d.title, d.canonicalUrl, d.platform, d.category]).sort()).toEqual(
      [
        [defuddle.title, VLAE_URL, commonv1.Platform.SUBSTACK, commonv1.Category.ARTICLE],
        [
          postlight.title,
          'https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573',
          commonv1.Platform.MEDIUM,
          commonv1.Category.ARTICLE,
        ],
      ].sort(),
    );
    const before = { docs: await stored(), events: (await bus.read(topics.documentsRaw)).length };
    expect(before.events).toBe(2);

    const again = await importOnce(content);
    expect(again.state).toBe(ingestv1.CrawlJobState.SUCCEEDED);
    expect([again.documentsCreated, again.documentsUpdated, again.documentsUnchanged]).toEqual([0n, 0n, 2n]);
    expect(await stored()).toEqual(before.docs);
    expect((await bus.read(topics.documentsRaw)).length).toBe(before.events);
  });

  it('turns a page that cannot be imported into an error of the job, not a failed import', async () => {
    const job = await importOnce(
      await writeZip([
        manifest([
          { file: 'vlae.html', url: VLAE_URL },
          { file: 'gone.html', url: 'https://example.com/gone' },
        ]),
        { name: 'vlae.html', data: vlae },
      ]),
    );
    expect(job.state).toBe(ingestv1.CrawlJobState.PARTIAL);
    expect(job.documentsUnchanged).toBe(1n);
    expect(job.errors.map((e) => [e.url, e.message])).toEqual([
      ['archive:saved.zip#gone.html', 'listed in pages.json but not in the archive'],
    ]);
  });
});
