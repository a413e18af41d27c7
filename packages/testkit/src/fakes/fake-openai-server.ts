// A FAKE OpenAI-compatible server for tests: a real HTTP server on 127.0.0.1 that speaks the documented
// Chat Completions wire format (POST /v1/chat/completions, streamed as `data: {chat.completion.chunk}`
// events ending in `data: [DONE]`, GET /v1/models, GET /health) but generates nothing: its answer is a
// deterministic function of the request, split into word-sized "tokens". It lets tests drive the failure
// modes real backends show (slow first token, errors with proper statuses, a connection dropped mid-stream,
// a stream that stalls, a server that disappears) without a model. It is not vLLM and not OpenAI; the
// wire shapes follow the OpenAI API reference (chat object, chunk object, error object, stream_options).
import type http from 'node:http';
import {
  FakeAnswer,
  FakeHttpServer,
  applyStop,
  exampleForSchema,
  fakeTokens,
  readJsonBody,
  type FakeErrorAnswer,
  type FakePacing,
  type FakeRequestRecord,
  type FakeServer,
} from './fake-server-kit.js';

export interface FakeChatMessage {
  role: string;
  content: string;
}

/** What the reply function sees of a request. */
export interface FakeChatCall {
  model: string;
  messages: FakeChatMessage[];
  /** The content of the last user message ('' when there is none). */
  lastUserMessage: string;
  /**
   * The schema the request asked the JSON to match: response_format.json_schema.schema, or the
   * response_format.schema sent with json_object (the llama.cpp form).
   */
  jsonSchema?: Record<string, unknown>;
  /** True for response_format json_schema and json_object: the reply must then be JSON. */
  json: boolean;
  /** The parsed request body, for anything else a test wants to look at. */
  body: Record<string, unknown>;
}

export interface FakeFailure {
  status: number;
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
  /** Send this body verbatim instead of an OpenAI error object (a proxy's HTML 502 page, say). */
  rawBody?: string;
  contentType?: string;
}

export interface FakeOpenAiOptions extends FakePacing {
  /**
   * The answer's text. Default: `Echo: <last user message>`; for a JSON request, a value built from the
   * schema whose strings are the last user message (or `{"echo": …}` for json_object).
   */
  reply?: (call: FakeChatCall) => string | Promise<string>;
  /** Answer chat requests with this HTTP error instead. */
  failWith?: number | FakeFailure;
  /** With failWith: fail only this many chat requests, then answer normally. */
  failTimes?: number;
  /** Model ids served. When given, other models are answered with 404 model_not_found. */
  models?: string[];
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Prompt + max tokens above this are rejected with 400, as vLLM does past max_model_len. */
  maxContextTokens?: number;
  /** When false, /health and /v1/models answer 503. Default true. */
  healthy?: boolean;
}

export interface FakeOpenAiServer extends FakeServer {
  /** Base URL including /v1, as OpenAI clients expect, e.g. http://127.0.0.1:PORT/v1 */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /**
   * LoRA adapters loaded at runtime, name → path, as vLLM keeps them (POST /v1/load_lora_adapter and
   * /v1/unload_lora_adapter, which vLLM offers when started with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).
   * A loaded adapter is listed by /v1/models and may be asked for as the model.
   */
  readonly loras: ReadonlyMap<string, string>;
  /** Chat requests received (a convenience over `requests`). */
  readonly chatRequests: FakeRequestRecord[];
  /** Options are read on every request, so a test may change them between calls. */
  readonly options: FakeOpenAiOptions;
}

const ERROR_TYPES: Record<number, [type: string, code: string | null, message: string]> = {
  400: ['invalid_request_error', null, 'Invalid request.'],
  401: ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.'],
  403: ['invalid_request_error', 'unsupported_country_region_territory', 'Request not allowed.'],
  404: ['invalid_request_error', 'model_not_found', 'The model does not exist.'],
  405: ['invalid_request_error', null, 'Method not allowed.'],
  422: ['invalid_request_error', null, 'Unprocessable request.'],
  429: ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests.'],
  500: ['server_error', null, 'The server had an error while processing your request.'],
  502: ['server_error', null, 'Bad gateway.'],
  503: ['server_error', 'service_unavailable', 'The engine is currently overloaded, please try again later.'],
  504: ['server_error', null, 'Gateway timeout.'],
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type?: string,
    readonly code?: string | null,
    readonly param?: string | null,
  ) {
    super(message);
  }
}

