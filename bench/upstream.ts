// The router-overhead benchmark's upstream: an OpenAI-compatible Chat Completions endpoint whose latency is
// fixed and known, so that whatever a proxy in front of it adds can be read off directly. It does no work
// per request beyond parsing the body, so that it stays out of the measurement at 1000 requests/s.
//
// Run alone (the benchmark starts it as a child process, away from the load generator's CPU):
//   node --import tsx bench/upstream.ts [--port 0] [--latency-ms 20] [--first-token-ms 50] [--token-ms 5]
//        [--tokens 8]
// It prints one JSON line, {"url": "http://127.0.0.1:<port>"}, when it listens.
//
// Two timing profiles, chosen by a path prefix before /v1, so that one process serves both phases:
//   /fixed/v1/...   (or no prefix) the whole completion `latencyMs` after the request body arrived, whether
//                   streamed or not: a streamed answer comes as one burst of chunks at that moment. A proxy
//                   that always streams from its backend (our router does) then waits exactly as long as one
//                   that asks for a plain JSON answer.
//   /stream/v1/...  streamed: headers at once, the first content token `firstTokenMs` after the body arrived,
//                   then one token every `tokenMs`; not streamed: the answer when the last token would be.
// A stream ends with a chunk carrying the finish reason, a usage chunk when stream_options.include_usage,
// then [DONE].
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface UpstreamOptions {
  latencyMs: number;
  firstTokenMs: number;
  tokenMs: number;
  /** Completion length in tokens (words here). */
  tokens: number;
}

export const DEFAULT_UPSTREAM: UpstreamOptions = { latencyMs: 20, firstTokenMs: 50, tokenMs: 5, tokens: 8 };

export type Profile = 'fixed' | 'stream';

/** What every completion says: a client checks it to know the answer really came from this upstream. */
export const completionWords = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${i === 0 ? 'Token' : ' token'}${i}`);

export interface Upstream {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface ChatBody {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const promptTokens = (messages: unknown): number =>
  Array.isArray(messages)
    ? messages.reduce<number>(
        (n, m: { content?: unknown }) =>
          n + (typeof m?.content === 'string' ? Math.ceil(m.content.length / 4) : 0),
        0,
      )
    : 0;

let seq = 0;

async function chat(
  options: UpstreamOptions,
  profile: Profile,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let body: ChatBody;
  try {
    body = JSON.parse(await readBody(req)) as ChatBody;
  } catch {
    sendJson(res, 400, { error: { message: 'the body is not JSON', type: 'invalid_request_error' } });
    return;
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    sendJson(res, 400, { error: { message: 'messages is required', type: 'invalid_request_error' } });
    return;
  }
  const id = `chatcmpl-bench-${++seq}`;
  const created = Math.floor(Date.now() / 1000);
  const model = typeof body.model === 'string' && body.model ? body.model : 'bench-model';
  const words = completionWords(options.tokens);
  const usage = {
    prompt_tokens: promptTokens(body.messages),
    completion_tokens: words.length,
    total_tokens: promptTokens(body.messages) + words.length,
  };
  const fixed = profile === 'fixed';
  if (body.stream !== true) {
    await sleep(fixed ? options.latencyMs : options.firstTokenMs + (words.length - 1) * options.tokenMs);
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: words.join('') },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage,
    });
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  let gone = false;
  res.on('close', () => (gone = true));
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra?: Record<string, unknown>) =>
    `data: ${JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...extra,
    })}\n\n`;
  await sleep(fixed ? options.latencyMs : options.firstTokenMs);
  let pending = chunk({ role: 'assistant', content: '' }, null);
  for (let i = 0; i < words.length && !gone; i++) {
    if (i > 0 && !fixed) await sleep(options.tokenMs);
    pending += chunk({ content: words[i] }, null);
    // The fixed profile sends everything in one write at the end.
    if (!fixed) {
      res.write(pending);
      pending = '';
    }
  }
  if (gone) return;
  pending += chunk({}, 'stop');
  if (body.stream_options?.include_usage === true) {
    pending += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`;
  }
  res.end(`${pending}data: [DONE]\n\n`);
}

export async function startUpstream(
  options: UpstreamOptions = DEFAULT_UPSTREAM,
  port = 0,
  host = '127.0.0.1',
): Promise<Upstream> {
  const server = createServer((req, res) => {
    let path = (req.url ?? '/').split('?')[0] ?? '/';
    let profile: Profile = 'fixed';
    const prefix = /^\/(fixed|stream)(?=\/)/.exec(path);
    if (prefix) {
      profile = prefix[1] as Profile;
      path = path.slice(prefix[0].length);
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      chat(options, profile, req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'server_error' } });
        else res.destroy();
      });
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      sendJson(res, 200, {
        object: 'list',
        data: [{ id: 'bench-model', object: 'model', created: 0, owned_by: 'bench' }],
      });
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'not_found' } });
  });
  // Proxies keep connections open between requests; closing them early would add handshakes to the numbers.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'latency-ms': { type: 'string', default: String(DEFAULT_UPSTREAM.latencyMs) },
      'first-token-ms': { type: 'string', default: String(DEFAULT_UPSTREAM.firstTokenMs) },
      'token-ms': { type: 'string', default: String(DEFAULT_UPSTREAM.tokenMs) },
      tokens: { type: 'string', default: String(DEFAULT_UPSTREAM.tokens) },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  const upstream = await startUpstream(
    {
      latencyMs: Number(values['latency-ms']),
      firstTokenMs: Number(values['first-token-ms']),
      tokenMs: Number(values['token-ms']),
      tokens: Number(values.tokens),
    },
    Number(values.port),
  );
  console.log(JSON.stringify({ url: upstream.url }));
  const stop = () => void upstream.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The benchmark holds a pipe on stdin: when it goes, however it went, so does this server.
  if (values['exit-with-stdin']) process.stdin.on('end', stop).resume();
}
