// The InferenceService RPCs not covered by answer-edits.test.ts (Generate, GenerateStream, Retrieve,
// ListGenerations, GetGeneration, ListModels, and ListAnswerEdits' refusal) through an in-memory Connect
// transport (createRouterTransport over registerInferenceRoutes, with the error interceptor the hosts use),
// over generation records in an embedded warehouse. Search is a FAKE EmbedService search over fixed
// passages (filtered by author and category as the vector store would); the language model, where one is
// configured, is a FAKE scripted backend, because a real one is a model. Without one, the twin answers
// extractively, which is real code.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { commonv1, inferencev1 } from '@llmtwin/contracts';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger, errorInterceptor, notFound } from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXTRACTIVE_MODEL } from '../domain/extractive.js';
import { GenerationStore } from '../domain/generations.js';
import type { ChatEvent, ChatRequest, LlmBackend } from '@llmtwin/llm';
import { rejection } from '@llmtwin/testkit/routes';
import { RagService, type LlmResolver } from '../domain/rag.js';
import type { Passage, SearchFn } from '../domain/retrieve.js';
import { registerInferenceRoutes } from './inference.routes.js';

const logger = createLogger('inference-routes-test', { level: 'silent' });
const PUBLISHED = Date.parse('2024-05-01T00:00:00Z');

const passage = (
  chunkId: string,
  authorId: string,
  category: commonv1.Category,
  text: string,
): Passage & { authorId: string } => ({
  chunkId,
  documentId: `doc_${chunkId}`,
  authorId,
  text,
  score: 0.9,
  title: `Title ${chunkId}`,
  url: `https://${authorId}.substack.com/p/${chunkId}`,
  publishedAt: PUBLISHED,
  category,
  platform: commonv1.Platform.SUBSTACK,
});

const PASSAGES = [
  passage(
    'bread',
    'ada',
    commonv1.Category.ARTICLE,
    'Sourdough needs a starter that you feed with flour and water. It rises overnight in the fridge.',
  ),
  passage('rust', 'ada', commonv1.Category.POST, 'Rust ownership makes every borrow explicit in the types.'),
  passage('bob', 'bob', commonv1.Category.ARTICLE, 'Bob feeds his sourdough starter with rye flour.'),
];

/** FAKE EmbedService search: the passages of the filtered author and categories, as the vector store keeps them. */
const fakeSearch: SearchFn = async (_query, filters, limit) =>
  PASSAGES.filter(
    (p) =>
      p.authorId === filters.authorId &&
      (filters.categories.length === 0 || filters.categories.includes(p.category)),
  )
    .slice(0, limit)
    .map(({ authorId: _authorId, ...p }) => p);

/** FAKE language model: answers every question with the same words, streamed one by one. */
class ScriptedLlmFake implements LlmBackend {
  readonly kind = 'openai' as const;
  readonly endpoint = 'http://llm.invalid/v1';
  readonly requests: ChatRequest[] = [];
  constructor(
    readonly model: string,
    private readonly reply: string,
  ) {}
  async *chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    this.requests.push(request);
    const words = this.reply.split(/(?<= )/);
    for (const text of words) yield { type: 'delta', text };
    yield { type: 'end', finishReason: 'stop', promptTokens: 42, completionTokens: words.length };
  }
  health = async () => {};
  close = async () => {};
}

const resolverOf = (backend: LlmBackend): LlmResolver => ({
  resolve: (model) => {
    if (model && model !== backend.model)
      throw notFound(`model ${model} is not configured: ListModels lists the models this router serves`);
    return backend;
  },
  models: () => [{ id: backend.model, backend: backend.kind, endpoints: [backend.endpoint], healthy: true }],
  hasModels: () => true,
});

async function drain(stream: AsyncIterable<inferencev1.GenerateStreamResponse>) {
  const out: inferencev1.GenerateStreamResponse['event'][] = [];
  for await (const m of stream) out.push(m.event);
  return out;
}