function sendError(res: http.ServerResponse, failure: FakeFailure): void {
  if (res.headersSent) return;
  if (failure.rawBody !== undefined) {
    res.writeHead(failure.status, { 'content-type': failure.contentType ?? 'text/html; charset=utf-8' });
    res.end(failure.rawBody);
    return;
  }
  const [type, code, message] = ERROR_TYPES[failure.status] ?? ['server_error', null, 'Error.'];
  const body = {
    error: {
      message: failure.message ?? message,
      type: failure.type ?? type,
      param: failure.param ?? null,
      code: failure.code === undefined ? code : failure.code,
    },
  };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (failure.status === 429 || failure.status === 503) headers['retry-after'] = '1';
  res.writeHead(failure.status, headers);
  res.end(JSON.stringify(body));
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    // The array form: [{type:'text', text}, ...]; other part types carry no text for this fake.
    return content
      .map((p) =>
        p && typeof p === 'object' && (p as { type?: unknown }).type === 'text'
          ? (p as { text?: unknown }).text
          : '',
      )
      .filter((t): t is string => typeof t === 'string')
      .join('');
  }
  if (content === null || content === undefined) return '';
  throw new HttpError(
    400,
    "Invalid type for 'messages[].content'.",
    'invalid_request_error',
    null,
    'messages',
  );
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

interface ParsedChat {
  call: FakeChatCall;
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | undefined;
  stop: string[];
}

function parseChat(body: unknown): ParsedChat {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'The request body must be a JSON object.', 'invalid_request_error');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') {
    throw new HttpError(400, 'you must provide a model parameter', 'invalid_request_error', null, 'model');
  }
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    throw new HttpError(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1.",
      'invalid_request_error',
      'empty_array',
      'messages',
    );
  }
  const messages: FakeChatMessage[] = b.messages.map((m: unknown, i: number) => {
    const msg = m as { role?: unknown; content?: unknown };
    if (typeof msg !== 'object' || msg === null || typeof msg.role !== 'string' || !ROLES.has(msg.role)) {
      throw new HttpError(
        400,
        `Invalid value for 'messages[${i}].role'.`,
        'invalid_request_error',
        'invalid_value',
        `messages[${i}].role`,
      );
    }
    return { role: msg.role, content: contentText(msg.content) };
  });
  const numberParam = (name: string, min: number, max: number): void => {
    const v = b[name];
    if (v === undefined || v === null) return;
    if (typeof v !== 'number' || v < min || v > max) {
      throw new HttpError(
        400,
        `Invalid '${name}': expected a number between ${min} and ${max}, got ${JSON.stringify(v)}.`,
        'invalid_request_error',
        'invalid_value',
        name,
      );
    }
  };
  numberParam('temperature', 0, 2);
  numberParam('top_p', 0, 1);
  const maxRaw = b.max_completion_tokens ?? b.max_tokens;
  let maxTokens: number | undefined;
  if (maxRaw !== undefined && maxRaw !== null) {
    if (typeof maxRaw !== 'number' || !Number.isInteger(maxRaw) || maxRaw < 1) {
      throw new HttpError(
        400,
        `Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got ${JSON.stringify(maxRaw)} instead.`,
        'invalid_request_error',
        'integer_below_min_value',
        'max_tokens',
      );
    }
    maxTokens = maxRaw;
  }
  const stopRaw = b.stop;
  const stop =
    stopRaw === undefined || stopRaw === null ? [] : typeof stopRaw === 'string' ? [stopRaw] : stopRaw;
  if (!Array.isArray(stop) || stop.length > 4 || stop.some((s) => typeof s !== 'string')) {
    throw new HttpError(400, "Invalid 'stop': up to 4 strings.", 'invalid_request_error', null, 'stop');
  }

  let json = false;
  let jsonSchema: Record<string, unknown> | undefined;
  const rf = b.response_format as { type?: unknown; json_schema?: unknown } | undefined | null;
  if (rf !== undefined && rf !== null) {
    if (rf.type === 'json_schema') {
      const js = rf.json_schema as { name?: unknown; schema?: unknown } | undefined;
      if (typeof js !== 'object' || js === null) {
        throw new HttpError(
          400,
          "Missing required parameter: 'response_format.json_schema'.",
          'invalid_request_error',
          'missing_required_parameter',
          'response_format.json_schema',
        );
      }
      if (typeof js.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(js.name)) {
        throw new HttpError(
          400,
          "Invalid 'response_format.json_schema.name': must match ^[a-zA-Z0-9_-]{1,64}$.",
          'invalid_request_error',
          'invalid_value',
          'response_format.json_schema.name',
        );
      }
      json = true;
      if (typeof js.schema === 'object' && js.schema !== null) {
        jsonSchema = js.schema as Record<string, unknown>;
      }
    } else if (rf.type === 'json_object') {
      json = true;
      // Not an OpenAI field: llama.cpp's server and llama-cpp-python read a schema beside json_object,
      // and a client configured for them sends it there.
      const schema = (rf as { schema?: unknown }).schema;
      if (typeof schema === 'object' && schema !== null) jsonSchema = schema as Record<string, unknown>;
    } else if (rf.type !== 'text') {
      throw new HttpError(
        400,
        `Invalid value: '${String(rf.type)}'. Supported values are: 'text', 'json_object', and 'json_schema'.`,
        'invalid_request_error',
        'invalid_value',
        'response_format.type',
      );
    }
  }

  const streamOptions = b.stream_options as { include_usage?: unknown } | undefined | null;
  const stream = b.stream === true;
  if (!stream && streamOptions) {
    throw new HttpError(
      400,
      'The stream_options parameter is only allowed when stream is enabled.',
      'invalid_request_error',
      null,
      'stream_options',
    );
  }
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return {
    call: {
      model: b.model,
      messages,
      lastUserMessage: lastUser?.content ?? '',
      json,
      ...(jsonSchema ? { jsonSchema } : {}),
      body: b,
    },
    stream,
    includeUsage: stream && streamOptions?.include_usage === true,
    maxTokens,
    stop,
  };
}

