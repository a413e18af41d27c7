// A FAKE Hugging Face text-generation-inference (TGI) server for tests: a real HTTP server on 127.0.0.1
// that speaks TGI's native API as its router defines it (POST /generate, POST /generate_stream as
// server-sent events `data:{"index","token":{id,text,logprob,special},"generated_text","details"}`,
// GET /health, GET /info) but generates nothing: the answer is a deterministic function of the prompt,
// split into word-sized "tokens". It copies the behaviours an adapter must cope with: errors inside a
// 200 event stream (`data:{"error","error_type"}`: validation, overloaded, generation), the EOS token
// streamed as a special token, stop sequences kept in the generated text, details only when asked for,
// and the validation rules (temperature > 0, 0 < top_p < 1, at most 4 stop sequences, token limits).
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

export interface FakeTgiCall {
  inputs: string;
  parameters: Record<string, unknown>;
  /** The last user turn, recovered from a ChatML, Llama 3 or Mistral prompt ('' when none is found). */
  lastUserMessage: string;
  /** parameters.grammar.value when grammar.type is 'json'. */
  jsonSchema?: Record<string, unknown>;
}

export interface FakeTgiFailure {
  status: number;
  /** TGI's error body is `{error, error_type}`. */
  message?: string;
  errorType?: string;
  /** Send this body verbatim instead (a proxy's HTML 502 page, say). */
  rawBody?: string;
  contentType?: string;
}

export interface FakeTgiOptions extends FakePacing {
  /** The answer's text. Default `Echo: <last user turn>`; with a JSON grammar, a value built from the schema. */
  reply?: (call: FakeTgiCall) => string | Promise<string>;
  /**
   * Answer with this HTTP error before any event: what a proxy or load balancer in front of TGI answers
   * when it is down (503) or rate-limits (429). TGI's own errors come as events; see streamError.
   */
  failWith?: number | FakeTgiFailure;
  failTimes?: number;
  /** Answer /generate_stream with a 200 whose only event is this TGI error (as TGI does for its own errors). */
  streamError?: { errorType: string; message: string };
  /** Send a generation error event after this many tokens, then end the stream. */
  errorAfterTokens?: number;
  /** Send an SSE comment this often while a stream is open, as axum's keep-alive does. */
  keepAliveMs?: number;
  modelId?: string;
  maxInputTokens?: number;
  maxTotalTokens?: number;
  maxStopSequences?: number;
  /** Requests beyond this many at once get TGI's "Model is overloaded" error. Default 128. */
  maxConcurrentRequests?: number;
  /** The EOS token streamed (special) when the answer ends on its own. Default <|im_end|>. */
  eosToken?: string;
  /** When false, /health answers 503. Default true. */
  healthy?: boolean;
}

export interface FakeTgiServer extends FakeServer {
  /** http://127.0.0.1:PORT (TGI's routes are at the root). */
  readonly url: string;
  /** /generate and /generate_stream requests. */
  readonly generateRequests: FakeRequestRecord[];
  readonly options: FakeTgiOptions;
}

/** Finds the last user turn in a prompt rendered with one of the common chat templates. */
export function lastUserTurn(prompt: string): string {
  const patterns = [
    /<\|im_start\|>user\n([\s\S]*?)<\|im_end\|>/g,
    /<\|start_header_id\|>user<\|end_header_id\|>\n\n([\s\S]*?)<\|eot_id\|>/g,
    /\[INST\]\s*([\s\S]*?)\s*\[\/INST\]/g,
  ];
  for (const re of patterns) {
    const all = [...prompt.matchAll(re)];
    const last = all[all.length - 1];
    if (last?.[1] !== undefined) {
      // Mistral folds the system prompt into the first [INST]; the question is its last paragraph.
      const text = last[1].trim();
      return re === patterns[2] ? (text.split('\n\n').pop() ?? text) : text;
    }
  }
  return prompt.trim();
}

class TgiError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const validation = (message: string) => new TgiError('validation', `Input validation error: ${message}`, 422);

