// Every IngestService RPC through an in-memory Connect transport (createRouterTransport over the module's own
// registration, with the error interceptor the hosts use), on the embedded warehouse and event log. The
// network is replaced by a scripted crawler (a FAKE, named as such) that answers each crawl target with fixed
// documents; page extraction is the real parser over a committed saved page. Each RPC shows one real outcome
// and at least one bad request answered with the right code and a message that says what to fix.
import { create } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Code, type Client } from '@connectrpc/connect';
import { commonv1, ingesteventsv1, ingestv1, topics } from '@llmtwin/contracts';
import { decodeEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createLogger } from '@llmtwin/runtime';
import { openEmbeddedStorage, rejection, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CrawlItem, Crawler, CrawlTarget } from '../domain/crawl-jobs.js';
import type { ExtractedDocument } from '../domain/extracted-document.js';
import { createIngestModule } from '../module.js';
import { buildZip } from '../adapters/import/zip-writer.fixture.js';

const logger = createLogger('ingest-routes-test', { level: 'silent' });
const MAX_ARCHIVE_BYTES = 1024;
/** A committed saved Medium page (services/ingest/test/fixtures) and what Readability read from it. */
const SAVED_PAGE = fileURLToPath(
  new URL('../../test/fixtures/medium/mozilla-readability/test/test-pages/medium-1/', import.meta.url),
);

/**
 * FAKE crawler: stands in for the network. A profile lists two posts under its URL, a single URL is one
 * page, an archive is one document named after the saved upload's size (and the saved bytes are kept).
 */
class ScriptedCrawlerFake implements Crawler {
  readonly targets: CrawlTarget[] = [];
  readonly archives: Uint8Array[] = [];

  completeListing(target: CrawlTarget): boolean {
    return target.kind === 'profile';
  }

  async *crawl(target: CrawlTarget): AsyncIterable<CrawlItem> {
    this.targets.push(target);
    const doc = (url: string, category: ExtractedDocument['category'], body: string): CrawlItem => ({
      type: 'document',
      document: {
        category,
        platform: 'substack',
        canonicalUrl: url,
        title: `Title of ${url}`,
        author: 'Ada',
        publishedAt: Date.parse('2024-05-01T00:00:00Z'),
        draft: false,
        raw: new TextEncoder().encode(body),
        rawContentType: 'text/html; charset=utf-8',
      },
    });
    if (target.kind === 'profile') {
      yield { type: 'total', count: 2 };
      yield doc(new URL('p/first', target.url).href, 'article', '<p>first article</p>');
      yield doc(new URL('p/second', target.url).href, 'post', '<p>second post</p>');
    } else if (target.kind === 'archive') {
      const bytes = new Uint8Array(await readFile(target.archivePath!));
      this.archives.push(bytes);
      yield doc(`https://ada.substack.com/p/archived-${bytes.byteLength}`, 'article', '<p>archived</p>');
    } else {
      yield doc(target.url, 'post', `<p>page at ${target.url}</p>`);
    }
  }
}

