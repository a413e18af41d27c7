// Every CleanService RPC through an in-memory Connect transport (createRouterTransport over the module's own
// registration, with the error interceptor the hosts use), on the embedded warehouse and event log, with the
// real cleaners. Ingest is replaced by a FAKE raw-document source (fetchRaw / listRawIds over a map of raw
// documents), the overrides the module offers for tests. Each RPC shows one real outcome and at least one bad
// request answered with the right code and a message that says what to fix.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, type Client } from '@connectrpc/connect';
import { cleaneventsv1, cleanv1, commonv1, ingestv1, topics } from '@llmtwin/contracts';
import { decodeEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createLogger, notFound } from '@llmtwin/runtime';
import { openEmbeddedStorage, rejection, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { createCleanModule, type CleanDeps, type CleanModule } from '../module.js';

const logger = createLogger('clean-routes-test', { level: 'silent' });
const encode = (s: string) => new TextEncoder().encode(s);

const sentence = (n: number) =>
  `Sentence ${n} of the article says, in plain words, why sourdough needs a lively starter and patience.`;
const ARTICLE_HTML = `<!doctype html><html><head><title>Sourdough | Ada's blog</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<main><article><h1>Sourdough</h1><p>${sentence(1)}</p><p>${sentence(2)}</p><p>${sentence(3)}</p></article></main>
<footer>© 2024 Ada. All rights reserved.</footer><script>var tracking = 1;</script></body></html>`;

const raw = (id: string, authorId: string, category: commonv1.Category, body: string, contentType: string) =>
  create(ingestv1.RawDocumentSchema, {
    id,
    authorId,
    category,
    platform: commonv1.Platform.SUBSTACK,
    canonicalUrl: `https://${authorId}.substack.com/p/${id}`,
    title: `Title ${id}`,
    publishTime: timestampFromMs(Date.parse('2024-05-01T00:00:00Z')),
    version: 1n,
    raw: encode(body),
    rawContentType: contentType,
  });

/** FAKE ingest: the raw documents it holds, by id. */
const rawDocuments = new Map<string, ingestv1.RawDocument>(
  [
    raw('doc_article', 'ada', commonv1.Category.ARTICLE, ARTICLE_HTML, 'text/html; charset=utf-8'),
    raw(
      'doc_post',
      'ada',
      commonv1.Category.POST,
      'Shipped   it!\r\n\r\n\r\nThanks @bob  #bread',
      'text/plain',
    ),
    raw('doc_bob', 'bob', commonv1.Category.POST, '<p>Bob was here</p>', 'text/html'),
  ].map((d) => [d.id, d]),
);
const fakeIngest: Pick<CleanDeps, 'fetchRaw' | 'listRawIds'> = {
  fetchRaw: async (id) => {
    const doc = rawDocuments.get(id);
    if (!doc) throw notFound(`document "${id}" does not exist`);
    return doc;
  },
  listRawIds: async function* (authorId) {
    for (const d of rawDocuments.values()) if (!authorId || d.authorId === authorId) yield d.id;
  },
};

describe('CleanService routes over an in-memory transport', () => {
  let storage: EmbeddedStorage | undefined;
  let warehouse: Warehouse;
  let bus: EventBus;
  let module: CleanModule;
  let client: Client<typeof cleanv1.CleanService>;

  const clientOf = (m: CleanModule) => routesClient(cleanv1.CleanService, m, logger);

  beforeEach(async () => {
    storage = await openEmbeddedStorage('clean-routes-');
    ({ warehouse, bus } = storage);
    module = await createCleanModule({
      warehouse,
      eventBus: bus,
      logger,
      ...fakeIngest,
      outboxSweepMs: 3_600_000,
    });
    client = clientOf(module);
  });

  afterEach(async () => {
    await module.stop?.();
    await storage?.close();
  });

  /** Reprocesses `request` and waits for the background run. */
  async function reprocessed(request: { authorId?: string; documentIds?: string[] }) {
    const res = await client.reprocess(request);
    await module.reprocessor.idle();
    return res;
  }

  it('Reprocess queues the documents of an author (or the ids given) and cleans them into the snapshot with events', async () => {
    const res = await reprocessed({ authorId: 'ada' });
    expect(res.documentsQueued).toBe(2n);
    const stored = await client.listCleanedDocuments({});
    expect(stored.documents.map((d) => d.ref?.documentId).sort()).toEqual(['doc_article', 'doc_post']);

    const events = (await bus.read(topics.documentsCleaned)).map((m) =>
      decodeEvent(cleaneventsv1.DocumentCleanedSchema, m),
    );
    expect(events.map((e) => e.document?.ref?.documentId).sort()).toEqual(['doc_article', 'doc_post']);
    // A Reprocess write carries the run's backfill id, the same on every event of the run.
    expect(new Set(events.map((e) => e.backfillId)).size).toBe(1);
    expect(events[0]!.backfillId).not.toBe('');

    const byId = await reprocessed({ documentIds: ['doc_bob'] });
    expect(byId.documentsQueued).toBe(1n);
    expect((await client.getCleanedDocument({ documentId: 'doc_bob' })).document?.text).toBe('Bob was here');
  });

  it('Reprocess without a way to reach ingest says which setting is missing', async () => {
    const alone = await createCleanModule({ warehouse, eventBus: bus, logger });
    const err = await rejection(clientOf(alone).reprocess({ authorId: 'ada' }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toMatch(/no directory to reach ingest \(LLMTWIN_INGEST_URL\)/);
    await alone.stop?.();
  });

  it('GetCleanedDocument returns the cleaned text of a document and answers NotFound for an unknown one', async () => {
    await reprocessed({ documentIds: ['doc_article', 'doc_post'] });
    const { document } = await client.getCleanedDocument({ documentId: 'doc_article' });
    expect(document).toMatchObject({
      ref: { documentId: 'doc_article', version: 1n, authorId: 'ada' },
      category: commonv1.Category.ARTICLE,
      platform: commonv1.Platform.SUBSTACK,
      canonicalUrl: 'https://ada.substack.com/p/doc_article',
      title: 'Title doc_article',
      tombstone: false,
    });
    expect(document!.text).toContain(sentence(2));
    expect(document!.text).not.toMatch(/tracking|All rights reserved|About/);
    expect(document!.cleanerVersion).not.toBe('');
    const post = await client.getCleanedDocument({ documentId: 'doc_post' });
    expect(post.document!.text).toBe('Shipped it!\n\nThanks @bob #bread');

    const missing = await rejection(client.getCleanedDocument({ documentId: 'doc_missing' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toMatch(/cleaned document "doc_missing" does not exist/);
    const empty = await rejection(client.getCleanedDocument({ documentId: '' }));
    expect(empty.code).toBe(Code.NotFound);
  });

  it('ListCleanedDocuments filters by author and category, pages, and refuses an unknown category or a forged token', async () => {
    await reprocessed({});
    const ada = await client.listCleanedDocuments({ authorId: 'ada' });
    expect(ada.documents.map((d) => d.ref?.documentId)).toEqual(['doc_article', 'doc_post']);
    const posts = await client.listCleanedDocuments({ category: commonv1.Category.POST });
    expect(posts.documents.map((d) => d.ref?.documentId)).toEqual(['doc_bob', 'doc_post']);
    const first = await client.listCleanedDocuments({ page: { pageSize: 2 } });
    const second = await client.listCleanedDocuments({
      page: { pageSize: 2, pageToken: first.page!.nextPageToken },
    });
    expect([...first.documents, ...second.documents].map((d) => d.ref?.documentId)).toEqual([
      'doc_article',
      'doc_bob',
      'doc_post',
    ]);
    expect(second.page!.nextPageToken).toBe('');

    const unknown = await rejection(client.listCleanedDocuments({ category: 42 as commonv1.Category }));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toMatch(/unknown category \(category: article, post or code\)/);
    const forged = await rejection(client.listCleanedDocuments({ page: { pageToken: '!!' } }));
    expect(forged.code).toBe(Code.InvalidArgument);
    expect(forged.rawMessage).toMatch(/start again without it/);
  });

  it('CleanText cleans an article, a post or code without storing anything, and refuses a missing category', async () => {
    const article = await client.cleanText({
      category: commonv1.Category.ARTICLE,
      raw: encode(ARTICLE_HTML),
      rawContentType: 'text/html; charset=utf-8',
      url: 'https://ada.example/sourdough',
    });
    expect(article.title).toBe('Sourdough');
    expect(article.text).toContain(sentence(1));
    expect(article.text).not.toMatch(/tracking|All rights reserved/);
    const post = await client.cleanText({
      category: commonv1.Category.POST,
      raw: encode('<p>Hello <a href="https://x.y">@carol</a></p><p>#ml &amp; more</p>'),
      rawContentType: 'text/html',
    });
    expect(post.text).toBe('Hello @carol\n\n#ml & more');
    const code = 'def f():\r\n\treturn 1   \n';
    expect((await client.cleanText({ category: commonv1.Category.CODE, raw: encode(code) })).text).toBe(code);
    expect((await client.listCleanedDocuments({})).documents).toEqual([]);

    const missing = await rejection(client.cleanText({ raw: encode('x') }));
    expect(missing.code).toBe(Code.InvalidArgument);
    expect(missing.rawMessage).toMatch(/category is required \(category: article, post or code\)/);
  });
});