const DEFAULT_ERROR: Record<number, [string, string]> = {
  422: ['validation', 'Input validation error'],
  424: ['generation', 'Request failed during generation'],
  429: ['overloaded', 'Model is overloaded'],
  500: ['incomplete_generation', 'Incomplete generation'],
  502: ['proxy', 'Bad gateway'],
  503: ['unhealthy', 'Service unavailable'],
  504: ['proxy', 'Gateway timeout'],
};

function tokenId(text: string): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)!) % 49152;
  return h + 1;
}

interface Validated {
  call: FakeTgiCall;
  maxNewTokens: number;
  stop: string[];
  details: boolean;
  inputLength: number;
}

/** An error thrown while answering: a TgiError as it says, anything else as a 500 generation error. */
function errorAnswer(err: unknown): FakeErrorAnswer {
  const e =
    err instanceof TgiError
      ? err
      : new TgiError('generation', err instanceof Error ? err.message : String(err), 500);
  return {
    status: e.status,
    send: (res) => {
      res.writeHead(e.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: e.message, error_type: e.errorType }));
    },
  };
}

export async function startFakeTgiServer(options: FakeTgiOptions = {}): Promise<FakeTgiServer> {
  const server = new FakeHttpServer(handle, errorAnswer);
  const maxTotal = () => options.maxTotalTokens ?? 4096;
  const maxInput = () => options.maxInputTokens ?? maxTotal() - 1;

  function validate(body: unknown): Validated {
    const b = body as { inputs?: unknown; parameters?: unknown };
    if (typeof b.inputs !== 'string') throw new TgiError('validation', 'missing field `inputs`', 422);
    if (b.inputs === '') throw validation('`inputs` cannot be empty');
    const p = (b.parameters ?? {}) as Record<string, unknown>;
    const inputLength = fakeTokens(b.inputs).length;
    if (typeof p.temperature === 'number' && p.temperature <= 0) {
      throw validation('`temperature` must be strictly positive');
    }
    if (typeof p.top_p === 'number' && (p.top_p <= 0 || p.top_p >= 1)) {
      throw validation('`top_p` must be > 0.0 and < 1.0');
    }
    if (typeof p.top_k === 'number' && p.top_k <= 0) throw validation('`top_k` must be strictly positive');
    const stop = Array.isArray(p.stop) ? (p.stop as string[]) : [];
    const maxStop = options.maxStopSequences ?? 4;
    if (stop.length > maxStop) {
      throw validation(`\`stop\` supports up to ${maxStop} stop sequences. Given: ${stop.length}`);
    }
    if (inputLength > maxInput()) {
      throw validation(`\`inputs\` tokens must be <= ${maxInput()}. Given: ${inputLength}`);
    }
    let maxNewTokens: number;
    if (p.max_new_tokens === undefined || p.max_new_tokens === null) {
      maxNewTokens = maxTotal() - inputLength;
    } else {
      maxNewTokens = p.max_new_tokens as number;
      if (!Number.isInteger(maxNewTokens) || maxNewTokens <= 0) {
        throw validation('`max_new_tokens` must be strictly positive');
      }
      if (inputLength + maxNewTokens > maxTotal()) {
        throw validation(
          `\`inputs\` tokens + \`max_new_tokens\` must be <= ${maxTotal()}. Given: ${inputLength} \`inputs\` tokens and ${maxNewTokens} \`max_new_tokens\``,
        );
      }
    }
    let jsonSchema: Record<string, unknown> | undefined;
    const grammar = p.grammar as { type?: unknown; value?: unknown } | undefined | null;
    if (grammar !== undefined && grammar !== null) {
      if (grammar.type === 'json') {
        const value =
          typeof grammar.value === 'string' ? (JSON.parse(grammar.value) as unknown) : grammar.value;
        if (typeof value !== 'object' || value === null)
          throw validation('grammar is not a valid JSON schema');
        jsonSchema = value as Record<string, unknown>;
      } else if (grammar.type !== 'regex') {
        throw new TgiError(
          'validation',
          `Failed to deserialize the JSON body into the target type: parameters.grammar: unknown variant \`${String(grammar.type)}\`, expected \`json\` or \`regex\``,
          422,
        );
      }
    }
    return {
      call: {
        inputs: b.inputs,
        parameters: p,
        lastUserMessage: lastUserTurn(b.inputs),
        ...(jsonSchema ? { jsonSchema } : {}),
      },
      maxNewTokens,
      stop,
      details: p.details === true,
      inputLength,
    };
  }

  /** Runs the fake model: the tokens to stream and why it stopped. */
  async function generate(v: Validated) {
    const text = await (options.reply ?? defaultReply)(v.call);
    if (v.call.jsonSchema) {
      try {
        JSON.parse(text);
      } catch {
        throw new Error(`fake TGI: the reply for a JSON grammar is not JSON: ${text.slice(0, 80)}`);
      }
    }
    const pieces = fakeTokens(text);
    const stopped = applyStop(text, v.stop);
    type Piece = { text: string; special: boolean };
    const out: Piece[] = [];
    let finish: 'length' | 'eos_token' | 'stop_sequence' = 'eos_token';
    let acc = '';
    for (const piece of pieces) {
      if (out.length >= v.maxNewTokens) {
        finish = 'length';
        break;
      }
      out.push({ text: piece, special: false });
      acc += piece;
      // TGI stops once the decoded text contains a stop sequence, keeping the whole token that completed
      // it (and so the stop sequence itself) in the output.
      if (stopped.stopped && acc.length >= stopped.end) {
        finish = 'stop_sequence';
        break;
      }
    }
    if (finish === 'eos_token') {
      if (out.length >= v.maxNewTokens) finish = 'length';
      else out.push({ text: options.eosToken ?? '<|im_end|>', special: true });
    }
    const generatedText = out
      .filter((p) => !p.special)
      .map((p) => p.text)
      .join('');
    return { tokens: out, finish, generatedText };
  }

  function sendFailure(res: http.ServerResponse, record: FakeRequestRecord, f: FakeTgiFailure) {
    record.status = f.status;
    record.outcome = 'failed';
    if (f.rawBody !== undefined) {
      res.writeHead(f.status, { 'content-type': f.contentType ?? 'text/html; charset=utf-8' });
      res.end(f.rawBody);
      return;
    }
    const [type, message] = DEFAULT_ERROR[f.status] ?? ['generation', 'Error'];
    res.writeHead(f.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: f.message ?? message, error_type: f.errorType ?? type }));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, record: FakeRequestRecord) {
    const path = record.path;
    if (req.method === 'GET' && path === '/health') {
      if (options.healthy === false) {
        record.status = 503;
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'unhealthy', error_type: 'healthcheck' }));
        return;
      }
      record.status = 200;
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method === 'GET' && path === '/info') {
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          model_id: options.modelId ?? 'fake/fake-model',
          model_sha: null,
          model_pipeline_tag: 'text-generation',
          max_concurrent_requests: options.maxConcurrentRequests ?? 128,
          max_best_of: 2,
          max_stop_sequences: options.maxStopSequences ?? 4,
          max_input_tokens: maxInput(),
          max_total_tokens: maxTotal(),
          validation_workers: 2,
          max_client_batch_size: 4,
          router: 'text-generation-router',
          version: '3.0.0-fake',
          sha: null,
          docker_label: null,
        }),
      );
      return;
    }
    const streaming = path === '/generate_stream';
    if (path !== '/generate' && !streaming) {
      record.status = 404;
      res.writeHead(404);
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      record.status = 405;
      res.writeHead(405);
      res.end();
      return;
    }
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch (err) {
      // axum's Json extractor answers a body it cannot parse with a plain-text 4xx.
      record.status = 400;
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        `Failed to parse the request body as JSON: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    record.body = body as Record<string, unknown>;
    if (options.failWith !== undefined && (options.failTimes === undefined || options.failTimes > 0)) {
      if (options.failTimes !== undefined) options.failTimes--;
      sendFailure(
        res,
        record,
        typeof options.failWith === 'number' ? { status: options.failWith } : options.failWith,
      );
      return;
    }
    await server.generating(() => (streaming ? stream(res, record, body) : unary(res, record, body)));
  }

  async function unary(res: http.ServerResponse, record: FakeRequestRecord, body: unknown) {
    const answer = new FakeAnswer(res, record);
    if (server.inflight > (options.maxConcurrentRequests ?? 128))
      throw new TgiError('overloaded', 'Model is overloaded', 429);
    const v = validate(body);
    const { tokens, finish, generatedText } = await generate(v);
    const ok = await answer.pause(
      (options.firstTokenDelayMs ?? 0) + (options.tokenDelayMs ?? 0) * tokens.length,
    );
    if (!ok) return;
    if (options.dieAfterTokens !== undefined) return answer.die();
    record.status = 200;
    record.tokensSent = tokens.length;
    const out: Record<string, unknown> = { generated_text: generatedText };
    if (v.details) {
      out.details = {
        finish_reason: finish,
        generated_tokens: tokens.length,
        seed: null,
        prefill: [],
        tokens: tokens.map((t) => ({ id: tokenId(t.text), text: t.text, logprob: -0.5, special: t.special })),
      };
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out));
  }

  async function stream(res: http.ServerResponse, record: FakeRequestRecord, body: unknown) {
    const answer = new FakeAnswer(res, record);
    record.status = 200;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    let keepAlive: NodeJS.Timeout | undefined;
    if (options.keepAliveMs) keepAlive = setInterval(() => res.write(':\n\n'), options.keepAliveMs);
    const event = (payload: unknown) => answer.write(`data:${JSON.stringify(payload)}\n\n`);
    try {
      let v: Validated;
      try {
        if (options.streamError) {
          throw new TgiError(options.streamError.errorType, options.streamError.message, 200);
        }
        if (server.inflight > (options.maxConcurrentRequests ?? 128)) {
          throw new TgiError('overloaded', 'Model is overloaded', 429);
        }
        v = validate(body);
      } catch (err) {
        if (!(err instanceof TgiError)) throw err;
        // TGI reports its own errors inside the 200 event stream.
        record.outcome = 'failed';
        await event({ error: err.message, error_type: err.errorType });
        res.end();
        return;
      }
      const { tokens, finish, generatedText } = await generate(v);
      if (options.dieAfterTokens === 0) return answer.die();
      if (!(await answer.pause(options.firstTokenDelayMs ?? 0))) return;
      const sent = await answer.sendTokens(tokens.length, options, async (i) => {
        if (options.errorAfterTokens !== undefined && i >= options.errorAfterTokens) {
          record.outcome = 'failed';
          await event({
            error: 'Request failed during generation: Server error: CUDA out of memory. (fake)',
            error_type: 'generation',
          });
          res.end();
          return false;
        }
        const t = tokens[i]!;
        const last = i === tokens.length - 1;
        await event({
          index: i + 1,
          token: { id: tokenId(t.text), text: t.text, logprob: -0.5, special: t.special },
          generated_text: last ? generatedText : null,
          details:
            last && v.details
              ? {
                  finish_reason: finish,
                  generated_tokens: tokens.length,
                  seed: null,
                  input_length: v.inputLength,
                }
              : null,
        });
      });
      if (sent) res.end();
    } finally {
      if (keepAlive) clearInterval(keepAlive);
    }
  }

  await server.listen();
  return {
    url: server.origin,
    port: server.port,
    requests: server.requests,
    get generateRequests() {
      return server.requests.filter((r) => r.path === '/generate' || r.path === '/generate_stream');
    },
    get inflight() {
      return server.inflight;
    },
    options,
    close: () => server.close(),
    kill: () => server.kill(),
  };
}

function defaultReply(call: FakeTgiCall): string {
  if (call.jsonSchema) return JSON.stringify(exampleForSchema(call.jsonSchema, call.lastUserMessage));
  return `Echo: ${call.lastUserMessage}`;
}