describe('IngestService routes over an in-memory transport', () => {
  let storage: EmbeddedStorage | undefined;
  let warehouse: Warehouse;
  let bus: EventBus;
  let crawler: ScriptedCrawlerFake;
  let client: Client<typeof ingestv1.IngestService>;

  beforeAll(async () => {
    storage = await openEmbeddedStorage('ingest-routes-');
    ({ warehouse, bus } = storage);
    crawler = new ScriptedCrawlerFake();
    const module = await createIngestModule({
      warehouse,
      eventBus: bus,
      logger,
      crawler,
      dataDir: path.join(storage!.root, 'data'),
      maxArchiveBytes: MAX_ARCHIVE_BYTES,
      schedulerTickMs: 3_600_000,
      outboxSweepMs: 3_600_000,
    });
    client = routesClient(ingestv1.IngestService, module, logger);
  });

  afterAll(async () => {
    await storage?.close();
  });

  const uploadArea = () => path.join(storage!.root, 'data', 'ingest-archives');

  /** Polls GetCrawlJob until the job left the queue (no time limit of its own: jest's applies). */
  async function finished(id: string): Promise<ingestv1.CrawlJob> {
    for (;;) {
      const { job } = await client.getCrawlJob({ id });
      if (job!.state !== ingestv1.CrawlJobState.QUEUED && job!.state !== ingestv1.CrawlJobState.RUNNING)
        return job!;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** An author with one crawled profile source (two documents). */
  async function crawledAuthor(id: string) {
    await client.createAuthor({ id, displayName: id });
    const { source } = await client.addSource({ authorId: id, url: `https://${id}.substack.com/` });
    const { job } = await client.crawlNow({ target: { case: 'sourceId', value: source!.id } });
    const done = await finished(job!.id);
    expect(done.state).toBe(ingestv1.CrawlJobState.SUCCEEDED);
    const { documents } = await client.listDocuments({ authorId: id });
    expect(documents).toHaveLength(2);
    return { source: source!, job: done, documents };
  }

  it('CreateAuthor creates an author (id from the name when none is given) and refuses invalid or taken ids', async () => {
    const { author } = await client.createAuthor({
      displayName: '  Grace Hopper ',
      aliases: ['grace', ' grace ', 'amazing-grace'],
    });
    expect(author).toMatchObject({ id: 'grace-hopper', displayName: 'Grace Hopper' });
    expect(author!.aliases).toEqual(['grace', 'amazing-grace']);

    const invalid = await rejection(client.createAuthor({ id: 'Not Valid!', displayName: '' }));
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.rawMessage).toMatch(/display_name: must not be empty/);
    expect(invalid.rawMessage).toMatch(/id: lowercase letters, digits and "-"/);

    const taken = await rejection(client.createAuthor({ id: 'grace-hopper', displayName: 'Another' }));
    expect(taken.code).toBe(Code.AlreadyExists);
    expect(taken.rawMessage).toMatch(/already exists: choose another id/);
  });

  it('GetAuthor returns a stored author and answers NotFound for an unknown one', async () => {
    await client.createAuthor({ id: 'get-me', displayName: 'Get Me', aliases: ['gm'] });
    const { author } = await client.getAuthor({ id: 'get-me' });
    expect(author).toMatchObject({ id: 'get-me', displayName: 'Get Me', aliases: ['gm'] });
    expect(author!.createTime).toBeDefined();

    const missing = await rejection(client.getAuthor({ id: 'nobody' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toMatch(/author "nobody" does not exist: create it first/);
  });

  it('ListAuthors pages through authors in id order and refuses a forged page token', async () => {
    for (const id of ['list-a', 'list-b', 'list-c']) await client.createAuthor({ id, displayName: id });
    const ids: string[] = [];
    let pageToken = '';
    do {
      const res = await client.listAuthors({ page: { pageSize: 2, pageToken } });
      expect(res.authors.length).toBeLessThanOrEqual(2);
      ids.push(...res.authors.map((a) => a.id));
      pageToken = res.page!.nextPageToken;
    } while (pageToken);
    expect(ids.filter((id) => id.startsWith('list-'))).toEqual(['list-a', 'list-b', 'list-c']);
    expect([...ids].sort()).toEqual(ids);

    const forged = await rejection(client.listAuthors({ page: { pageToken: 'not a token' } }));
    expect(forged.code).toBe(Code.InvalidArgument);
    expect(forged.rawMessage).toMatch(/page_token is not a token this service returned: start again/);
  });

  it('AddSource infers platform and kind from the URL and refuses bad URLs, intervals and unknown authors', async () => {
    await client.createAuthor({ id: 'sources', displayName: 'Sources' });
    const profile = await client.addSource({
      authorId: 'sources',
      url: 'https://sources.substack.com/#about',
      scheduleIntervalSeconds: 3600n,
    });
    expect(profile.source).toMatchObject({
      authorId: 'sources',
      url: 'https://sources.substack.com/',
      kind: ingestv1.SourceKind.PROFILE,
      platform: commonv1.Platform.SUBSTACK,
      scheduleIntervalSeconds: 3600n,
    });
    expect(profile.source!.nextCrawlTime).toBeDefined();
    const repo = await client.addSource({ authorId: 'sources', url: 'https://github.com/ada/engine' });
    expect(repo.source).toMatchObject({
      kind: ingestv1.SourceKind.REPOSITORY,
      platform: commonv1.Platform.GITHUB,
    });

    const ftp = await rejection(client.addSource({ authorId: 'sources', url: 'ftp://example.com/x' }));
    expect(ftp.code).toBe(Code.InvalidArgument);
    expect(ftp.rawMessage).toMatch(/url must use http or https, not ftp:/);
    const relative = await rejection(client.addSource({ authorId: 'sources', url: '/just/a/path' }));
    expect(relative.code).toBe(Code.InvalidArgument);
    expect(relative.rawMessage).toMatch(/not an absolute URL: give one like https:\/\//);
    const often = await rejection(
      client.addSource({ authorId: 'sources', url: 'https://x.example/', scheduleIntervalSeconds: 5n }),
    );
    expect(often.code).toBe(Code.InvalidArgument);
    expect(often.rawMessage).toMatch(/schedule_interval_seconds must be 0 \(no schedule\) or at least 60/);
    const twice = await rejection(
      client.addSource({ authorId: 'sources', url: 'https://github.com/ada/engine' }),
    );
    expect(twice.code).toBe(Code.AlreadyExists);
    const orphan = await rejection(client.addSource({ authorId: 'ghost', url: 'https://x.example/' }));
    expect(orphan.code).toBe(Code.NotFound);
    expect(orphan.rawMessage).toMatch(/create it first/);
  });

  it("ListSources lists one author's sources and refuses a negative page size", async () => {
    await client.createAuthor({ id: 'lister', displayName: 'Lister' });
    await client.createAuthor({ id: 'other-lister', displayName: 'Other' });
    await client.addSource({ authorId: 'lister', url: 'https://lister.substack.com/' });
    await client.addSource({ authorId: 'lister', url: 'https://medium.com/@lister' });
    await client.addSource({ authorId: 'other-lister', url: 'https://medium.com/@other' });
    const { sources } = await client.listSources({ authorId: 'lister' });
    expect(sources.map((s) => s.url).sort()).toEqual([
      'https://lister.substack.com/',
      'https://medium.com/@lister',
    ]);
    expect(new Set(sources.map((s) => s.authorId))).toEqual(new Set(['lister']));

    const negative = await rejection(client.listSources({ authorId: 'lister', page: { pageSize: -1 } }));
    expect(negative.code).toBe(Code.InvalidArgument);
    expect(negative.rawMessage).toMatch(/page_size must not be negative/);
  });

  it('RemoveSource removes a source, tombstones its documents when asked, and answers NotFound for an unknown one', async () => {
    const { source, documents } = await crawledAuthor('remover');
    await client.removeSource({ id: source.id, purgeDocuments: true });
    expect((await client.listSources({ authorId: 'remover' })).sources).toEqual([]);
    expect((await client.listDocuments({ authorId: 'remover' })).documents).toEqual([]);
    for (const d of documents) {
      const { document } = await client.getDocument({ id: d.id, omitRaw: true });
      expect(document).toMatchObject({ tombstone: true, version: d.version + 1n });
    }

    const again = await rejection(client.removeSource({ id: source.id }));
    expect(again.code).toBe(Code.NotFound);
    expect(again.rawMessage).toMatch(/source ".*" does not exist/);
  });

  it('CrawlNow crawls a source or one URL, and refuses a request that names neither or an unknown source', async () => {
    const { job, documents } = await crawledAuthor('crawler');
    expect(job).toMatchObject({
      authorId: 'crawler',
      url: 'https://crawler.substack.com/',
      itemsTotal: 2n,
      itemsDone: 2n,
      documentsCreated: 2n,
      errors: [],
    });
    expect(documents.map((d) => d.canonicalUrl).sort()).toEqual([
      'https://crawler.substack.com/p/first',
      'https://crawler.substack.com/p/second',
    ]);

    const one = await client.crawlNow({
      authorId: 'crawler',
      target: { case: 'url', value: 'https://crawler.example/notes/1#top' },
    });
    expect(one.job).toMatchObject({ sourceId: '', url: 'https://crawler.example/notes/1' });
    expect((await finished(one.job!.id)).documentsCreated).toBe(1n);
    expect(crawler.targets.at(-1)).toMatchObject({ kind: 'single-url', authorId: 'crawler' });

    const neither = await rejection(client.crawlNow({ authorId: 'crawler' }));
    expect(neither.code).toBe(Code.InvalidArgument);
    expect(neither.rawMessage).toMatch(/give either source_id or url \(with author_id\)/);
    const unknown = await rejection(client.crawlNow({ target: { case: 'sourceId', value: 'src_nope' } }));
    expect(unknown.code).toBe(Code.NotFound);
    const badUrl = await rejection(
      client.crawlNow({ authorId: 'crawler', target: { case: 'url', value: 'mailto:ada@example.com' } }),
    );
    expect(badUrl.code).toBe(Code.InvalidArgument);
    expect(badUrl.rawMessage).toMatch(/http or https/);
  });

  it('ImportArchive saves the upload and imports it as a job, and refuses empty, oversized or orphan archives', async () => {
    await client.createAuthor({ id: 'importer', displayName: 'Importer' });
    // A Medium-shaped export: the layout is checked before the job is queued.
    const content = buildZip([{ name: 'posts/2024-05-01_A-post-1a2b.html', data: '<article>x</article>' }]);
    const { job } = await client.importArchive({
      authorId: 'importer',
      fileName: '../my export (1).zip',
      content,
    });
    expect(job).toMatchObject({ authorId: 'importer', url: 'archive:.._my_export__1_.zip' });
    const done = await finished(job!.id);
    expect(done).toMatchObject({ state: ingestv1.CrawlJobState.SUCCEEDED, documentsCreated: 1n });
    expect(crawler.archives.at(-1)).toEqual(new Uint8Array(content));
    const saved = crawler.targets.at(-1)!.archivePath!;
    expect(path.dirname(saved)).toBe(uploadArea());

    // The export is a source of its own: listed, its documents carry it, and removing it with purge
    // tombstones them (what taints every dataset built from them).
    const { sources } = await client.listSources({ authorId: 'importer' });
    expect(sources).toHaveLength(1);
    expect(sources[0]).toMatchObject({
      kind: ingestv1.SourceKind.ARCHIVE,
      url: 'archive:.._my_export__1_.zip',
    });
    expect(done?.sourceId).toBe(sources[0]!.id);
    const { documents } = await client.listDocuments({ authorId: 'importer' });
    expect(documents.map((d) => d.sourceId)).toEqual([sources[0]!.id]);
    await client.removeSource({ id: sources[0]!.id, purgeDocuments: true });
    const after = await client.getDocument({ id: documents[0]!.id, omitRaw: true });
    expect(after.document?.tombstone).toBe(true);
    expect((await client.listSources({ authorId: 'importer' })).sources).toEqual([]);

    const empty = await rejection(client.importArchive({ authorId: 'importer', fileName: 'x.zip' }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toMatch(/content is empty: send the archive bytes/);
    const large = await rejection(
      client.importArchive({
        authorId: 'importer',
        fileName: 'x.zip',
        content: new Uint8Array(MAX_ARCHIVE_BYTES + 1),
      }),
    );
    expect(large.code).toBe(Code.InvalidArgument);
    expect(large.rawMessage).toMatch(
      `the archive is ${MAX_ARCHIVE_BYTES + 1} bytes, over the archive size limit of ${MAX_ARCHIVE_BYTES} ` +
        'bytes (set by LLMTWIN_INGEST_ARCHIVE_MAX_BYTES)',
    );
    const orphan = await rejection(client.importArchive({ authorId: 'ghost', content }));
    expect(orphan.code).toBe(Code.NotFound);
  });

  it('refuses an upload that is not an importable archive while the caller waits, and deletes it', async () => {
    await client.createAuthor({ id: 'refused', displayName: 'Refused' });
    const before = await readdir(uploadArea()).catch(() => []);
    const notZip = await rejection(
      client.importArchive({ authorId: 'refused', fileName: 'notes.zip', content: Buffer.from('PK? no') }),
    );
    expect(notZip.code).toBe(Code.InvalidArgument);
    expect(notZip.rawMessage).toMatch(/"notes.zip" is not a readable zip archive/);
    const unknown = await rejection(
      client.importArchive({
        authorId: 'refused',
        fileName: 'photos.zip',
        content: buildZip([{ name: 'IMG_0001.txt', data: 'x' }]),
      }),
    );
    expect(unknown.rawMessage).toMatch(/"photos.zip" is not a Medium, Substack or LinkedIn export/);
    expect(await readdir(uploadArea())).toEqual(before);
    expect((await client.listCrawlJobs({ authorId: 'refused' })).jobs).toEqual([]);
  });

  it('UploadArchive takes the archive as a header and chunks, and refuses a stream without a header', async () => {
    await client.createAuthor({ id: 'streamer', displayName: 'Streamer' });
    const content = buildZip([{ name: 'posts/2024-05-02_Streamed-3c4d.html', data: '<article>y</article>' }]);
    async function* parts(): AsyncIterable<ingestv1.UploadArchiveRequest> {
      yield create(ingestv1.UploadArchiveRequestSchema, {
        part: { case: 'header', value: { authorId: 'streamer', fileName: 'medium.zip' } },
      });
      // Chunks smaller than the archive: the upload area appends them in order.
      for (let i = 0; i < content.length; i += 7) {
        yield create(ingestv1.UploadArchiveRequestSchema, {
          part: { case: 'chunk', value: content.subarray(i, i + 7) },
        });
      }
    }
    const { job } = await client.uploadArchive(parts());
    expect(job).toMatchObject({ authorId: 'streamer', url: 'archive:medium.zip' });
    expect(await finished(job!.id)).toMatchObject({ state: ingestv1.CrawlJobState.SUCCEEDED });
    expect(crawler.archives.at(-1)).toEqual(new Uint8Array(content));

    async function* headless(): AsyncIterable<ingestv1.UploadArchiveRequest> {
      yield create(ingestv1.UploadArchiveRequestSchema, { part: { case: 'chunk', value: content } });
    }
    const noHeader = await rejection(client.uploadArchive(headless()));
    expect(noHeader.code).toBe(Code.InvalidArgument);
    expect(noHeader.rawMessage).toMatch(/the first message must be the header/);
  });

  it('GetCrawlJob returns the job with its progress and answers NotFound for an unknown id', async () => {
    const { job } = await crawledAuthor('job-getter');
    const { job: again } = await client.getCrawlJob({ id: job.id });
    expect(again).toMatchObject({
      id: job.id,
      state: ingestv1.CrawlJobState.SUCCEEDED,
      documentsCreated: 2n,
    });
    expect(again!.startTime).toBeDefined();
    expect(again!.endTime).toBeDefined();

    const missing = await rejection(client.getCrawlJob({ id: 'job_missing' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toMatch(/crawl job "job_missing" does not exist/);
  });

  it("ListCrawlJobs lists an author's or a source's jobs and refuses a forged page token", async () => {
    const { source, job } = await crawledAuthor('job-lister');
    const second = await client.crawlNow({ target: { case: 'sourceId', value: source.id } });
    await finished(second.job!.id);
    const byAuthor = await client.listCrawlJobs({ authorId: 'job-lister' });
    expect(byAuthor.jobs.map((j) => j.id).sort()).toEqual([job.id, second.job!.id].sort());
    const bySource = await client.listCrawlJobs({ sourceId: source.id, page: { pageSize: 1 } });
    expect(bySource.jobs).toHaveLength(1);
    const rest = await client.listCrawlJobs({
      sourceId: source.id,
      page: { pageSize: 1, pageToken: bySource.page!.nextPageToken },
    });
    expect([...bySource.jobs, ...rest.jobs].map((j) => j.id).sort()).toEqual([job.id, second.job!.id].sort());

    const forged = await rejection(client.listCrawlJobs({ page: { pageToken: '@@' } }));
    expect(forged.code).toBe(Code.InvalidArgument);
    expect(forged.rawMessage).toMatch(/start again without it/);
  });

  it('GetDocument returns a document with or without its raw bytes and answers NotFound for an unknown id', async () => {
    const { documents } = await crawledAuthor('doc-getter');
    const post = documents.find((d) => d.canonicalUrl.endsWith('/p/second'))!;
    const full = await client.getDocument({ id: post.id });
    expect(full.document).toMatchObject({
      id: post.id,
      authorId: 'doc-getter',
      category: commonv1.Category.POST,
      platform: commonv1.Platform.SUBSTACK,
      version: 1n,
      tombstone: false,
      rawContentType: 'text/html; charset=utf-8',
    });
    expect(new TextDecoder().decode(full.document!.raw)).toBe('<p>second post</p>');
    const bare = await client.getDocument({ id: post.id, omitRaw: true });
    expect(bare.document!.raw).toHaveLength(0);
    expect(bare.document!.contentHash).toBe(full.document!.contentHash);

    const missing = await rejection(client.getDocument({ id: 'doc_missing' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toMatch(/document "doc_missing" does not exist/);
  });

  it('ListDocuments filters by author, category and platform and refuses an unknown category', async () => {
    await crawledAuthor('doc-lister');
    const articles = await client.listDocuments({
      authorId: 'doc-lister',
      category: commonv1.Category.ARTICLE,
    });
    expect(articles.documents.map((d) => d.canonicalUrl)).toEqual([
      'https://doc-lister.substack.com/p/first',
    ]);
    expect(articles.documents[0]!.raw).toHaveLength(0);
    const medium = await client.listDocuments({
      authorId: 'doc-lister',
      platform: commonv1.Platform.MEDIUM,
    });
    expect(medium.documents).toEqual([]);

    const unknown = await rejection(
      client.listDocuments({ authorId: 'doc-lister', category: 99 as commonv1.Category }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toMatch(/unknown category \(category: article, post or code\)/);
  });

  it('DeleteDocument tombstones a document with one event and answers NotFound for an unknown id', async () => {
    const { documents } = await crawledAuthor('deleter');
    const target = documents[0]!;
    const before = (await bus.read(topics.documentsRaw)).length;
    const { document } = await client.deleteDocument({ id: target.id });
    expect(document).toMatchObject({ id: target.id, tombstone: true, version: 2n });

    const events = (await bus.read(topics.documentsRaw)).slice(before);
    expect(events).toHaveLength(1);
    const event = decodeEvent(ingesteventsv1.RawDocumentChangedSchema, events[0]!);
    expect(event.change).toBe(ingesteventsv1.ChangeKind.TOMBSTONED);
    expect(event.document?.id).toBe(target.id);
    expect((await client.listDocuments({ authorId: 'deleter' })).documents.map((d) => d.id)).toEqual([
      documents[1]!.id,
    ]);
    const withTombstones = await client.listDocuments({ authorId: 'deleter', includeTombstones: true });
    expect(withTombstones.documents).toHaveLength(2);

    const missing = await rejection(client.deleteDocument({ id: 'doc_missing' }));
    expect(missing.code).toBe(Code.NotFound);
  });

  it('ExtractPage parses a saved page without network access and refuses an empty page or a relative URL', async () => {
    const url =
      'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb';
    const html = new Uint8Array(readFileSync(path.join(SAVED_PAGE, 'source.html')));
    const expected = JSON.parse(readFileSync(path.join(SAVED_PAGE, 'expected-metadata.json'), 'utf8')) as {
      title: string;
    };
    const { document } = await client.extractPage({ url, html, authorId: 'nobody-needed' });
    expect(document).toMatchObject({
      id: '',
      authorId: 'nobody-needed',
      title: expected.title,
      canonicalUrl: url,
      category: commonv1.Category.ARTICLE,
      platform: commonv1.Platform.MEDIUM,
    });
    // The first publication (firstPublishedAt) and, apart, the re-publish 24 minutes later (latestPublishedAt).
    expect(timestampMs(document!.publishTime!)).toBe(1426609660294);
    expect(timestampMs(document!.updateTime!)).toBe(1426611099742);
    // Nothing was stored.
    expect((await client.listDocuments({ authorId: 'nobody-needed' })).documents).toEqual([]);

    const empty = await rejection(client.extractPage({ url }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toMatch(/html is empty \(html: required\)/);
    const relative = await rejection(client.extractPage({ url: 'saved.html', html }));
    expect(relative.code).toBe(Code.InvalidArgument);
    expect(relative.rawMessage).toMatch(/not an absolute URL/);
  });

  it('ExtractPage says what the page lacks instead of an internal error', async () => {
    const page = new TextEncoder().encode('<html><head></head><body></body></html>');
    const err = await rejection(
      client.extractPage({ url: 'https://medium.com/@someone/untitled-0123456789ab', html: page }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/could not be read as a document: .+/);
  });
});
