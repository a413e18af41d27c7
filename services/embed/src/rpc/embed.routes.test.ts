// Every EmbedService RPC through an in-memory Connect transport (createRouterTransport over the module's own
// registration, with the error interceptor the hosts use), on the embedded warehouse, event log and vector
// store (SQLite + sqlite-vec + FTS5). The embedder and chunker are the pipeline's FAKES (@llmtwin/testkit/
// pipeline: a hashed bag of words, one chunk per paragraph) because the real ones are a model; the cleaned snapshot a
// reindex reads is a FAKE clean service (the module's listCleaned override) that can be held back, so that a
// reindex is deterministically still running when the next one is asked for.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, type Client } from '@connectrpc/connect';
import { cleanv1, commonv1, embedv1 } from '@llmtwin/contracts';
import { type EventBus, type VectorStore, type Warehouse } from '@llmtwin/ports';
import { createVectorStore } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { fakeChunker, fakeEmbedder } from '@llmtwin/testkit/pipeline';
import { openEmbeddedStorage, rejection, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import path from 'node:path';
import { LIVE_ALIAS } from '../domain/collections.js';
import { createEmbedModule, type EmbedModule } from '../module.js';

const logger = createLogger('embed-routes-test', { level: 'silent' });
const DIMENSIONS = 32;
const PUBLISHED = Date.parse('2024-05-01T00:00:00Z');

const cleaned = (id: string, authorId: string, category: commonv1.Category, paragraphs: string[]) =>
  create(cleanv1.CleanedDocumentSchema, {
    ref: { documentId: id, version: 1n, authorId },
    category,
    platform: commonv1.Platform.SUBSTACK,
    canonicalUrl: `https://${authorId}.substack.com/p/${id}`,
    title: `Title ${id}`,
    publishTime: timestampFromMs(PUBLISHED),
    text: paragraphs.join('\n\n'),
  });

/** FAKE clean service: the cleaned snapshot a reindex reads. */
const snapshot = [
  cleaned('doc_bread', 'ada', commonv1.Category.ARTICLE, [
    'Sourdough bread rises slowly overnight in a cold fridge.',
    'A starter is fed with flour and water every morning.',
  ]),
  cleaned('doc_rust', 'ada', commonv1.Category.POST, ['Rust ownership rules make borrowing explicit.']),
  cleaned('doc_bob', 'bob', commonv1.Category.ARTICLE, ['Bob also bakes sourdough bread on weekends.']),
];

describe('EmbedService routes over an in-memory transport', () => {
  let storage: EmbeddedStorage | undefined;
  let warehouse: Warehouse;
  let bus: EventBus;
  let vectors: VectorStore;
  let module: EmbedModule;
  let client: Client<typeof embedv1.EmbedService>;
  /** While set, the fake clean service waits for it before listing: a reindex stays running. */
  let held: Promise<void> | undefined;

  beforeEach(async () => {
    held = undefined;
    storage = await openEmbeddedStorage('embed-routes-');
    ({ warehouse, bus } = storage);
    vectors = await createVectorStore(`sqlite:${path.join(storage!.root, 'vectors.db')}`);
    module = await createEmbedModule({
      warehouse,
      eventBus: bus,
      vectorStore: vectors,
      embedder: fakeEmbedder(DIMENSIONS),
      embedderAdapter: 'fake',
      chunker: fakeChunker(),
      logger,
      listCleaned: async function* () {
        await held;
        yield* snapshot;
      },
    });
    await module.start?.();
    client = routesClient(embedv1.EmbedService, module, logger);
  });

  afterEach(async () => {
    await module.stop?.();
    await vectors.close();
    await storage?.close();
  });

  /** Runs a reindex of the fake snapshot to its end. */
  async function reindexed(): Promise<embedv1.Reindex> {
    const { reindex } = await client.startReindex({});
    await module.reindexer.wait(reindex!.id);
    return (await client.getReindex({ id: reindex!.id })).reindex!;
  }

  it('EmbedTexts embeds each text with the live embedder and counts its tokens', async () => {
    const texts = ['sourdough bread', 'rust ownership rules', 'sourdough bread'];
    const res = await client.embedTexts({ texts, inputType: embedv1.InputType.PASSAGE });
    expect(res.model).toBe('fake-bag-of-words');
    expect(res.embeddings).toHaveLength(3);
    for (const e of res.embeddings) {
      expect(e.values).toHaveLength(DIMENSIONS);
      expect(Math.hypot(...e.values)).toBeCloseTo(1, 5);
    }
    expect(res.embeddings.map((e) => e.tokenCount)).toEqual([4, 5, 4]);
    expect(res.embeddings[2]!.values).toEqual(res.embeddings[0]!.values);
    expect(res.embeddings[1]!.values).not.toEqual(res.embeddings[0]!.values);
    expect((await client.embedTexts({ texts: [] })).embeddings).toEqual([]);
  });

  it('GetEmbedderInfo describes the embedder and names the live collection, before and after a reindex', async () => {
    const before = await client.getEmbedderInfo({});
    expect(before).toMatchObject({
      model: 'fake-bag-of-words',
      dimensions: DIMENSIONS,
      maxTokens: 256,
      adapter: 'fake',
    });
    expect(before.liveCollection).toBe(await vectors.resolveAlias(LIVE_ALIAS));
    expect(before.liveCollection).toMatch(/^chunks_fake_bag_of_words_\d{17}$/);

    const reindex = await reindexed();
    const after = await client.getEmbedderInfo({});
    expect(after.liveCollection).toBe(reindex.targetCollection);
    expect(after.liveCollection).not.toBe(before.liveCollection);
  });

  it('SearchChunks finds chunks by meaning, keyword or both, within the filters', async () => {
    await reindexed();
    const keyword = await client.searchChunks({ query: 'ownership', mode: embedv1.SearchMode.KEYWORD });
    expect(keyword.chunks.map((c) => c.ref?.documentId)).toEqual(['doc_rust']);
    expect(keyword.chunks[0]).toMatchObject({
      ref: { documentId: 'doc_rust', version: 1n, authorId: 'ada' },
      text: 'Rust ownership rules make borrowing explicit.',
      title: 'Title doc_rust',
      canonicalUrl: 'https://ada.substack.com/p/doc_rust',
      category: commonv1.Category.POST,
      platform: commonv1.Platform.SUBSTACK,
    });
    expect(keyword.chunks[0]!.chunkId).toMatch(/^chk_/);
    expect(keyword.chunks[0]!.publishTime).toEqual(timestampFromMs(PUBLISHED));

    // The fake embedder gives a text the same vector every time: a chunk's own words are its nearest match.
    const dense = await client.searchChunks({
      query: 'a starter is fed with flour and water every morning',
      mode: embedv1.SearchMode.DENSE,
      limit: 1,
    });
    expect(dense.chunks.map((c) => c.text)).toEqual(['A starter is fed with flour and water every morning.']);

    const hybrid = await client.searchChunks({
      query: 'sourdough bread',
      filter: { authorId: 'bob' },
    });
    expect(hybrid.chunks.map((c) => c.ref?.documentId)).toEqual(['doc_bob']);
    const articles = await client.searchChunks({
      query: 'sourdough bread rust',
      filter: { authorId: 'ada', categories: [commonv1.Category.ARTICLE] },
    });
    expect(new Set(articles.chunks.map((c) => c.ref?.documentId))).toEqual(new Set(['doc_bread']));
  });

  it('SearchChunks refuses an empty query or an unknown mode, saying what to send', async () => {
    const empty = await rejection(client.searchChunks({ query: '   ' }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toMatch(/query is required \(query: required\)/);
    const mode = await rejection(client.searchChunks({ query: 'bread', mode: 9 as embedv1.SearchMode }));
    expect(mode.code).toBe(Code.InvalidArgument);
    expect(mode.rawMessage).toMatch(/unknown search mode \(mode: dense, keyword or hybrid\)/);
  });

  it('StartReindex rebuilds the snapshot into a new collection and swaps it in; it refuses a per-author or a second concurrent reindex', async () => {
    let release!: () => void;
    held = new Promise<void>((resolve) => (release = resolve));
    const { reindex } = await client.startReindex({});
    expect(reindex).toMatchObject({ state: embedv1.ReindexState.RUNNING, error: '' });
    expect(reindex!.id).toMatch(/^rdx_/);
    expect(reindex!.targetCollection).toMatch(/^chunks_fake_bag_of_words_/);

    const busy = await rejection(client.startReindex({}));
    expect(busy.code).toBe(Code.FailedPrecondition);
    expect(busy.rawMessage).toMatch(`reindex ${reindex!.id} is still running; wait for it (GetReindex)`);

    release();
    await module.reindexer.wait(reindex!.id);
    expect(await vectors.resolveAlias(LIVE_ALIAS)).toBe(reindex!.targetCollection);
    expect(await vectors.count(LIVE_ALIAS)).toBe(4);

    const perAuthor = await rejection(client.startReindex({ authorId: 'ada' }));
    expect(perAuthor.code).toBe(Code.InvalidArgument);
    expect(perAuthor.rawMessage).toMatch(/per-author reindex is not supported: leave author_id empty/);
  });

  it('GetReindex reports a finished reindex with its counts and answers NotFound for an unknown id', async () => {
    const reindex = await reindexed();
    expect(reindex).toMatchObject({
      state: embedv1.ReindexState.SWAPPED,
      documentsTotal: 3n,
      documentsDone: 3n,
      chunksEmbedded: 4n,
      error: '',
    });
    expect(reindex.startTime).toBeDefined();
    expect(reindex.endTime).toBeDefined();

    const missing = await rejection(client.getReindex({ id: 'rdx_missing' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toMatch(/reindex "rdx_missing" does not exist/);
  });
});
