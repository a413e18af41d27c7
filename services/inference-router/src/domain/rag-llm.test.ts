// RagService with a language model: expansion, self-query, rerank, the answer template and the record. The
// model here is a scripted in-memory backend (a fake, to drive the pure logic); the real backends are tested
// against servers in src/llm, and end to end with a real model in rag-pipeline.e2e.test.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { isDomainError } from '@llmtwin/runtime';
import { pino } from 'pino';
import { LlmError, type ChatEvent, type ChatRequest, type LlmBackend } from '@llmtwin/llm';
import { AlertMonitor, type Alert } from './monitoring/alerts.js';
import { GenerationStore } from './generations.js';
import { RagService, type GenerationEvent, type LlmResolver, type RagDeps } from './rag.js';
import type { Passage, SearchFn } from './retrieve.js';

const passage = (id: string, text: string, extra: Partial<Passage> = {}): Passage => ({
  chunkId: id,
  documentId: `doc_${id}`,
  text,
  score: 0.5,
  title: `Title ${id}`,
  url: `https://example.com/${id}`,
  category: 1,
  platform: 1,
  ...extra,
});

/** Scripted backend (fake): answers each call with the reply chosen by `script`, and records the requests. */
class ScriptedBackend implements LlmBackend {
  readonly kind = 'openai' as const;
  readonly endpoint = 'scripted';
  readonly requests: ChatRequest[] = [];
  constructor(
    readonly model: string,
    private readonly script: (req: ChatRequest) => string | Error,
    readonly contextTokens?: number,
  ) {}
  async *chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    this.requests.push(request);
    const reply = this.script(request);
    const words = reply instanceof Error ? ['partial '] : reply.split(/(?<= )/);
    for (const text of words) yield { type: 'delta', text };
    if (reply instanceof Error) throw reply;
    yield { type: 'end', finishReason: 'stop', promptTokens: 42, completionTokens: words.length };
  }
  health = async () => {};
  close = async () => {};
}

const resolver = (backend: LlmBackend): LlmResolver => ({
  resolve: (model) => {
    if (model && model !== backend.model) throw new Error(`unknown ${model}`);
    return backend;
  },
  models: () => [{ id: backend.model, backend: backend.kind, endpoints: [backend.endpoint], healthy: true }],
  hasModels: () => true,
});

