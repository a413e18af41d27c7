// The OpenAI routes over a real loopback server, in front of stand-in InferenceService and EmbedService
// handlers (served through buildServer, so their errors reach the routes as real Connect codes): request
// mapping, both response shapes, errors before and during a stream, a client that goes away, keys, bounds.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { commonv1, embedv1, inferencev1 } from '@llmtwin/contracts';
import { InProcessDirectory } from '@llmtwin/host';
import { buildServer, HealthService, listen, type ListeningServer, type NodeHandler } from '@llmtwin/runtime';
import { pino } from 'pino';
import { keyFromHeaders } from '../auth/api-key-security.js';
import type { GatewaySecurity, Principal } from '../auth/principal.js';
import { openaiRoutes } from './openai.routes.js';

const logger = pino({ level: 'silent' });
const MAX_BODY = 16 * 1024;

// Stands in for ApiKeySecurity: fixed keys, one of them over its quota.
class FakeSecurity implements GatewaySecurity {
  private readonly keys: Record<string, Principal> = {
    lt_author: { keyId: 'key_author', authorId: 'alice', admin: false },
    lt_admin: { keyId: 'key_admin', admin: true },
  };
  async authenticate(headers: Headers): Promise<Principal> {
    const key = keyFromHeaders(headers);
    if (key === undefined)
      throw new ConnectError('no API key: send Authorization: Bearer <key>', Code.Unauthenticated);
    if (key === 'lt_limited') {
      throw new ConnectError('over quota', Code.ResourceExhausted, new Headers({ 'retry-after': '7' }));
    }
    const principal = this.keys[key];
    if (!principal) throw new ConnectError('unknown API key', Code.Unauthenticated);
    return principal;
  }
}

type StreamEvent = inferencev1.GenerateStreamResponse['event'];

function doneMessage(overrides: Partial<Record<string, unknown>> = {}) {
  return {
    generationId: 'gen_1',
    answer: 'Twins answer [1].',
    citations: [
      {
        index: 1,
        documentId: 'doc_1',
        chunkId: 'chunk_1',
        title: 'On twins',
        url: 'https://example.com/twins',
        publishTime: timestampFromMs(Date.parse('2024-05-01T00:00:00Z')),
        score: 0.75,
        // Two passages of the one document: one citation.
        passages: [
          { chunkId: 'chunk_1', score: 0.75, snippet: 'Twins answer.', rank: 1 },
          { chunkId: 'chunk_4', score: 0.5, snippet: 'Later on, twins say more.', rank: 3 },
        ],
      },
    ],
    model: 'twin-model',
    promptTemplateVersion: 'rag-v1',
    usage: { promptTokens: 11, completionTokens: 4 },
    finishReason: 'stop',
    extractive: false,
    ...overrides,
  };
}

// What the stand-in services do; each test sets what it needs.
const upstream = {
  requests: [] as (inferencev1.GenerateRequest | inferencev1.GenerateStreamRequest)[],
  generate: async (): Promise<ReturnType<typeof doneMessage>> => doneMessage(),
  // Set in beforeEach.
  stream: async function* (_signal: AbortSignal): AsyncGenerator<StreamEvent> {
    yield* [];
  },
};

const inferenceImpl: Partial<ServiceImpl<typeof inferencev1.InferenceService>> = {
  async generate(req) {
    upstream.requests.push(req);
    return upstream.generate();
  },
  async *generateStream(req, ctx) {
    upstream.requests.push(req);
    for await (const event of upstream.stream(ctx.signal)) yield { event } as never;
  },
  listModels: () => ({ models: [{ id: 'twin-model', backend: 'openai', endpoints: [], healthy: true }] }),
};

const embedImpl: Partial<ServiceImpl<typeof embedv1.EmbedService>> = {
  embedTexts: (req) => ({
    embeddings: req.texts.map((t, i) => ({ values: [i, 0.5, -1.25], tokenCount: t.split(' ').length })),
    model: 'mini-embedder',
  }),
  getEmbedderInfo: () => ({ model: 'mini-embedder', dimensions: 3, maxTokens: 256, adapter: 'onnx' }),
};

function serverRoutes(
  name: string,
  register: Parameters<typeof buildServer>[0]['register'],
  services: Parameters<typeof buildServer>[0]['services'],
) {
  return buildServer({ name, register, services, health: new HealthService(), logger }).routes;
}

