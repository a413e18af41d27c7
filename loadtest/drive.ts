// A bounded load driver for machines without k6: it makes the same REST/JSON call as rest-load.ts
// (POST /llmtwin.inference.v1.InferenceService/Generate through the gateway), a fixed number of times
// with N in flight, and reports throughput and latency percentiles, applying the same two thresholds.
//
//   node --import tsx loadtest/drive.ts --url http://127.0.0.1:8080 --api-key "$API_KEY" \
//     --requests 500 --concurrency 16
//
// Bounded on purpose: it talks to loopback addresses only (a port-forward or a local `llmtwin up`),
// stops after --requests or --max-seconds, whichever comes first, and cancels what is still in flight
// at the cap. Exit status: 0 thresholds met, 1 thresholds missed, 2 bad usage or refused target.
import { lookup } from 'node:dns/promises';
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Distribution } from '../bench/percentiles.js';

const GENERATE_PATH = '/llmtwin.inference.v1.InferenceService/Generate';
const MAX_BODY_BYTES = 1 << 20;
const LIMITS = { requests: 100_000, concurrency: 256, maxSeconds: 600 } as const;
const DEFAULT_QUERIES = [
  'What have I written about building data pipelines?',
  'How do I usually explain retrieval-augmented generation?',
  'Summarise my posts about fine-tuning small language models.',
  'What tools do I recommend for crawling public articles?',
  'How would I describe the trade-offs of vector databases?',
];

const USAGE = `usage: node --import tsx loadtest/drive.ts [options]
  --url URL             gateway base URL, loopback only (env BASE_URL; default http://127.0.0.1:8080)
  --api-key KEY         sent as "authorization: Bearer KEY" (env API_KEY)
  --requests N          requests to send (default 200, at most ${LIMITS.requests})
  --concurrency N       requests in flight (default 8, at most ${LIMITS.concurrency})
  --max-seconds S       stop and cancel what is in flight after S seconds (default 60, at most ${LIMITS.maxSeconds})
  --timeout-ms MS       per-request timeout (default 60000)
  --query TEXT          question to ask; repeat for several (default: five built-in questions)
  --protocol P          auto | http1 | h2c (default auto: h2c if the server speaks it, else HTTP/1.1)
  --p95-ms MS           latency threshold (env P95_MS; default 8000)
  --max-error-rate R    error-rate threshold, 0..1 (env MAX_ERROR_RATE; default 0.01)
  --json                print the summary as JSON`;

class UsageError extends Error {}

interface Config {
  url: URL;
  address: string;
  apiKey: string;
  requests: number;
  concurrency: number;
  maxSeconds: number;
  timeoutMs: number;
  queries: string[];
  protocol: 'auto' | 'http1' | 'h2c';
  p95Ms: number;
  maxErrorRate: number;
  json: boolean;
}

interface Reply {
  status: number;
  body: string;
}

interface Transport {
  readonly name: 'http1' | 'h2c';
  post(body: string, signal: AbortSignal): Promise<Reply>;
  close(): void;
}

function parseConfig(argv: string[]): Omit<Config, 'address'> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'api-key': { type: 'string' },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      'max-seconds': { type: 'string' },
      'timeout-ms': { type: 'string' },
      query: { type: 'string', multiple: true },
      protocol: { type: 'string' },
      'p95-ms': { type: 'string' },
      'max-error-rate': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, raw: string | undefined, fallback: number, max: number): number => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new UsageError(`--${name} must be an integer in 1..${max}`);
    return n;
  };
  const num = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new UsageError(`--${name} must be a number in ${min}..${max}`);
    return n;
  };
  let url: URL;
  try {
    url = new URL(values.url ?? process.env.BASE_URL ?? 'http://127.0.0.1:8080');
  } catch {
    throw new UsageError('--url is not a URL');
  }
  if (url.protocol !== 'http:')
    throw new UsageError('--url must be http:// (the driver speaks cleartext only)');
  const protocol = values.protocol ?? 'auto';
  if (protocol !== 'auto' && protocol !== 'http1' && protocol !== 'h2c') {
    throw new UsageError('--protocol must be auto, http1 or h2c');
  }
  return {
    url,
    apiKey: values['api-key'] ?? process.env.API_KEY ?? '',
    requests: int('requests', values.requests, 200, LIMITS.requests),
    concurrency: int('concurrency', values.concurrency, 8, LIMITS.concurrency),
    maxSeconds: int('max-seconds', values['max-seconds'], 60, LIMITS.maxSeconds),
    timeoutMs: int('timeout-ms', values['timeout-ms'], 60_000, 600_000),
    queries: values.query?.length ? values.query : DEFAULT_QUERIES,
    protocol,
    p95Ms: num('p95-ms', values['p95-ms'] ?? process.env.P95_MS, 8000, 1, 3_600_000),
    maxErrorRate: num('max-error-rate', values['max-error-rate'] ?? process.env.MAX_ERROR_RATE, 0.01, 0, 1),
    json: values.json ?? false,
  };
}