describe('InferenceService routes over an in-memory transport', () => {
  let dir: string;
  let warehouse: Warehouse;
  let store: GenerationStore;
  let llm: ScriptedLlmFake;
  /** No language model: extractive answers. */
  let client: Client<typeof inferencev1.InferenceService>;
  /** With the fake language model. */
  let withModel: Client<typeof inferencev1.InferenceService>;

  const clientOf = (rag: RagService) =>
    createClient(
      inferencev1.InferenceService,
      createRouterTransport((router) => registerInferenceRoutes(router, { rag, store }), {
        router: { interceptors: [errorInterceptor(logger)] },
      }),
    );

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'inference-routes-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'warehouse.db')}`);
    store = new GenerationStore(warehouse);
    await store.init();
    llm = new ScriptedLlmFake('fake-twin-1b', 'Feed the starter every morning [1].');
    client = clientOf(new RagService({ search: fakeSearch, store, logger }));
    withModel = clientOf(new RagService({ search: fakeSearch, store, logger, llm: resolverOf(llm) }));
  });

  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Generate answers from the author's passages and cites them, extractively or with the model", async () => {
    const res = await client.generate({ query: 'How do I feed a sourdough starter?', authorId: 'ada' });
    expect(res).toMatchObject({ model: EXTRACTIVE_MODEL, extractive: true, finishReason: 'stop' });
    expect(res.generationId).toMatch(/^gen_/);
    expect(res.answer).toContain('Sourdough needs a starter that you feed with flour and water.');
    expect(res.answer).not.toContain('rye');
    expect(res.citations[0]).toMatchObject({
      index: 1,
      documentId: 'doc_bread',
      chunkId: 'bread',
      url: 'https://ada.substack.com/p/bread',
      publishTime: timestampFromMs(PUBLISHED),
    });

    const modelled = await withModel.generate({
      query: 'How do I feed a sourdough starter?',
      authorId: 'ada',
      generation: { maxTokens: 64, temperature: 0.5 }, // exact in a proto float
    });
    expect(modelled).toMatchObject({
      model: 'fake-twin-1b',
      extractive: false,
      answer: 'Feed the starter every morning [1].',
      usage: { promptTokens: 42, completionTokens: 6 }, // as the backend reported them
    });
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]).toMatchObject({ maxTokens: 64, temperature: 0.5 });
    expect(JSON.stringify(llm.requests[0]!.messages)).toContain('flour and water');
  });

  it('Generate refuses an empty query, a missing author, an unknown model and a model-only option without a model', async () => {
    const empty = await rejection(client.generate({ query: '  ', authorId: 'ada' }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toMatch(/query is empty: ask a question/);
    const anonymous = await rejection(client.generate({ query: 'Why?' }));
    expect(anonymous.code).toBe(Code.InvalidArgument);
    expect(anonymous.rawMessage).toMatch(/author_id is empty: say whose twin should answer/);
    const unknownModel = await rejection(
      withModel.generate({ query: 'Why?', authorId: 'ada', generation: { model: 'gpt-nope' } }),
    );
    expect(unknownModel.code).toBe(Code.NotFound);
    expect(unknownModel.rawMessage).toMatch(/ListModels lists the models/);
    const noModel = await rejection(client.generate({ query: 'Why?', authorId: 'ada', disableRag: true }));
    expect(noModel.code).toBe(Code.FailedPrecondition);
    expect(noModel.rawMessage).toMatch(/disable_rag needs a language model and none is configured/);
  });

  it('GenerateStream sends started, the deltas and done, which together make the unary answer', async () => {
    const events = await drain(
      withModel.generateStream({ query: 'How do I feed a sourdough starter?', authorId: 'ada' }),
    );
    expect(events[0]!.case).toBe('started');
    expect(events.at(-1)!.case).toBe('done');
    const started = events[0]!.value as inferencev1.GenerationStarted;
    const done = events.at(-1)!.value as inferencev1.GenerateResponse;
    expect(started).toMatchObject({ generationId: done.generationId, model: 'fake-twin-1b' });
    expect(started.citations.map((c) => c.chunkId)).toEqual(done.citations.map((c) => c.chunkId));
    const deltas = events.filter((e) => e.case === 'delta').map((e) => e.value as string);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(done.answer);
    expect(done.answer).toBe('Feed the starter every morning [1].');
  });

  it('GenerateStream starts with one citation per document, its passages inside, and GetGeneration maps [n] to chunks', async () => {
    // Two chunks of Ada's bread page, the second ranked below her Rust post.
    const breadLater = passage(
      'bread_2',
      'ada',
      commonv1.Category.ARTICLE,
      'Feed the starter again in the morning, before it falls.',
    );
    const search: SearchFn = async () =>
      [PASSAGES[0]!, PASSAGES[1]!, { ...breadLater, documentId: 'doc_bread', score: 0.4 }].map(
        ({ authorId: _authorId, ...p }) => p,
      );
    const grouped = clientOf(new RagService({ search, store, logger, llm: resolverOf(llm) }));
    const events = await drain(
      grouped.generateStream({ query: 'How do I feed a sourdough starter?', authorId: 'ada' }),
    );
    const started = events[0]!.value as inferencev1.GenerationStarted;
    expect(
      started.citations.map((c) => ({
        index: c.index,
        documentId: c.documentId,
        chunkId: c.chunkId,
        passages: c.passages.map((p) => ({ chunkId: p.chunkId, rank: p.rank, snippet: p.snippet })),
      })),
    ).toEqual([
      {
        index: 1,
        documentId: 'doc_bread',
        chunkId: 'bread',
        passages: [
          { chunkId: 'bread', rank: 1, snippet: PASSAGES[0]!.text },
          { chunkId: 'bread_2', rank: 3, snippet: breadLater.text },
        ],
      },
      { index: 2, documentId: 'doc_rust', chunkId: 'rust', passages: [expect.objectContaining({ rank: 2 })] },
    ]);
    const done = events.at(-1)!.value as inferencev1.GenerateResponse;
    expect(done.citations).toEqual(started.citations);
    const { generation } = await grouped.getGeneration({ id: done.generationId });
    expect(generation!.retrieved.map((r) => [r.chunkId, r.citation])).toEqual([
      ['bread', 1],
      ['rust', 2],
      ['bread_2', 1],
    ]);
  });

  it('GenerateStream refuses a top_k out of range before anything is streamed', async () => {
    const events: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const m of client.generateStream({
          query: 'Why?',
          authorId: 'ada',
          retrieval: { topK: 500 },
        }))
          events.push(m.event.case ?? '');
      })(),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/retrieval.top_k must be between 1 and 50 \(0 for the default 5\)/);
    expect(events).toEqual([]);
  });

  it("Retrieve returns the author's passages with the filters it used, and refuses inverted dates or expansion without a model", async () => {
    const res = await client.retrieve({
      query: 'sourdough starter',
      authorId: 'ada',
      retrieval: { categories: [commonv1.Category.ARTICLE], topK: 3 },
    });
    expect(res.chunks.map((c) => c.chunkId)).toEqual(['bread']);
    expect(res.chunks[0]).toMatchObject({
      documentId: 'doc_bread',
      title: 'Title bread',
      url: 'https://ada.substack.com/p/bread',
      category: commonv1.Category.ARTICLE,
      platform: commonv1.Platform.SUBSTACK,
    });
    expect(res.filters).toMatchObject({ authorId: 'ada', categories: [commonv1.Category.ARTICLE] });
    expect(res.expandedQueries).toEqual([]);
    expect((await client.retrieve({ query: 'sourdough', authorId: 'carol' })).chunks).toEqual([]);

    const inverted = await rejection(
      client.retrieve({
        query: 'sourdough',
        authorId: 'ada',
        retrieval: {
          publishedAfter: timestampFromMs(PUBLISHED),
          publishedBefore: timestampFromMs(PUBLISHED - 1000),
        },
      }),
    );
    expect(inverted.code).toBe(Code.InvalidArgument);
    expect(inverted.rawMessage).toMatch(/published_after must be before retrieval.published_before/);
    const expansion = await rejection(
      client.retrieve({ query: 'sourdough', authorId: 'ada', retrieval: { expandQueries: 2 } }),
    );
    expect(expansion.code).toBe(Code.FailedPrecondition);
    expect(expansion.rawMessage).toMatch(/need a language model and none is configured .*: ask without them/);
  });

  it("ListGenerations pages an author's generations newest first and refuses a forged page token", async () => {
    const asked: string[] = [];
    for (const query of ['How do I feed a starter?', 'When does the dough rise?', 'Is rye flour fine?']) {
      asked.push((await client.generate({ query, authorId: 'ada' })).generationId);
    }
    const bobs = await client.generate({ query: 'What does Bob feed it?', authorId: 'bob' });

    const first = await client.listGenerations({ authorId: 'ada', page: { pageSize: 2 } });
    const second = await client.listGenerations({
      authorId: 'ada',
      page: { pageSize: 2, pageToken: first.page!.nextPageToken },
    });
    // Newest first: generation ids start with their creation time, so id order (two asked within the same
    // millisecond fall back on the random suffix).
    expect([...first.generations, ...second.generations].map((g) => g.id)).toEqual(
      [...asked].sort().reverse(),
    );
    expect(second.page!.nextPageToken).toBe('');
    expect(first.generations.map((g) => g.authorId)).toEqual(['ada', 'ada']);
    const all = await client.listGenerations({});
    expect(all.generations.map((g) => g.id)).toContain(bobs.generationId);
    const future = await client.listGenerations({ since: timestampFromMs(Date.now() + 3_600_000) });
    expect(future.generations).toEqual([]);

    const forged = await rejection(client.listGenerations({ page: { pageToken: 'nope!' } }));
    expect(forged.code).toBe(Code.InvalidArgument);
    expect(forged.rawMessage).toMatch(/page_token is not a token this service returned: start again/);
  });

  it('ListGenerations filters by model, until and text of the question or answer, and refuses bad filters', async () => {
    const extractive = await client.generate({
      query: 'How do I feed a sourdough starter?',
      authorId: 'ada',
    });
    const modelled = await withModel.generate({ query: 'When does the dough rise?', authorId: 'ada' });
    const rust = await client.generate({ query: 'Is RUST ownership explicit?', authorId: 'ada' });
    const ids = async (req: Parameters<typeof client.listGenerations>[0]) =>
      (await client.listGenerations(req)).generations.map((g) => g.id);

    expect(await ids({ model: 'fake-twin-1b' })).toEqual([modelled.generationId]);
    expect(await ids({ model: EXTRACTIVE_MODEL })).toEqual([rust.generationId, extractive.generationId]);
    // In the question, whatever the case; in the answer only ("every morning" is the model's).
    expect(await ids({ queryContains: 'rust OWNERSHIP' })).toEqual([rust.generationId]);
    expect(await ids({ queryContains: 'Every Morning' })).toEqual([modelled.generationId]);
    expect(await ids({ queryContains: 'every morning', model: EXTRACTIVE_MODEL })).toEqual([]);
    const paged = await client.listGenerations({ queryContains: 'o', page: { pageSize: 2 } });
    expect(paged.generations).toHaveLength(2);
    const rest = await client.listGenerations({
      queryContains: 'o',
      page: { pageSize: 2, pageToken: paged.page!.nextPageToken },
    });
    expect([...paged.generations, ...rest.generations].map((g) => g.id)).toEqual(
      [extractive.generationId, modelled.generationId, rust.generationId].sort().reverse(),
    );

    // until is exclusive: the records made before the newest one's time.
    const newest = (await client.getGeneration({ id: rust.generationId })).generation!;
    const before = await ids({ until: newest.createTime! });
    expect(before).not.toContain(rust.generationId);
    expect(await ids({ until: timestampFromMs(Date.now() + 60_000) })).toHaveLength(3);
    expect(await ids({ until: timestampFromMs(Date.now() - 3_600_000) })).toEqual([]);
  });

  it('ListGenerations refuses until before since and a query_contains over 200 characters', async () => {
    const since = Date.parse('2026-03-01T12:00:00Z');
    const inverted = await rejection(
      client.listGenerations({ since: timestampFromMs(since), until: timestampFromMs(since - 60_000) }),
    );
    expect(inverted.code).toBe(Code.InvalidArgument);
    expect(inverted.rawMessage).toMatch(
      /^until \(2026-03-01T11:59:00\.000Z\) must be later than since \(2026-03-01T12:00:00\.000Z\): until is exclusive; swap them or leave one out/,
    );
    const empty = await rejection(
      client.listGenerations({ since: timestampFromMs(since), until: timestampFromMs(since) }),
    );
    expect(empty.code).toBe(Code.InvalidArgument);

    const long = await rejection(client.listGenerations({ queryContains: 'x'.repeat(201) }));
    expect(long.code).toBe(Code.InvalidArgument);
    expect(long.rawMessage).toMatch(/^query_contains is 201 characters; shorten it to at most 200/);
    expect((await client.listGenerations({ queryContains: 'x'.repeat(200) })).generations).toEqual([]);
  });

  it('GetGeneration returns the stored record of a generation and answers NotFound for an unknown id', async () => {
    const res = await client.generate({
      query: 'How do I feed a sourdough starter?',
      authorId: 'ada',
      retrieval: { topK: 2 },
    });
    const { generation } = await client.getGeneration({ id: res.generationId });
    expect(generation).toMatchObject({
      id: res.generationId,
      authorId: 'ada',
      query: 'How do I feed a sourdough starter?',
      model: EXTRACTIVE_MODEL,
      answer: res.answer,
      finishReason: 'stop',
      error: '',
      filters: { authorId: 'ada' },
    });
    expect(generation!.retrieved.map((r) => r.chunkId).sort()).toEqual(['bread', 'rust']);
    expect(generation!.createTime).toBeDefined();

    const missing = await rejection(client.getGeneration({ id: 'gen_missing' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toMatch(/no generation gen_missing: ListGenerations lists the stored ones/);
    const empty = await rejection(client.getGeneration({ id: '' }));
    expect(empty.code).toBe(Code.NotFound);
  });

  it('ListModels lists the configured models and always the extractive one', async () => {
    const none = await client.listModels({});
    expect(none.models.map((m) => m.id)).toEqual([EXTRACTIVE_MODEL]);
    const some = await withModel.listModels({});
    expect(some.models.map((m) => [m.id, m.backend, m.endpoints, m.healthy])).toEqual([
      ['fake-twin-1b', 'openai', ['http://llm.invalid/v1'], true],
      [EXTRACTIVE_MODEL, 'local', [], true],
    ]);
  });

  it('ListAnswerEdits refuses a negative page size or a forged page token', async () => {
    const negative = await rejection(client.listAnswerEdits({ authorId: 'ada', page: { pageSize: -5 } }));
    expect(negative.code).toBe(Code.InvalidArgument);
    expect(negative.rawMessage).toMatch(/page_size must not be negative/);
    const forged = await rejection(client.listAnswerEdits({ authorId: 'ada', page: { pageToken: '???' } }));
    expect(forged.code).toBe(Code.InvalidArgument);
  });
});