let server: ListeningServer;
let base: string;

beforeAll(async () => {
  const directory = new InProcessDirectory();
  directory.add(
    'inference-router',
    serverRoutes('inference-router', (r) => r.service(inferencev1.InferenceService, inferenceImpl), [
      inferencev1.InferenceService,
    ]),
  );
  directory.add(
    'embed',
    serverRoutes('embed', (r) => r.service(embedv1.EmbedService, embedImpl), [embedv1.EmbedService]),
  );
  const next: NodeHandler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('next');
  };
  const handler = openaiRoutes({ directory, security: new FakeSecurity(), maxBodyBytes: MAX_BODY, logger })(
    next,
  );
  server = await listen(handler, { port: 0, host: '127.0.0.1' });
  base = server.url;
});

afterAll(async () => {
  await server?.close(1000);
});

beforeEach(() => {
  upstream.requests = [];
  upstream.generate = async () => doneMessage();
  upstream.stream = async function* () {
    yield { case: 'delta', value: 'Twins ' };
    yield { case: 'delta', value: 'answer [1].' };
    yield { case: 'done', value: doneMessage() as never };
  };
});

const post = (path: string, body: unknown, key = 'lt_author', init: RequestInit = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });

const ask = (content = 'What do twins say?') => ({
  model: 'twin-model',
  messages: [{ role: 'user', content }],
});

interface OpenAiError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function sseEvents(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      expect(block.startsWith('data: ')).toBe(true);
      return block.slice('data: '.length);
    });
}

