// The OpenAI-compatible backend path against a REAL OpenAI-compatible server: llama-cpp-python's server
// (pinned in packages/testkit/src/infra/llama-cpp.ts, built by `npm run infra:prepare` or on first use)
// serving the SmolLM2 135M GGUF (`npm run models:prepare`). The unit tests drive the same adapter against a fake; this checks
// what a real server does with what the adapter sends: streaming, max_tokens, JSON constrained by a schema,
// health, an unknown model name, a stream the server cuts short, failover when one of two servers is
// SIGKILLed under load, and a RAG answer through the router. Each server is private to this file and runs
// on one thread. Assertions are on outcomes and counts, never on durations.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createClient, type Client } from '@connectrpc/connect';
import { inferencev1 } from '@llmtwin/contracts';
import { createModuleHealth } from '@llmtwin/host';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { buildServer, inProcessTransport } from '@llmtwin/runtime';
import {
  prepareLlamaCppServer,
  startLlamaCppServer,
  type LlamaCppServer,
  type LlamaCppStartOptions,
} from '@llmtwin/testkit';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createInferenceRouterModule, type InferenceRouterModule } from './module.js';
import type { Passage, SearchFn } from './domain/retrieve.js';
import { collect, failure, kindOf } from '@llmtwin/llm/test-helpers';
import type { ChatEvent, ChatRequest, LlmBackend } from '@llmtwin/llm';
import { tinyLocalModelPath } from '@llmtwin/llm/backends';
import { ModelRouter } from '@llmtwin/llm/backends';
import { OpenAiBackend, type OpenAiBackendOptions } from '@llmtwin/llm/backends';
import { BackendPool } from '@llmtwin/llm/backends';

jest.setTimeout(120_000);

// Prepared on first use, like the harness's other backends: a no-op (about a second) once the cache holds the
// pinned build, which `npm test`'s pretest has made; otherwise pip compiles llama.cpp here, 6-8 minutes on two
// cores, under the build lock, so concurrent runs build once.
beforeAll(async () => {
  await prepareLlamaCppServer();
}, 20 * 60_000);

const servers: LlamaCppServer[] = [];
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function start(options: Partial<LlamaCppStartOptions> = {}): Promise<LlamaCppServer> {
  const server = await startLlamaCppServer({
    modelPath: tinyLocalModelPath(),
    alias: 'twin',
    threads: 1,
    ...options,
  });
  servers.push(server);
  return server;
}

function backendFor(server: LlamaCppServer, extra: Partial<OpenAiBackendOptions> = {}): OpenAiBackend {
  return new OpenAiBackend({
    model: 'twin',
    baseUrl: server.url,
    jsonMode: 'json_object',
    // Generous: they only turn a hang into a failure on a slow, shared machine.
    firstTokenTimeoutMs: 60_000,
    idleTimeoutMs: 30_000,
    ...extra,
  });
}

/** Greedy decoding, so that a 135M model answers the same way every run. */
const question = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [
    { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
    { role: 'user', content },
  ],
  maxTokens: 48,
  temperature: 0,
  ...extra,
});

describe('OpenAiBackend against llama-cpp-python', () => {
  let server: LlamaCppServer;
  beforeAll(async () => {
    server = await start();
  });

  it('streams an answer in several deltas and ends it with a finish reason', async () => {
    const { deltas, text, end } = await collect(
      backendFor(server).chat(question('What is the capital of France?')),
    );
    expect(deltas.length).toBeGreaterThan(1);
    expect(text).toContain('Paris');
    expect(end?.finishReason).toBe('stop');
    // llama-cpp-python 0.3.16 ignores stream_options.include_usage and sends no usage chunk, so a streamed
    // answer carries no token counts (the router then estimates them). The adapter must not invent any.
    expect(end).toEqual({ type: 'end', finishReason: 'stop' });
  });

  it('stops at maxTokens and says so', async () => {
    const { deltas, end } = await collect(
      backendFor(server).chat(question('Write a long story about a dragon.', { maxTokens: 4 })),
    );
    expect(end?.finishReason).toBe('length');
    expect(deltas.length).toBeGreaterThan(0);
    // One token is at most one delta (a character split across tokens may merge two).
    expect(deltas.length).toBeLessThanOrEqual(4);
  });

  it('returns JSON matching a schema in json_object mode', async () => {
    const schema = {
      type: 'object',
      properties: { capital: { type: 'string' }, country: { type: 'string' } },
      required: ['capital'],
    };
    const { text, end } = await collect(
      backendFor(server).chat(
        question('What is the capital of France? Answer in JSON.', { jsonSchema: schema, maxTokens: 64 }),
      ),
    );
    expect(end?.finishReason).toBe('stop');
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(typeof parsed.capital).toBe('string');
  });

  it('refuses the json_schema form (the reason json=json_object exists), before any text', async () => {
    const { err, deltas } = await failure(
      backendFor(server, { jsonMode: 'json_schema' }).chat(
        question('Capital of France, as JSON.', { jsonSchema: { type: 'object' } }),
      ),
    );
    expect(deltas).toEqual([]);
    // A pydantic validation error that llama-cpp-python answers with 500: 'unavailable', so a pool would
    // try the request elsewhere (and fail the same way there); the config, not the server, is at fault.
    expect(kindOf(err)).toBe('unavailable');
    expect((err as Error).message).toContain('500');
  });

  it('passes its health check (GET /v1/models) and learns no context size from it', async () => {
    const backend = backendFor(server);
    await expect(backend.health()).resolves.toBeUndefined();
    // llama-cpp-python's model cards have no max_model_len: the context size must be configured.
    expect(backend.contextTokens).toBeUndefined();
  });

  it('answers a model name it does not serve with its only model', async () => {
    // llama-cpp-python falls back to its default model for any unknown name (llama_cpp/server/model.py),
    // so a wrong `upstream=` is not an error there: the request is served, by the one model it has.
    const { text, end } = await collect(
      backendFor(server, { upstreamModel: 'no-such-model' }).chat(question('What is the capital of France?')),
    );
    expect(text).toContain('Paris');
    expect(end?.finishReason).toBe('stop');
  });
});