async function collect(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const isExpansion = (r: ChatRequest) => r.messages[0]!.content.startsWith('You rewrite search queries');
const isSelfQuery = (r: ChatRequest) => r.jsonSchema !== undefined;

describe('RagService with a language model', () => {
  let dir: string;
  let warehouse: Warehouse;
  let store: GenerationStore;
  const make = (search: SearchFn, backend: LlmBackend, extra: Partial<RagDeps> = {}) =>
    new RagService({ search, store, logger: pino({ level: 'silent' }), llm: resolver(backend), ...extra });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-ragllm-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    store = new GenerationStore(warehouse);
    await store.init();
  });
  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers from the numbered passages with the versioned template, and records model, tokens and template', async () => {
    const backend = new ScriptedBackend('twin', () => 'I feed it daily [1]. ');
    const rag = make(
      async () => [passage('a', 'Feed the starter every day with flour and water.')],
      backend,
      {
        authorName: async () => 'Jane Doe',
      },
    );
    const events = await collect(rag.generate({ query: 'How do you feed a starter?', authorId: 'jane' }));
    const deltas = events.flatMap((e) => ('delta' in e ? [e.delta] : []));
    expect(deltas.join('')).toBe('I feed it daily [1]. ');
    const done = events.at(-1)!;
    if (!('done' in done)) throw new Error('no done event');
    expect(done.done).toMatchObject({
      model: 'twin',
      extractive: false,
      promptTemplateVersion: 'twin-answer/v2',
      finishReason: 'stop',
      citations: [{ index: 1, url: 'https://example.com/a', title: 'Title a' }],
      usage: { promptTokens: 42, completionTokens: 5 },
    });
    const [request] = backend.requests;
    expect(request!.messages[0]!.content).toContain('digital twin of Jane Doe');
    expect(request!.messages[0]!.content).toContain('[1] Title a (https://example.com/a)\nFeed the starter');
    expect(request!.messages.at(-1)).toEqual({ role: 'user', content: 'How do you feed a starter?' });
    const stored = await store.get(done.done.generationId);
    expect(stored).toMatchObject({
      model: 'twin',
      promptTemplateVersion: 'twin-answer/v2',
      promptTokens: 42,
    });
  });

  it('numbers sources, not chunks: two passages of one document share its number in the prompt', async () => {
    const backend = new ScriptedBackend('twin', () => 'I feed it daily [1] and bake with rye [2]. ');
    const rag = make(
      async () => [
        passage('a1', 'Feed the starter every day.', {
          documentId: 'doc_a',
          title: 'Starter',
          url: 'https://e.x/a',
        }),
        passage('r1', 'Rye makes it sour.', { documentId: 'doc_r', title: 'Rye', url: 'https://e.x/r' }),
        passage('a2', 'Keep it in the fridge.', {
          documentId: 'doc_a',
          title: 'Starter',
          url: 'https://e.x/a',
        }),
      ],
      backend,
    );
    const events = await collect(rag.generate({ query: 'How do you feed a starter?', authorId: 'jane' }));
    const system = backend.requests[0]!.messages[0]!.content;
    expect(system).toContain(
      'Sources:\n[1] Starter (https://e.x/a)\nFeed the starter every day.\n…\nKeep it in the fridge.\n\n' +
        '[2] Rye (https://e.x/r)\nRye makes it sour.',
    );
    expect(system).not.toContain('[3]');
    const done = events.at(-1)!;
    if (!('done' in done)) throw new Error('no done event');
    expect(done.done.citations.map((c) => [c.index, c.documentId, c.passages.map((p) => p.chunkId)])).toEqual(
      [
        [1, 'doc_a', ['a1', 'a2']],
        [2, 'doc_r', ['r1']],
      ],
    );
  });

  it('gives a pinned twin-answer/v1 the same numbering under its own words', async () => {
    const backend = new ScriptedBackend('twin', () => 'Daily [1]. ');
    const rag = make(
      async () => [
        passage('a1', 'Feed the starter every day.', {
          documentId: 'doc_a',
          title: 'Starter',
          url: 'https://e.x/a',
        }),
        passage('a2', 'Keep it in the fridge.', {
          documentId: 'doc_a',
          title: 'Starter',
          url: 'https://e.x/a',
        }),
      ],
      backend,
      { promptTemplate: 'twin-answer/v1' },
    );
    const events = await collect(rag.generate({ query: 'How do you feed a starter?', authorId: 'jane' }));
    const system = backend.requests[0]!.messages[0]!.content;
    expect(system).toContain('numbered passages');
    expect(system).toContain(
      '[1] Starter (https://e.x/a)\nFeed the starter every day.\n…\nKeep it in the fridge.',
    );
    const done = events.at(-1)!;
    if (!('done' in done)) throw new Error('no done event');
    expect(done.done.promptTemplateVersion).toBe('twin-answer/v1');
    expect(done.done.citations).toHaveLength(1);
  });

  it('searches the expanded queries beside the original and records them', async () => {
    const backend = new ScriptedBackend('twin', (r) =>
      isExpansion(r)
        ? '1. proofing bread dough\n2. How do you feed a starter?\n- letting dough rise\n'
        : 'ok',
    );
    const searched: string[] = [];
    const rag = make(async (q) => {
      searched.push(q);
      return [passage(q.length.toString(), q)];
    }, backend);
    const events = await collect(
      rag.generate({ query: 'How do you feed a starter?', authorId: 'jane', expandQueries: 2 }),
    );
    expect(searched.sort()).toEqual(
      ['How do you feed a starter?', 'letting dough rise', 'proofing bread dough'].sort(),
    );
    const done = events.at(-1)!;
    if (!('done' in done)) throw new Error('no done event');
    const stored = await store.get(done.done.generationId);
    expect(stored.expandedQueries).toEqual(['proofing bread dough', 'letting dough rise']);
  });

  it('adds self-query filters the question states, keeps the request filters and the author, and falls back when they match nothing', async () => {
    const backend = new ScriptedBackend('twin', (r) =>
      isSelfQuery(r)
        ? '{"platforms":["github"],"categories":["code","bogus"],"published_after":"2024-01-01"}'
        : 'ok',
    );
    const seen: { platforms: number[]; categories: number[]; after?: number; author: string }[] = [];
    const rag = make(async (_q, f) => {
      seen.push({
        platforms: f.platforms,
        categories: f.categories,
        after: f.publishedAfter,
        author: f.authorId,
      });
      return f.platforms.includes(4) ? [] : [passage('x', 'text')];
    }, backend);
    const result = await rag.retrieve({
      query: 'my GitHub code since 2024',
      authorId: 'jane',
      selfQuery: true,
      categories: [2],
    });
    // Invalid values are dropped, the request's own category wins, the author never changes.
    expect(seen[0]).toEqual({ platforms: [4], categories: [2], after: Date.UTC(2024, 0, 1), author: 'jane' });
    // Nothing matched the extracted filters: searched again with the request's own.
    expect(seen[1]).toEqual({ platforms: [], categories: [2], after: undefined, author: 'jane' });
    expect(result.passages.map((p) => p.chunkId)).toEqual(['x']);
    expect(result.filters.platforms).toEqual([]);
  });

  it('a failing expansion costs only the rewrites', async () => {
    const backend = new ScriptedBackend('twin', (r) =>
      isExpansion(r) ? new LlmError('unavailable', 'down') : 'fine',
    );
    const rag = make(async () => [passage('a', 'text')], backend);
    const result = await rag.retrieve({ query: 'q?', authorId: 'jane', expandQueries: 3 });
    expect(result.expandedQueries).toEqual([]);
    expect(result.passages).toHaveLength(1);
  });

  it('reranks the fused candidates with the reranker and keeps top_k', async () => {
    const backend = new ScriptedBackend('twin', () => 'ok');
    const candidates = ['one', 'two', 'three', 'four'].map((t, i) =>
      passage(String(i), t, { score: 1 - i / 10 }),
    );
    const seenLimits: number[] = [];
    const rag = make(
      async (_q, _f, limit) => {
        seenLimits.push(limit);
        return candidates;
      },
      backend,
      {
        reranker: {
          rerank: async (_q, texts) => texts.map((t) => (t === 'three' ? 5 : t === 'one' ? 1 : 0)),
        },
      },
    );
    const result = await rag.retrieve({ query: 'q', authorId: 'jane', rerank: true, topK: 2 });
    expect(result.passages.map((p) => p.text)).toEqual(['three', 'one']);
    expect(seenLimits[0]).toBeGreaterThanOrEqual(20);
  });

  it('says what to configure when rerank or expansion is asked for without a reranker or a model', async () => {
    const backend = new ScriptedBackend('twin', () => 'ok');
    const rag = make(async () => [], backend);
    const err = await rag.retrieve({ query: 'q', authorId: 'jane', rerank: true }).catch((e: unknown) => e);
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect((err as Error).message).toContain('LLMTWIN_RERANKER');
    const noLlm = new RagService({ search: async () => [], store, logger: pino({ level: 'silent' }) });
    const err2 = await noLlm
      .retrieve({ query: 'q', authorId: 'jane', expandQueries: 2 })
      .catch((e: unknown) => e);
    expect(isDomainError(err2, 'failed-precondition')).toBe(true);
    expect((err2 as Error).message).toContain('LLMTWIN_LLM_BACKENDS');
  });

  it('fits the passages into what the model window leaves after the answer and the question', async () => {
    const backend = new ScriptedBackend('twin', () => 'ok', 1_000);
    const long = 'word '.repeat(600); // ~750 tokens each
    const rag = make(async () => [passage('a', long), passage('b', long)], backend);
    const events = await collect(rag.generate({ query: 'q', authorId: 'jane', maxTokens: 300 }));
    const done = events.at(-1)!;
    if (!('done' in done)) throw new Error('no done event');
    // 1000 - 300 (answer) - 1 (query) - 200 (template) = 499 tokens: the first passage only, cut to fit.
    expect(done.done.citations).toHaveLength(1);
    expect(backend.requests[0]!.messages[0]!.content.length).toBeLessThan(long.length);
  });

  it('a backend that breaks mid-answer ends the stream with Unavailable, records the partial answer and counts an error', async () => {
    const backend = new ScriptedBackend('twin', () => new LlmError('interrupted', 'socket closed'));
    const alerts: Alert[] = [];
    const monitor = new AlertMonitor(
      { latencyP95Ms: 1e9, errorRate: 0.5, windowSize: 10, windowMs: 1e9, minSamples: 1 },
      pino({ level: 'silent' }),
      (a) => alerts.push(a),
    );
    const rag = make(async () => [passage('a', 'text')], backend, { alerts: monitor });
    const seen: GenerationEvent[] = [];
    const err = await (async () => {
      for await (const e of rag.generate({ query: 'q', authorId: 'jane' })) seen.push(e);
    })().catch((e: unknown) => e);
    expect(isDomainError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toContain('middle of the answer');
    expect(seen).toEqual([
      {
        started: expect.objectContaining({
          model: 'twin',
          citations: [expect.objectContaining({ index: 1 })],
        }),
      },
      { delta: 'partial ' },
    ]);
    const [record] = (await store.list({ limit: 5 })).records;
    expect(record).toMatchObject({ finishReason: 'error', answer: 'partial ' });
    expect(alerts).toEqual([expect.objectContaining({ rule: 'error_rate', resolved: false, value: 1 })]);
  });

  it('lists the configured models and the extractive one; an unknown model is NotFound', async () => {
    const rag = make(async () => [], new ScriptedBackend('twin', () => 'ok'));
    expect(rag.models().map((m) => m.id)).toEqual(['twin', 'extractive']);
    const answered = await collect(rag.generate({ query: 'q', authorId: 'jane', model: 'extractive' }));
    const done = answered.at(-1)!;
    expect('done' in done && done.done.extractive).toBe(true);
  });

  it('answers without retrieval with the no-RAG template when disable_rag is set', async () => {
    const backend = new ScriptedBackend('twin', () => 'Hello.');
    let searched = 0;
    const rag = make(async () => {
      searched++;
      return [];
    }, backend);
    const events = await collect(rag.generate({ query: 'hi', authorId: 'jane', disableRag: true }));
    const done = events.at(-1)!;
    if (!('done' in done)) throw new Error('no done event');
    expect(searched).toBe(0);
    expect(done.done).toMatchObject({
      promptTemplateVersion: 'twin-answer-norag/v1',
      citations: [],
      answer: 'Hello.',
    });
  });
});