function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  const v6 = address.toLowerCase();
  return v6 === '::1' || /^::ffff:127\./.test(v6);
}

// Resolves the host once and connects to that address, so a name cannot resolve to loopback for the
// check and to something else for the traffic.
async function loopbackAddress(url: URL): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  const outside = addresses.filter((a) => !isLoopback(a));
  if (addresses.length === 0 || outside.length > 0) {
    throw new UsageError(
      `refusing ${url.host}: the driver targets loopback only (resolved to ${addresses.join(', ') || 'nothing'}); ` +
        'use kubectl port-forward to reach a cluster',
    );
  }
  return addresses[0] as string;
}

function requestHeaders(config: Config): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'connect-protocol-version': '1',
  };
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  return headers;
}

function collect(
  stream: NodeJS.ReadableStream,
  onDone: (body: string) => void,
  onError: (err: Error) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    // Past the cap the rest is dropped: a runaway answer must not grow the driver's memory.
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  stream.on('end', () => onDone(Buffer.concat(chunks).toString('utf8')));
  stream.on('error', onError);
  // After 'end' this is a no-op (the promise is settled); without one, the reply was cut off.
  stream.on('close', () => onError(Object.assign(new Error('closed before the end'), { code: 'ECLOSED' })));
}

function http1Transport(config: Config): Transport {
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.concurrency });
  const headers = requestHeaders(config);
  const port = Number(config.url.port || 80);
  return {
    name: 'http1',
    post(body, signal) {
      return new Promise<Reply>((resolve, reject) => {
        const req = http.request(
          {
            host: config.address,
            port,
            method: 'POST',
            path: GENERATE_PATH,
            agent,
            signal,
            timeout: config.timeoutMs,
            headers: { ...headers, host: config.url.host, 'content-length': Buffer.byteLength(body) },
          },
          (res) => collect(res, (text) => resolve({ status: res.statusCode ?? 0, body: text }), reject),
        );
        req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

class UnreachableError extends Error {}

function connectH2c(config: Config): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const host = isIP(config.address) === 6 ? `[${config.address}]` : config.address;
    const session = http2.connect(`http://${host}:${config.url.port || 80}`);
    let connected = false;
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('no HTTP/2 settings from the server within 5 s'));
    }, 5000);
    session.once('connect', () => {
      connected = true;
    });
    // The server's SETTINGS frame proves it speaks HTTP/2; an HTTP/1.1 server answers the preface with
    // a 400 and the session fails instead.
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      session.removeAllListeners('error');
      session.on('error', () => undefined);
      resolve(session);
    });
    session.once('error', (err) => {
      clearTimeout(timer);
      session.destroy();
      // Failing to connect at all is not a protocol question: no fallback can help.
      reject(connected ? err : new UnreachableError(`cannot connect to ${config.url.host}: ${err.message}`));
    });
  });
}

function h2cTransport(config: Config, session: http2.ClientHttp2Session): Transport {
  const headers = requestHeaders(config);
  return {
    name: 'h2c',
    post(body, signal) {
      return new Promise<Reply>((resolve, reject) => {
        const stream = session.request(
          { ':method': 'POST', ':path': GENERATE_PATH, ':authority': config.url.host, ...headers },
          { signal },
        );
        stream.setTimeout(config.timeoutMs, () =>
          stream.close(http2.constants.NGHTTP2_CANCEL, () =>
            reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
          ),
        );
        let status = 0;
        stream.on('response', (h) => {
          status = Number(h[':status'] ?? 0);
        });
        collect(stream, (text) => resolve({ status, body: text }), reject);
        stream.end(body);
      });
    },
    close: () => session.close(),
  };
}

async function openTransport(config: Config): Promise<Transport> {
  if (config.protocol === 'http1') return http1Transport(config);
  try {
    return h2cTransport(config, await connectH2c(config));
  } catch (err) {
    if (err instanceof UnreachableError) throw err;
    if (config.protocol === 'h2c') {
      throw new Error(
        `${config.url.host} does not speak HTTP/2 without TLS (h2c): ${(err as Error).message}`,
      );
    }
    return http1Transport(config);
  }
}