describe('llama-cpp-python with --interrupt_requests on (its default)', () => {
  let server: LlamaCppServer;
  beforeAll(async () => {
    server = await start({ interruptRequests: true });
  });

  const long = question('Write a long story about a dragon.', { maxTokens: 200 });

  it('cuts a stream when a health check arrives, which the adapter reports as interrupted', async () => {
    const backend = backendFor(server);
    const stream = backend.chat(long)[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value).toMatchObject({ type: 'delta' });
    // GET /v1/models waits for the model lock; with interrupt_requests the running stream gives it up by
    // sending `data: [DONE]` without a finish reason.
    await backend.health();
    const rest: ChatEvent[] = [];
    let error: unknown;
    try {
      for (let next = await stream.next(); !next.done; next = await stream.next()) rest.push(next.value);
    } catch (err) {
      error = err;
    }
    expect(rest.filter((e) => e.type === 'end')).toEqual([]);
    expect(kindOf(error)).toBe('interrupted');
    expect((error as Error).message).toContain('without a finish reason');
  });

  it('leaves the stream alone when the health check GETs a path that takes no lock', async () => {
    const backend = backendFor(server, { healthPath: `${server.origin}/openapi.json` });
    const stream = backend.chat(long)[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value).toMatchObject({ type: 'delta' });
    await backend.health();
    const events: ChatEvent[] = [];
    for (let next = await stream.next(); !next.done; next = await stream.next()) events.push(next.value);
    expect(events.at(-1)).toMatchObject({ type: 'end' });
  });
});

type Outcome =
  | { status: 'ok'; text: string }
  | { status: 'failed'; text: string; error: unknown }
  | { status: 'hung'; text: string };

/** Counts, per backend, the calls waiting for their first delta and those streaming. */
class Watched implements LlmBackend {
  readonly kind = 'openai' as const;
  waiting = 0;
  streaming = 0;
  onFirstDelta: (() => void) | undefined;

  constructor(private readonly inner: OpenAiBackend) {}

  get model(): string {
    return this.inner.model;
  }

  get endpoint(): string {
    return this.inner.endpoint;
  }