function defaultReply(call: FakeChatCall): string {
  if (call.jsonSchema) return JSON.stringify(exampleForSchema(call.jsonSchema, call.lastUserMessage));
  if (call.json) return JSON.stringify({ echo: call.lastUserMessage });
  return `Echo: ${call.lastUserMessage}`;
}

export function promptTokenCount(messages: { content: string }[]): number {
  return messages.reduce((n, m) => n + fakeTokens(m.content).length, 0);
}

let nextId = 1;

/** An error thrown while answering: an HttpError as it says, anything else as a 500. */
function errorAnswer(err: unknown): FakeErrorAnswer {
  const failure: FakeFailure =
    err instanceof HttpError
      ? {
          status: err.status,
          message: err.message,
          ...(err.type ? { type: err.type } : {}),
          code: err.code ?? null,
          param: err.param ?? null,
        }
      : { status: 500, message: err instanceof Error ? err.message : String(err) };
  return { status: failure.status, send: (res) => sendError(res, failure) };
}

export async function startFakeOpenAiServer(options: FakeOpenAiOptions = {}): Promise<FakeOpenAiServer> {
  const server = new FakeHttpServer(handle, errorAnswer);
  const loras = new Map<string, string>();

  /** vLLM's runtime LoRA endpoints, with its answers (texts as in vllm/entrypoints/openai/serving_models.py). */
  async function loraAdmin(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    record: FakeRequestRecord,
  ) {
    const body = (await readJsonBody(req).catch(() => ({}))) as Record<string, unknown>;
    record.body = body;
    const name = typeof body.lora_name === 'string' ? body.lora_name : '';
    const lpath = typeof body.lora_path === 'string' ? body.lora_path : '';
    if (path === '/v1/load_lora_adapter') {
      if (!name || !lpath)
        throw new HttpError(400, "Both 'lora_name' and 'lora_path' must be provided.", 'InvalidUserInput');
      if (loras.has(name))
        throw new HttpError(400, `The lora adapter '${name}' has already been loaded.`, 'InvalidUserInput');
      loras.set(name, lpath);
      record.status = 200;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`Success: LoRA adapter '${name}' added successfully.`);
      return;
    }
    if (!loras.delete(name))
      throw new HttpError(404, `The lora adapter '${name}' cannot be found.`, 'NotFoundError');
    record.status = 200;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`Success: LoRA adapter '${name}' removed successfully.`);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, record: FakeRequestRecord) {
    const path = record.path.replace(/\/+$/, '') || '/';
    if (req.method === 'GET' && (path === '/health' || path === '/v1/health')) {
      if (options.healthy === false) throw new HttpError(503, 'The server is not ready.', 'server_error');
      record.status = 200;
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    if (path.startsWith('/v1/') && options.apiKey !== undefined) {
      if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
        throw new HttpError(
          401,
          req.headers.authorization
            ? 'Incorrect API key provided.'
            : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.",
          'invalid_request_error',
          'invalid_api_key',
        );
      }
    }
    if (req.method === 'POST' && (path === '/v1/load_lora_adapter' || path === '/v1/unload_lora_adapter')) {
      await loraAdmin(req, res, path, record);
      return;
    }
    if (req.method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
      if (options.healthy === false) throw new HttpError(503, 'The server is not ready.', 'server_error');
      const models = [...(options.models ?? ['fake-model']), ...loras.keys()];
      const card = (id: string) => ({ id, object: 'model', created: 1700000000, owned_by: 'fake' });
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (path === '/v1/models') {
        res.end(JSON.stringify({ object: 'list', data: models.map(card) }));
        return;
      }
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (!models.includes(id)) {
        throw new HttpError(
          404,
          `The model '${id}' does not exist`,
          'invalid_request_error',
          'model_not_found',
        );
      }
      res.end(JSON.stringify(card(id)));
      return;
    }
    if (path !== '/v1/chat/completions') {
      throw new HttpError(404, `Invalid URL (${req.method} ${record.path})`, 'invalid_request_error');
    }
    if (req.method !== 'POST') {
      throw new HttpError(
        405,
        `Invalid method for URL (${req.method} ${record.path})`,
        'invalid_request_error',
      );
    }
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch {
      throw new HttpError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        'invalid_request_error',
      );
    }
    record.body = body as Record<string, unknown>;
    await server.generating(() => chat(res, record, body));
  }

  async function chat(res: http.ServerResponse, record: FakeRequestRecord, body: unknown) {
    const parsed = parseChat(body);
    const { call } = parsed;
    if (options.models && !options.models.includes(call.model) && !loras.has(call.model)) {
      throw new HttpError(
        404,
        `The model \`${call.model}\` does not exist or you do not have access to it.`,
        'invalid_request_error',
        'model_not_found',
      );
    }
    if (options.failWith !== undefined && (options.failTimes === undefined || options.failTimes > 0)) {
      if (options.failTimes !== undefined) options.failTimes--;
      const failure = typeof options.failWith === 'number' ? { status: options.failWith } : options.failWith;
      record.status = failure.status;
      record.outcome = 'failed';
      sendError(res, failure);
      return;
    }
    const promptTokens = promptTokenCount(call.messages);
    if (options.maxContextTokens !== undefined) {
      const wanted = promptTokens + (parsed.maxTokens ?? 0);
      if (wanted > options.maxContextTokens) {
        throw new HttpError(
          400,
          `This model's maximum context length is ${options.maxContextTokens} tokens. However, you requested ${wanted} tokens (${promptTokens} in the messages, ${parsed.maxTokens ?? 0} in the completion). Please reduce the length of the messages or completion.`,
          'invalid_request_error',
          'context_length_exceeded',
          'messages',
        );
      }
    }

    const answer = new FakeAnswer(res, record);
    let text = await (options.reply ?? defaultReply)(call);
    if (call.json) {
      try {
        JSON.parse(text);
      } catch {
        throw new Error(`fake server: the reply for a JSON request is not JSON: ${text.slice(0, 80)}`);
      }
    }
    const stopped = applyStop(text, parsed.stop);
    text = stopped.text;
    let tokens = fakeTokens(text);
    let finishReason: 'stop' | 'length' = 'stop';
    if (parsed.maxTokens !== undefined && tokens.length > parsed.maxTokens) {
      tokens = tokens.slice(0, parsed.maxTokens);
      finishReason = 'length';
    }
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: tokens.length,
      total_tokens: promptTokens + tokens.length,
    };
    const id = `chatcmpl-fake${nextId++}`;
    const created = Math.floor(Date.now() / 1000);
    const base = { id, created, model: call.model, system_fingerprint: 'fp_fake' };

    if (!parsed.stream) {
      const ok = await answer.pause(
        (options.firstTokenDelayMs ?? 0) + (options.tokenDelayMs ?? 0) * tokens.length,
      );
      if (!ok) return;
      if (options.dieAfterTokens !== undefined) return answer.die();
      if (options.stallAfterTokens !== undefined) return answer.stall();
      record.status = 200;
      record.tokensSent = tokens.length;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: tokens.join(''), refusal: null },
              logprobs: null,
              finish_reason: finishReason,
            },
          ],
          usage,
        }),
      );
      return;
    }

    record.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const usageField = parsed.includeUsage ? { usage: null } : {};
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({
        ...base,
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...usageField,
      })}\n\n`;
    if (options.dieAfterTokens === 0) return answer.die();
    if (!(await answer.pause(options.firstTokenDelayMs ?? 0))) return;
    await answer.write(chunk({ role: 'assistant', content: '', refusal: null }, null));
    const sent = await answer.sendTokens(tokens.length, options, (i) =>
      answer.write(chunk({ content: tokens[i] }, null)),
    );
    if (!sent) return;
    if (options.dieAfterTokens !== undefined) return answer.die();
    if (options.stallAfterTokens !== undefined) return answer.stall();
    await answer.write(chunk({}, finishReason));
    if (parsed.includeUsage) {
      await answer.write(
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`,
      );
    }
    res.end('data: [DONE]\n\n');
  }

  await server.listen();
  return {
    url: `${server.origin}/v1`,
    origin: server.origin,
    port: server.port,
    requests: server.requests,
    loras,
    get chatRequests() {
      return server.requests.filter((r) => r.path.replace(/\/+$/, '') === '/v1/chat/completions');
    },
    get inflight() {
      return server.inflight;
    },
    options,
    close: () => server.close(),
    kill: () => server.kill(),
  };
}
