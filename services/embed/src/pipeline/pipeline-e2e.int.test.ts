// The feature pipeline end to end, each service in its own process on the real backends: ingest crawls real
// saved pages served on loopback, clean, chunk and embed turn them into vectors in Weaviate. What it shows:
// every document's chunks are in the index, exactly as many as the chunker makes of its cleaned text, at its
// current version; an edit replaces a document's chunks; a removed page leaves none; and clean, chunk and
// embed killed with SIGKILL while a batch flows, then restarted, end with the exact counts, nothing lost and
// nothing duplicated.
//
// Kafka and Weaviate are private to this file: the consumer groups ('clean', 'chunk', 'embed') and the
// alias `chunks` are fixed names, one per cluster, so sharing them with other test files would mix their
// traffic into the lag and the counts. The warehouse is the shared FerretDB under a database of its own.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { chunkv1, cleanv1, embedv1, ingestv1, topics } from '@llmtwin/contracts';
import { type EventBus, type VectorStore } from '@llmtwin/ports';
import { createEventBus, createVectorStore } from '@llmtwin/ports/adapters';
import {
  poll,
  startKafka,
  startServiceProcess,
  startWeaviate,
  testBackendUrl,
  type BackendHandle,
  type ServiceProcess,
} from '@llmtwin/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { FixtureServer } from '../../../ingest/test/fixture-server.js';
import { committedFixtures } from '../../../ingest/test/fixture-paths.js';
import { LIVE_ALIAS } from '../domain/collections.js';

/** Saved pages served under their platform's path, each declaring its canonical URL. */
const pages = [
  [
    '/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb',
    'medium/mozilla-readability/test/test-pages/medium-1/source.html',
  ],
  [
    '/@ckirchoff/on-behalf-of-literally-429fab868ca8',
    'medium/mozilla-readability/test/test-pages/medium-2/source.html',
  ],
  [
    '/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1',
    'medium/mozilla-readability/test/test-pages/medium-3/source.html',
  ],
  ['/the-mtg-color-wheel-c9700a7cf36d', 'medium/postlight-parser/fixtures/medium.com--mtg.html'],
  [
    '/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1',
    'medium/postlight-parser/history-aa682d7/fixtures/medium.com/1485902752952.html',
  ],
  [
    '/p/a-model-that-produces-code-which',
    'substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html',
  ],
  [
    '/p/ilyas-30-papers-to-carmack-vlaes',
    'substack/kepano-defuddle/tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html',
  ],
  [
    '/pulse/what-set-your-soul-fire-2017-ellyn-shook',
    'linkedin/postlight-parser/history-2422e47/fixtures/www.linkedin.com/1485452542218.html',
  ],
  [
    '/pulse/using-dogs-overcome-shyness-bruce-kasanoff',
    'linkedin/postlight-parser/history-bb52de5/fixtures/www.linkedin.com/1480368940900.html',
  ],
] as const;

/** Copies of these pages (each under its own canonical URL) make the batch the kills land in. */
const batchSources = [
  [
    'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb',
    pages[0][1],
  ],
  ['https://medium.com/@ckirchoff/on-behalf-of-literally-429fab868ca8', pages[1][1]],
  ['https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes', pages[6][1]],
  ['https://www.linkedin.com/pulse/using-dogs-overcome-shyness-bruce-kasanoff', pages[8][1]],
] as const;
const BATCH = 24;
/** Batch pages are answered one per PACE_MS, so the batch flows for seconds and the kills land inside it. */
const PACE_MS = 300;
/** Raw payloads above 512 KiB travel without `raw`, and clean reads them from ingest (GetDocument). */
const LARGE_PATH = '/large/padded-article';

const GROUPS = [
  ['clean', topics.documentsRaw],
  ['chunk', topics.documentsCleaned],
  ['embed', topics.chunks],
] as const;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Expected {
  id: string;
  version: number;
  url: string;
  /** The chunker's texts for the document's cleaned text, in position order. */
  texts: string[];
}