  async *chat(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatEvent> {
    this.waiting++;
    let streamed = false;
    try {
      for await (const event of this.inner.chat(request, signal)) {
        if (event.type === 'delta' && !streamed) {
          streamed = true;
          this.waiting--;
          this.streaming++;
          this.onFirstDelta?.();
        }
        yield event;
      }
    } finally {
      if (streamed) this.streaming--;
      else this.waiting--;
    }
  }

  health(signal?: AbortSignal): Promise<void> {
    return this.inner.health(signal);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('a pool of two llama-cpp-python servers, one SIGKILLed under load', () => {
  let a: LlamaCppServer;
  let b: LlamaCppServer;
  beforeAll(async () => {
    [a, b] = await Promise.all([start(), start()]);
  });

  it('completes every request that had not started streaming; those cut mid-stream end interrupted', async () => {
    const total = 12;
    const concurrency = 4;
    const boundMs = 90_000;
    const watchedA = new Watched(backendFor(a));
    const watchedB = new Watched(backendFor(b));
    let retried = 0;
    const pool = new BackendPool('twin', [watchedA, watchedB], {
      firstEventTimeoutMs: 60_000,
      idleTimeoutMs: 30_000,
      listener: { retried: () => void retried++ },
    });

    const outcomes: Outcome[] = [];
    let killed: Promise<void> | undefined;
    let streamingOnAAtKill = 0;
    // The kill happens on a stream's first delta at A, before the pool sees it: that stream is surely cut
    // mid-answer, and the request queued behind it (llama-cpp-python generates one at a time) has sent
    // nothing yet, so it must move to B.
    watchedA.onFirstDelta = () => {
      if (killed || outcomes.length < 2 || watchedA.waiting < 1) return;
      streamingOnAAtKill = watchedA.streaming;
      killed = a.kill();
    };

    const one = async (i: number): Promise<Outcome> => {
      const caller = new AbortController();
      let text = '';
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => {
          caller.abort(new Error('hung'));
          resolve({ status: 'hung', text });
        }, boundMs);
      });
      const read = (async (): Promise<Outcome> => {
        try {
          const request = question(`Write one sentence about the sea, number ${i}.`, { maxTokens: 24 });
          for await (const e of pool.chat(request, caller.signal)) if (e.type === 'delta') text += e.text;
          return { status: 'ok', text };
        } catch (error) {
          return { status: 'failed', text, error };
        }
      })();
      try {
        return await Promise.race([read, bound]);
      } finally {
        clearTimeout(timer);
      }
    };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) outcomes.push(await one(next++));
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await killed;
    await pool.close();

    expect(killed).toBeDefined();
    expect(a.running).toBe(false);
    expect(outcomes).toHaveLength(total);
    expect(outcomes.filter((o) => o.status === 'hung')).toEqual([]);
    // Not one request failed before it had streamed something.
    expect(outcomes.filter((o) => o.status !== 'ok' && o.text === '')).toEqual([]);
    const failed = outcomes.filter((o): o is Extract<Outcome, { status: 'failed' }> => o.status === 'failed');
    expect(failed.map((o) => kindOf(o.error))).toEqual(failed.map(() => 'interrupted'));
    // The stream that triggered the kill, and nothing that A was not streaming at that moment.
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeLessThanOrEqual(streamingOnAAtKill);
    expect(outcomes.filter((o) => o.status === 'ok')).toHaveLength(total - failed.length);
    for (const o of outcomes.filter((x) => x.status === 'ok')) expect(o.text.trim()).not.toBe('');
    // The request queued at A when it died went to B.
    expect(retried).toBeGreaterThanOrEqual(1);
    expect(pool.inFlight).toBe(0);
  });
});

describe('the inference router answering through llama-cpp-python', () => {
  let server: LlamaCppServer;
  let dir: string;
  let warehouse: Warehouse;
  let router: InferenceRouterModule;
  let client: Client<typeof inferencev1.InferenceService>;

  /** A stand-in for retrieval: one fixed passage, whatever the query. */
  const passage: Passage = {
    chunkId: 'chunk_paris_1',
    documentId: 'doc_paris',
    text: 'Paris is the capital and largest city of France, on the river Seine.',
    score: 0.9,
    title: 'Paris',
    url: 'https://example.com/articles/paris',
    category: 1,
    platform: 1,
  };
  const search: SearchFn = () => Promise.resolve([passage]);

  beforeAll(async () => {
    server = await start();
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-llama-router-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'warehouse.db')}`);
    const models = new ModelRouter();
    await models.upsert('twin', [backendFor(server, { contextTokens: 2048 })]);
    const logger = pino({ level: 'silent' });
    // The model's own words are under test here (the server's wiring), not the grounding fallback.
    router = await createInferenceRouterModule({
      warehouse,
      search,
      models,
      logger,
      answers: { fallback: false },
    });
    const rpc = buildServer({
      name: router.name,
      register: (r) => router.register(r),
      services: router.services,
      health: createModuleHealth(router),
      logger,
    });
    client = createClient(inferencev1.InferenceService, inProcessTransport(rpc.routes));
  });

  afterAll(async () => {
    await router?.stop?.();
    await warehouse?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Generate answers with the model, cites the retrieved passage and counts tokens', async () => {
    const res = await client.generate({
      query: 'What is the capital of France?',
      authorId: 'ada',
      generation: { maxTokens: 48, temperature: 0 },
    });
    expect(res.extractive).toBe(false);
    expect(res.model).toBe('twin');
    expect(res.answer).toContain('Paris');
    expect(res.citations[0]?.url).toBe(passage.url);
    expect(res.usage?.completionTokens).toBeGreaterThan(0);
  });
});