describe('POST /v1/chat/completions', () => {
  it('maps the conversation and options to GenerateRequest and answers a chat.completion with citations', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'twin-model',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: null },
        { role: 'assistant', content: 'Hello!' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What do' },
            { type: 'text', text: 'twins say?' },
          ],
        },
      ],
      max_tokens: 50,
      max_completion_tokens: 64,
      temperature: 0.5,
      top_p: 0.9,
      stop: 'END',
      user: 'ignored-for-author-keys',
      frequency_penalty: 0,
      llmtwin: {
        top_k: 3,
        categories: ['article', 'POST'],
        platforms: ['substack'],
        published_after: '2024-01-01',
        expand_queries: 2,
        self_query: true,
        rerank: true,
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: 'chatcmpl-gen_1',
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'twin-model',
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Twins answer [1].',
            refusal: null,
            annotations: [
              {
                type: 'url_citation',
                url_citation: {
                  start_index: 13,
                  end_index: 16,
                  title: 'On twins',
                  url: 'https://example.com/twins',
                },
              },
            ],
          },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 },
      citations: [
        {
          index: 1,
          title: 'On twins',
          url: 'https://example.com/twins',
          published_at: '2024-05-01T00:00:00.000Z',
          document_id: 'doc_1',
          chunk_id: 'chunk_1',
          score: 0.75,
          passages: [
            { chunk_id: 'chunk_1', score: 0.75, snippet: 'Twins answer.', rank: 1 },
            { chunk_id: 'chunk_4', score: 0.5, snippet: 'Later on, twins say more.', rank: 3 },
          ],
        },
      ],
      llmtwin: {
        generation_id: 'gen_1',
        prompt_template_version: 'rag-v1',
        extractive: false,
        model_version: null,
        model_version_id: null,
        fallback: null,
      },
    });

    const [req] = upstream.requests;
    expect(req!.query).toBe('What do\ntwins say?');
    expect(req!.authorId).toBe('alice');
    expect(req!.history.map((m) => [m.role, m.content])).toEqual([
      ['system', 'Be brief.'],
      ['user', 'Hi'],
      ['assistant', 'Hello!'],
    ]);
    expect(req!.generation).toMatchObject({
      model: 'twin-model',
      maxTokens: 64,
      topP: expect.closeTo(0.9, 5),
      stop: ['END'],
    });
    expect(req!.generation!.temperature).toBeCloseTo(0.5);
    expect(req!.retrieval).toMatchObject({
      topK: 3,
      categories: [commonv1.Category.ARTICLE, commonv1.Category.POST],
      platforms: [commonv1.Platform.SUBSTACK],
      expandQueries: 2,
      selfQuery: true,
      rerank: true,
    });
    expect(req!.retrieval!.publishedAfter?.seconds).toBe(BigInt(Date.parse('2024-01-01') / 1000));
    expect(req!.disableRag).toBe(false);
  });

  it('streams chat.completion.chunk events: role first, deltas, then finish_reason with citations, usage and [DONE]', async () => {
    // The author's fine-tuned version answered: the final chunk names it.
    upstream.stream = async function* () {
      yield { case: 'delta', value: 'Twins ' };
      yield { case: 'delta', value: 'answer [1].' };
      yield {
        case: 'done',
        value: doneMessage({ modelVersion: 'alice-twin/3', modelVersionId: 'mv_alice_3' }) as never,
      };
    };
    const res = await post('/v1/chat/completions', {
      ...ask(),
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseEvents(await res.text());
    expect(events[events.length - 1]).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Record<string, never>);
    expect(new Set(chunks.map((c) => c['id'])).size).toBe(1);
    expect(chunks.every((c) => c['object'] === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!['choices']).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ]);
    const text = chunks
      .flatMap((c) => c['choices'] as unknown as { delta: { content?: string } }[])
      .map((c) => c.delta.content ?? '')
      .join('');
    expect(text).toBe('Twins answer [1].');
    const final = chunks[chunks.length - 2]!;
    expect(final['choices']).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(final['citations']).toEqual([
      expect.objectContaining({ index: 1, url: 'https://example.com/twins' }),
    ]);
    expect(final['llmtwin']).toEqual({
      generation_id: 'gen_1',
      prompt_template_version: 'rag-v1',
      extractive: false,
      model_version: 'alice-twin/3',
      model_version_id: 'mv_alice_3',
      fallback: null,
    });
    expect(final['system_fingerprint']).toBe('mv_alice_3');
    const usage = chunks[chunks.length - 1]!;
    expect(usage['choices']).toEqual([]);
    expect(usage['usage']).toEqual({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 });
    expect(chunks.slice(0, -1).every((c) => c['usage'] === null)).toBe(true);
  });

  it('streams over HTTP/2 (h2c) as well', async () => {
    const session = http2.connect(base);
    try {
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/v1/chat/completions',
          'content-type': 'application/json',
          authorization: 'Bearer lt_author',
        });
        let status = 0;
        let text = '';
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (text += c));
        stream.on('end', () => resolve({ status, text }));
        stream.on('error', reject);
        stream.end(JSON.stringify({ ...ask(), stream: true }));
      });
      expect(status).toBe(200);
      const events = sseEvents(text);
      expect(events[events.length - 1]).toBe('[DONE]');
      expect(events.length).toBe(5);
    } finally {
      session.close();
    }
  });

  it('leaves usage out of the stream unless include_usage asks for it', async () => {
    const res = await post('/v1/chat/completions', { ...ask(), stream: true });
    const chunks = sseEvents(await res.text())
      .slice(0, -1)
      .map((e) => JSON.parse(e) as Record<string, unknown>);
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
    expect(chunks[chunks.length - 1]!['citations']).toBeDefined();
  });

  it('answers an error raised before the first event with its HTTP status, not a 200 stream', async () => {
    upstream.stream = async function* () {
      yield* [];
      throw new ConnectError('model nope is not configured', Code.NotFound);
    };
    const res = await post('/v1/chat/completions', { ...ask(), model: 'nope', stream: true });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({
      error: {
        message: 'model nope is not configured',
        type: 'invalid_request_error',
        param: null,
        code: 'not_found',
      },
    });
  });

  it('ends a stream that fails midway with an error event, without [DONE]', async () => {
    upstream.stream = async function* () {
      yield { case: 'delta', value: 'Twins ' };
      throw new ConnectError('the model backend went away', Code.Unavailable);
    };
    const res = await post('/v1/chat/completions', { ...ask(), stream: true });
    expect(res.status).toBe(200);
    const events = sseEvents(await res.text());
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events[events.length - 1]!)).toEqual({
      error: {
        message: 'the model backend went away',
        type: 'server_error',
        param: null,
        code: 'unavailable',
      },
    });
  });

  it('cancels the upstream call when the client goes away mid-stream', async () => {
    let upstreamAborted!: () => void;
    const aborted = new Promise<void>((resolve) => (upstreamAborted = resolve));
    upstream.stream = async function* (signal) {
      yield { case: 'delta', value: 'Twins ' };
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      upstreamAborted();
      throw new ConnectError('cancelled', Code.Canceled);
    };
    const client = new AbortController();
    const res = await post('/v1/chat/completions', { ...ask(), stream: true }, 'lt_author', {
      signal: client.signal,
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
    client.abort();
    await aborted;
  });

  it.each([
    [Code.PermissionDenied, 403, 'permission_error', 'permission_denied'],
    [Code.InvalidArgument, 400, 'invalid_request_error', 'invalid_argument'],
    [Code.FailedPrecondition, 400, 'invalid_request_error', 'failed_precondition'],
    [Code.ResourceExhausted, 429, 'rate_limit_error', 'rate_limit_exceeded'],
    [Code.Unavailable, 503, 'server_error', 'unavailable'],
    [Code.Internal, 500, 'server_error', 'internal'],
  ])('maps upstream code %s to HTTP %s', async (code, status, type, errorCode) => {
    upstream.generate = async () => {
      throw new ConnectError('upstream says no', code);
    };
    const res = await post('/v1/chat/completions', ask());
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({
      error: { message: 'upstream says no', type, param: null, code: errorCode },
    });
  });

  it('keeps the details of an unexpected upstream failure out of the answer', async () => {
    upstream.generate = async () => {
      throw new Error('secret stack detail');
    };
    const res = await post('/v1/chat/completions', ask());
    expect(res.status).toBe(500);
    const body = (await res.json()) as OpenAiError;
    expect(body.error.message).toBe('internal error');
  });
});