// The error class a reply or failure counts under: the Connect error code when the body carries one.
function classify(reply: Reply | undefined, err: unknown): string | undefined {
  if (reply) {
    if (reply.status === 200) {
      try {
        const body = JSON.parse(reply.body) as { answer?: unknown };
        return typeof body.answer === 'string' && body.answer.length > 0 ? undefined : 'empty answer';
      } catch {
        return 'invalid JSON';
      }
    }
    try {
      const body = JSON.parse(reply.body) as { code?: unknown };
      if (typeof body.code === 'string') return `http ${reply.status} ${body.code}`;
    } catch {
      // Not a Connect error body; the status alone says enough.
    }
    return `http ${reply.status}`;
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

interface Summary {
  target: string;
  protocol: string;
  requested: number;
  concurrency: number;
  sent: number;
  completed: number;
  ok: number;
  errors: number;
  cancelled: number;
  capped: boolean;
  elapsedSeconds: number;
  rps: number;
  okRps: number;
  latencyMs: Record<'min' | 'mean' | 'p50' | 'p90' | 'p95' | 'p99' | 'max', number>;
  errorKinds: Record<string, number>;
  thresholds: { name: string; limit: number; value: number; passed: boolean }[];
  passed: boolean;
}

async function run(config: Config): Promise<Summary> {
  const transport = await openTransport(config);
  const stop = new AbortController();
  // Every request in flight listens on the one stop signal.
  setMaxListeners(config.concurrency + 8, stop.signal);
  const latencies: number[] = [];
  const errorKinds: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let cancelled = 0;
  let capped = false;
  const started = performance.now();
  const cap = setTimeout(() => {
    capped = true;
    stop.abort();
  }, config.maxSeconds * 1000);

  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted && sent < config.requests) {
      const query = config.queries[sent % config.queries.length] as string;
      sent += 1;
      const t0 = performance.now();
      let reply: Reply | undefined;
      let failure: unknown;
      try {
        reply = await transport.post(JSON.stringify({ query }), stop.signal);
      } catch (err) {
        failure = err;
      }
      const t1 = performance.now();
      if (!reply && stop.signal.aborted) {
        cancelled += 1;
        continue;
      }
      if (reply) latencies.push(t1 - t0);
      const kind = classify(reply, failure);
      if (kind === undefined) {
        ok += 1;
      } else {
        errors += 1;
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(config.concurrency, config.requests) }, worker));
  } finally {
    clearTimeout(cap);
    transport.close();
  }

  const completed = ok + errors;
  const elapsedSeconds = Math.max((performance.now() - started) / 1000, 1e-9);
  const d = new Distribution(latencies);
  const latencyMs = {
    min: d.min,
    mean: d.mean,
    p50: d.percentile(50),
    p90: d.percentile(90),
    p95: d.percentile(95),
    p99: d.percentile(99),
    max: d.max,
  };
  const errorRate = completed ? errors / completed : 1;
  const thresholds = [
    {
      name: 'error rate',
      limit: config.maxErrorRate,
      value: errorRate,
      passed: completed > 0 && errorRate <= config.maxErrorRate,
    },
    {
      name: 'p95 latency ms',
      limit: config.p95Ms,
      value: latencyMs.p95,
      passed: latencyMs.p95 < config.p95Ms,
    },
  ];
  return {
    target: new URL(GENERATE_PATH, config.url).href,
    protocol: transport.name,
    requested: config.requests,
    concurrency: config.concurrency,
    sent,
    completed,
    ok,
    errors,
    cancelled,
    capped,
    elapsedSeconds,
    rps: completed / elapsedSeconds,
    okRps: ok / elapsedSeconds,
    latencyMs,
    errorKinds,
    thresholds,
    passed: thresholds.every((t) => t.passed),
  };
}

function report(s: Summary): string {
  const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 1) : '-');
  const lines = [
    `drive: ${s.requested} requests, ${s.concurrency} in flight, ${s.protocol} -> ${s.target}`,
    `completed ${s.completed} (ok ${s.ok}, errors ${s.errors}, cancelled ${s.cancelled}) in ${s.elapsedSeconds.toFixed(2)} s` +
      (s.capped ? ' (stopped at --max-seconds)' : ''),
    `throughput: ${f(s.rps)} req/s (ok ${f(s.okRps)} req/s)`,
    `latency ms: min ${f(s.latencyMs.min)}  p50 ${f(s.latencyMs.p50)}  p90 ${f(s.latencyMs.p90)}  ` +
      `p95 ${f(s.latencyMs.p95)}  p99 ${f(s.latencyMs.p99)}  max ${f(s.latencyMs.max)}  mean ${f(s.latencyMs.mean)}`,
  ];
  for (const [kind, count] of Object.entries(s.errorKinds).sort((a, b) => b[1] - a[1])) {
    lines.push(`error: ${kind} x${count}`);
  }
  for (const t of s.thresholds) {
    const value = t.name === 'error rate' ? `${(t.value * 100).toFixed(2)}%` : f(t.value);
    const limit = t.name === 'error rate' ? `${(t.limit * 100).toFixed(2)}%` : f(t.limit);
    lines.push(`threshold ${t.name}: ${value} (limit ${limit}) ${t.passed ? 'passed' : 'FAILED'}`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  let config: Config;
  try {
    const parsed = parseConfig(process.argv.slice(2));
    config = { ...parsed, address: await loopbackAddress(parsed.url) };
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`drive: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (!config.apiKey) console.error('drive: no API key (--api-key or API_KEY); the gateway will answer 401');
  const summary = await run(config);
  console.log(config.json ? JSON.stringify(summary, null, 2) : report(summary));
  return summary.passed ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('drive: failed:', err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