describe('feature pipeline over real Kafka, FerretDB and Weaviate, services as processes', () => {
  const author = `e2e-${randomUUID().slice(0, 8)}`;
  const batchAuthor = `${author}-batch`;
  let kafka: BackendHandle;
  let weaviate: BackendHandle;
  let dataDir: string;
  let site: FixtureServer;
  let mongo: MongoClient;
  let db: Db;
  let bus: EventBus;
  let vectors: VectorStore;
  const procs = new Map<string, ServiceProcess>();
  let env: Record<string, string>;

  const transport = (name: string) => createGrpcTransport({ baseUrl: procs.get(name)!.url });
  const ingest = (): Client<typeof ingestv1.IngestService> =>
    createClient(ingestv1.IngestService, transport('ingest'));
  const clean = (): Client<typeof cleanv1.CleanService> =>
    createClient(cleanv1.CleanService, transport('clean'));
  const chunk = (): Client<typeof chunkv1.ChunkService> =>
    createClient(chunkv1.ChunkService, transport('chunk'));
  const embed = (): Client<typeof embedv1.EmbedService> =>
    createClient(embedv1.EmbedService, transport('embed'));

  const start = async (name: 'clean' | 'chunk' | 'embed') => {
    const extra: Record<string, string> =
      name === 'clean'
        ? { LLMTWIN_INGEST_URL: procs.get('ingest')!.url }
        : name === 'embed'
          ? { LLMTWIN_CLEAN_URL: procs.get('clean')!.url }
          : {};
    procs.set(name, await startServiceProcess(name, { ...env, ...extra }, 120_000));
  };

  /** Crawls each URL as its own job and waits for every job to end; returns the jobs. */
  async function crawl(authorId: string, urls: readonly string[], timeoutMs = 120_000) {
    const ids: string[] = [];
    for (const url of urls) {
      const { job } = await ingest().crawlNow({ authorId, target: { case: 'url', value: url } });
      ids.push(job!.id);
    }
    return poll(
      async () => {
        const jobs = await Promise.all(ids.map(async (id) => (await ingest().getCrawlJob({ id })).job!));
        const running = [ingestv1.CrawlJobState.QUEUED, ingestv1.CrawlJobState.RUNNING];
        return jobs.every((j) => !running.includes(j.state)) ? jobs : undefined;
      },
      { what: 'the crawl jobs to end', timeoutMs, intervalMs: 200 },
    );
  }

  async function rawDocuments(authorId: string) {
    const res = await ingest().listDocuments({ authorId, includeTombstones: true, page: { pageSize: 500 } });
    return res.documents;
  }

  /** Every consumer group has committed everything on its topic (checked upstream first). */
  async function lagsAreZero(): Promise<boolean> {
    for (const [group, topic] of GROUPS) {
      if ((await bus.lag(group, topic)) !== 0) return false;
    }
    return true;
  }

  /**
   * Waits until embed has applied exactly the versions ingest holds for these documents, no service has
   * an unpublished change left, and every group's lag is 0.
   */
  async function settle(docs: readonly { id: string; version: bigint }[], timeoutMs = 150_000) {
    const want = new Map(docs.map((d) => [d.id, Number(d.version)]));
    await poll(
      async () => {
        const applied = await db
          .collection<{ _id: string; version: number; pending: boolean }>('embed_documents')
          .find({ _id: { $in: [...want.keys()] } })
          .toArray();
        const done =
          applied.length === want.size && applied.every((r) => !r.pending && r.version === want.get(r._id));
        if (!done) return undefined;
        const unpublished =
          (await db.collection('raw_documents').countDocuments({ 'outbox.pending': true })) +
          (await db.collection('cleaned_documents').countDocuments({ 'outbox.pending': true })) +
          (await db.collection('chunk_documents').countDocuments({ pending: true })) +
          (await db.collection('embed_documents').countDocuments({ pending: true }));
        if (unpublished > 0) return undefined;
        return (await lagsAreZero()) ? true : undefined;
      },
      { what: 'the pipeline to settle', timeoutMs, intervalMs: 200 },
    );
  }

  /** What the index must hold for a live document: the chunker's output for its cleaned text. */
  async function expectedOf(id: string): Promise<Expected> {
    const { document } = await clean().getCleanedDocument({ documentId: id });
    expect(document!.tombstone).toBe(false);
    expect(document!.text.length).toBeGreaterThan(200);
    const { chunks } = await chunk().previewChunks({
      category: document!.category,
      text: document!.text,
      language: document!.language,
    });
    return {
      id,
      version: Number(document!.ref!.version),
      url: document!.canonicalUrl,
      texts: chunks.map((c) => c.text),
    };
  }

  /** The index holds exactly the expected chunks of the document: its version, each position once. */
  async function expectIndexed(e: Expected): Promise<void> {
    expect(e.texts.length).toBeGreaterThan(0);
    expect([e.url, await vectors.count(LIVE_ALIAS, { documentIds: [e.id] })]).toEqual([
      e.url,
      e.texts.length,
    ]);
    const { chunks } = await embed().searchChunks({
      query: 'what is this article about',
      mode: embedv1.SearchMode.DENSE,
      limit: 200,
      filter: { documentIds: [e.id] },
    });
    const ids = chunks.map((c) => c.chunkId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(chunks.map((c) => Number(c.ref!.version))).toEqual(chunks.map(() => e.version));
    const records = await vectors.get(LIVE_ALIAS, ids);
    const byPosition = records.map((r) => [r.metadata.position, r.text] as const).sort((a, b) => a[0] - b[0]);
    expect(byPosition).toEqual(e.texts.map((text, position) => [position, text]));
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pipeline-e2e-'));
    [kafka, weaviate] = await Promise.all([startKafka(), startWeaviate()]);
    const mongoUrl = new URL(testBackendUrl('mongodb'));
    mongoUrl.pathname = `/pipeline_e2e_${randomUUID().slice(0, 8)}`;
    mongo = new MongoClient(mongoUrl.href);
    db = mongo.db();
    bus = createEventBus(kafka.url);
    vectors = await createVectorStore(weaviate.url);

    site = await FixtureServer.start();
    for (const [path, file] of pages) {
      site.route(path, { file: join(committedFixtures, file), contentType: 'text/html; charset=utf-8' });
    }
    // A real page padded past the event's payload limit with a comment (invisible to extraction).
    const padded = (await readFile(join(committedFixtures, pages[2][1]), 'utf8'))
      .replaceAll(
        'https://medium.com/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1',
        'https://medium.com/@johncwelch/samantha-large-copy',
      )
      .replace('</body>', `<!-- ${'padding '.repeat(80_000)} --></body>`);
    expect(Buffer.byteLength(padded)).toBeGreaterThan(600 * 1024);
    site.route(LARGE_PATH, { body: padded, contentType: 'text/html; charset=utf-8' });

    let next = Date.now();
    const paced = async () => {
      next = Math.max(next + PACE_MS, Date.now());
      await delay(next - Date.now());
    };
    for (let n = 0; n < BATCH; n++) {
      const [canonical, file] = batchSources[n % batchSources.length]!;
      const html = (await readFile(join(committedFixtures, file), 'utf8')).replaceAll(
        canonical,
        `${canonical}-batch-${n}`,
      );
      site.route(`/batch/${n}`, async () => {
        await paced();
        return { body: html, contentType: 'text/html; charset=utf-8' };
      });
    }

    env = {
      LLMTWIN_WAREHOUSE_URL: mongoUrl.href,
      LLMTWIN_EVENT_BUS_URL: kafka.url,
      LLMTWIN_VECTOR_STORE_URL: weaviate.url,
      LLMTWIN_CRAWL_ALLOW: '127.0.0.1/32',
      LLMTWIN_DATA_DIR: dataDir,
    };
    procs.set('ingest', await startServiceProcess('ingest', env, 120_000));
    await start('clean');
    await Promise.all([start('chunk'), start('embed')]);
    await ingest().createAuthor({ id: author, displayName: 'Pipeline E2E' });
    await ingest().createAuthor({ id: batchAuthor, displayName: 'Pipeline E2E batch' });
  }, 240_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await site?.close();
    await bus?.close();
    await vectors?.close();
    await db?.dropDatabase().catch(() => undefined);
    await mongo?.close();
    await Promise.all([kafka?.dispose(), weaviate?.dispose()]);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('indexes every chunk of every crawled page, as many as the chunker makes of its cleaned text', async () => {
    const jobs = await crawl(author, [...pages.map(([path]) => site.at(path)), site.at(LARGE_PATH)]);
    expect(jobs.map((j) => [j.url, j.state, j.errors])).toEqual(
      jobs.map((j) => [j.url, ingestv1.CrawlJobState.SUCCEEDED, []]),
    );
    const docs = await rawDocuments(author);
    expect(docs).toHaveLength(pages.length + 1);
    await settle(docs);

    let total = 0;
    for (const doc of docs) {
      const expected = await expectedOf(doc.id);
      expect(expected.version).toBe(1);
      await expectIndexed(expected);
      total += expected.texts.length;
    }
    expect(await vectors.count(LIVE_ALIAS)).toBe(total);
    // The large payload went through GetDocument and was cleaned like its small twin.
    const [large, small] = ['samantha-large-copy', 'samantha-and-the-great-big-lie-d146a92473a1'].map(
      (slug) => docs.find((d) => d.canonicalUrl.endsWith(slug))!,
    );
    const texts = await Promise.all(
      [large!, small!].map(
        async (d) => (await clean().getCleanedDocument({ documentId: d.id })).document!.text,
      ),
    );
    expect(texts[0]).toBe(texts[1]);
  }, 240_000);

  it('replaces the chunks of an edited page with those of its new version', async () => {
    const [path, file] = pages[1];
    const [before] = (await rawDocuments(author)).filter((d) => d.canonicalUrl.endsWith(path));
    const html = await readFile(join(committedFixtures, file), 'utf8');
    const added = 'An update from the author: the pipeline keeps this sentence searchable after the edit.';
    // Inside the article: a paragraph appended after it would rightly be dropped by main-content extraction.
    const anchor = 'Which is terribly, horribly wrong.</p>';
    expect(html).toContain(anchor);
    site.replace(path, html.replace(anchor, `${anchor}<p class="graf--p">${added}</p>`));

    const [job] = await crawl(author, [site.at(path)]);
    expect([job!.state, job!.documentsUpdated]).toEqual([ingestv1.CrawlJobState.SUCCEEDED, 1n]);
    const docs = await rawDocuments(author);
    const after = docs.find((d) => d.id === before!.id)!;
    expect(after.version).toBe(before!.version + 1n);
    await settle(docs);

    const expected = await expectedOf(after.id);
    expect(expected.version).toBe(2);
    expect(expected.texts.join('\n')).toContain(added);
    await expectIndexed(expected);
    expect(await vectors.count(LIVE_ALIAS, { documentIds: [after.id], documentVersionBelow: 2 })).toBe(0);
  }, 120_000);

  it('removes every chunk of a page that is gone', async () => {
    const [path] = pages[0];
    const [doc] = (await rawDocuments(author)).filter((d) => d.canonicalUrl.endsWith(path));
    expect(await vectors.count(LIVE_ALIAS, { documentIds: [doc!.id] })).toBeGreaterThan(0);
    site.remove(path);

    const [job] = await crawl(author, [site.at(path)]);
    expect([job!.state, job!.documentsTombstoned]).toEqual([ingestv1.CrawlJobState.SUCCEEDED, 1n]);
    const docs = await rawDocuments(author);
    expect(docs.find((d) => d.id === doc!.id)).toMatchObject({ tombstone: true, version: doc!.version + 1n });
    await settle(docs);

    expect((await clean().getCleanedDocument({ documentId: doc!.id })).document).toMatchObject({
      tombstone: true,
      text: '',
    });
    expect(await vectors.count(LIVE_ALIAS, { documentIds: [doc!.id] })).toBe(0);
    const { chunks } = await embed().searchChunks({
      query: 'journalism students',
      mode: embedv1.SearchMode.HYBRID,
      limit: 50,
      filter: { documentIds: [doc!.id] },
    });
    expect(chunks).toEqual([]);
  }, 120_000);

  it('ends with exact counts after clean, chunk and embed are killed mid-stream and restarted', async () => {
    const liveBefore = (await rawDocuments(author)).filter((d) => !d.tombstone);
    const applied = () => db.collection('embed_documents').countDocuments();
    const appliedBefore = await applied();
    const cleanedOfBatch = () => db.collection('cleaned_documents').countDocuments({ authorId: batchAuthor });

    const urls = Array.from({ length: BATCH }, (_, n) => site.at(`/batch/${n}`));
    const crawled = crawl(batchAuthor, urls, 180_000);
    // A few of the batch went all the way through: every service has had its share and more is coming.
    await poll(async () => (await applied()) >= appliedBefore + 3, {
      what: 'the batch to reach embed',
      timeoutMs: 120_000,
      intervalMs: 200,
    });

    const cleanedAtKill = await cleanedOfBatch();
    for (const name of ['clean', 'chunk', 'embed'] as const) {
      expect(await procs.get(name)!.stop('SIGKILL')).toBeNull();
    }
    // The kills landed while the batch flowed: clean had not seen all of it.
    expect(cleanedAtKill).toBeLessThan(BATCH);
    // Embed is given the new clean's address, so clean comes back first.
    await start('clean');
    await Promise.all([start('chunk'), start('embed')]);

    const jobs = await crawled;
    expect(jobs.map((j) => j.state)).toEqual(jobs.map(() => ingestv1.CrawlJobState.SUCCEEDED));
    const batch = await rawDocuments(batchAuthor);
    expect(batch).toHaveLength(BATCH);
    expect(await cleanedOfBatch()).toBeLessThanOrEqual(BATCH);
    await settle([...liveBefore, ...batch], 180_000);

    let total = 0;
    for (const doc of [...liveBefore, ...batch]) {
      const expected = await expectedOf(doc.id);
      await expectIndexed(expected);
      total += expected.texts.length;
    }
    // Nothing else in the index: no leftover versions, no chunk written twice under another id.
    expect(await vectors.count(LIVE_ALIAS)).toBe(total);
    expect(await cleanedOfBatch()).toBe(BATCH);
    expect(await db.collection('chunk_documents').countDocuments()).toBe(liveBefore.length + 1 + BATCH);
    expect(await applied()).toBe(liveBefore.length + 1 + BATCH);
  }, 300_000);
});