describe('authors and keys', () => {
  it('answers 401 in OpenAI shape without a key, or with an unknown one', async () => {
    for (const key of ['', 'lt_unknown']) {
      const res = await post('/v1/chat/completions', ask(), key);
      expect(res.status).toBe(401);
      const body = (await res.json()) as OpenAiError;
      expect(body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    }
    expect(upstream.requests).toEqual([]);
  });

  it('answers 429 with retry-after when the key is over its quota', async () => {
    const res = await post('/v1/chat/completions', ask(), 'lt_limited');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(((await res.json()) as OpenAiError).error.type).toBe('rate_limit_error');
  });

  it('refuses an author key that asks for another author', async () => {
    const res = await post('/v1/chat/completions', { ...ask(), llmtwin: { author_id: 'bob' } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as OpenAiError).error.message).toMatch(/belongs to author "alice"/);
    expect(upstream.requests).toEqual([]);
  });

  it('lets an admin key name the author in llmtwin.author_id or user, and asks for one when neither is there', async () => {
    await post(
      '/v1/chat/completions',
      { ...ask(), user: 'carol', llmtwin: { author_id: 'bob' } },
      'lt_admin',
    );
    await post('/v1/chat/completions', { ...ask(), user: 'carol' }, 'lt_admin');
    expect(upstream.requests.map((r) => r.authorId)).toEqual(['bob', 'carol']);
    const res = await post('/v1/chat/completions', ask(), 'lt_admin');
    expect(res.status).toBe(400);
    expect(((await res.json()) as OpenAiError).error).toMatchObject({
      param: 'llmtwin.author_id',
      message: expect.stringMatching(/say whose twin answers/),
    });
  });
});

describe('request validation', () => {
  it.each([
    ['{not json', null, /not valid JSON/],
    [[1, 2], null, /must be a JSON object/],
    [{ model: 'm' }, 'messages', /messages must be a non-empty array/],
    [
      { messages: [{ role: 'assistant', content: 'hi' }] },
      'messages[0].role',
      /last message must be the user's question/,
    ],
    [{ messages: [{ role: 'user', content: '  ' }] }, 'messages[0].content', /question is empty/],
    [
      { messages: [{ role: 'robot', content: 'x' }] },
      'messages[0].role',
      /must be one of system, developer, user, assistant/,
    ],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', /does not call tools/],
    [{ ...ask(), n: 2 }, 'n', /n must be 1/],
    [{ ...ask(), response_format: { type: 'json_object' } }, 'response_format', /answers in prose/],
    [{ ...ask(), tools: [{ type: 'function' }] }, 'tools', /does not call tools/],
    [{ ...ask(), temperature: 3 }, 'temperature', /between 0 and 2/],
    [{ ...ask(), max_tokens: 0 }, 'max_tokens', /at least 1/],
    [{ ...ask(), stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', /at most 4/],
    [{ ...ask(), stream: 'yes' }, 'stream', /true or false/],
    [{ ...ask(), llmtwin: { topk: 3 } }, 'llmtwin.topk', /not a known field/],
    [{ ...ask(), llmtwin: { categories: ['poem'] } }, 'llmtwin.categories[0]', /one of: article, post, code/],
    [{ ...ask(), llmtwin: { published_after: 'last week' } }, 'llmtwin.published_after', /ISO 8601/],
    [
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] },
      'messages[0].content[0].type',
      /text parts only/,
    ],
  ])('answers 400 to %j, naming %s', async (body, param, message) => {
    const res = await post('/v1/chat/completions', body);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as OpenAiError;
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
    expect(upstream.requests).toEqual([]);
  });

  it('answers 413 to a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ ...ask('x'.repeat(MAX_BODY)) });
    const declared = await post('/v1/chat/completions', big);
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as OpenAiError).error.code).toBe('request_too_large');

    // Chunked, with no content-length to refuse up front.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer lt_author' },
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(big.slice(i * (big.length / 8), (i + 1) * (big.length / 8)));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toMatchObject({ error: { code: 'request_too_large' } });
    expect(upstream.requests).toEqual([]);
  });
});

describe('GET /v1/models', () => {
  it('lists the chat models and the embedder in OpenAI list shape', async () => {
    const res = await fetch(`${base}/v1/models`, { headers: { authorization: 'Bearer lt_author' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      object: 'list',
      data: [
        {
          id: 'twin-model',
          object: 'model',
          created: expect.any(Number),
          owned_by: 'llmtwin',
          llmtwin: { kind: 'chat', backend: 'openai', healthy: true },
        },
        {
          id: 'mini-embedder',
          object: 'model',
          created: expect.any(Number),
          owned_by: 'llmtwin',
          llmtwin: { kind: 'embedding', backend: 'onnx', dimensions: 3 },
        },
      ],
    });
  });

  it('retrieves one model, and answers 404 model_not_found for another', async () => {
    const headers = { authorization: 'Bearer lt_author' };
    const one = await fetch(`${base}/v1/models/twin-model`, { headers });
    expect(((await one.json()) as { id: string }).id).toBe('twin-model');
    const missing = await fetch(`${base}/v1/models/gpt-4o`, { headers });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as OpenAiError).error).toMatchObject({
      code: 'model_not_found',
      param: 'model',
    });
  });
});

describe('POST /v1/embeddings', () => {
  it('embeds a string or a list, as floats or base64', async () => {
    const res = await post('/v1/embeddings', { input: ['one two', 'three'], model: 'mini-embedder' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0, 0.5, -1.25] },
        { object: 'embedding', index: 1, embedding: [1, 0.5, -1.25] },
      ],
      model: 'mini-embedder',
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
    const b64 = await post('/v1/embeddings', { input: 'one', encoding_format: 'base64' });
    const { data } = (await b64.json()) as { data: { embedding: string }[] };
    const bytes = Buffer.from(data[0]!.embedding, 'base64');
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))).toEqual([
      0, 0.5, -1.25,
    ]);
  });

  it.each([
    [{ input: [[1, 2, 3]] }, 'input', /token ids are not supported/],
    [{ input: [] }, 'input', /empty array/],
    [{}, 'input', /string or an array of strings/],
    [{ input: 'x', encoding_format: 'int8' }, 'encoding_format', /'float' or 'base64'/],
  ])('answers 400 to %j', async (body, param, message) => {
    const res = await post('/v1/embeddings', body);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as OpenAiError;
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
  });

  it('answers 404 for a model that is not the live embedder', async () => {
    const res = await post('/v1/embeddings', { input: 'x', model: 'text-embedding-3-small' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as OpenAiError).error.message).toMatch(/mini-embedder/);
  });
});

describe('routing', () => {
  it('passes everything outside /v1 to the next handler', async () => {
    const res = await fetch(`${base}/llmtwin.inference.v1.InferenceService/Generate`, { method: 'POST' });
    expect(await res.text()).toBe('next');
  });

  it('answers unknown /v1 paths with 404 and a wrong method with 405', async () => {
    const unknown = await post('/v1/responses', {});
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as OpenAiError).error.message).toMatch(/POST \/v1\/chat\/completions/);
    const wrong = await fetch(`${base}/v1/chat/completions`, {
      headers: { authorization: 'Bearer lt_author' },
    });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});
