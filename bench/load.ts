// An open-loop, constant-rate load generator: request i is due at start + i/R whatever happened to the
// requests before it, so a slow server cannot slow the arrivals down and hide its own queueing (the
// "coordinated omission" of closed-loop tools). Latency is measured from the moment a request was due, not
// from when it was sent; how late the generator itself sent requests is reported apart (sendLagMs) so that a
// saturated client can be told from a slow server.
import { performance } from 'node:perf_hooks';
import { createParser } from 'eventsource-parser';
import { Pool } from 'undici';
import { Distribution } from './percentiles.js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadReport {
  /** Requests per second asked for. */
  rate: number;
  durationS: number;
  /** Requests sent (due during the duration). */
  sent: number;
  ok: number;
  errors: number;
  /** Error counts by kind: `http_<status>`, `timeout`, a socket error code, `bad_response`. */
  errorKinds: Record<string, number>;
  /** Successful responses per second, over the span in which they completed. */
  achievedRps: number;
  /** Due time → complete response, successful requests only (ms). */
  latencyMs: Percentiles;
  /** Due time → first content token, streaming requests only (ms). */
  ttftMs?: Percentiles;
  /** Due time → actually handed to the connection pool (ms): large values mean the client fell behind. */
  sendLagMs: { p99: number; max: number };
}

/** What one request reports back; it throws (or rejects) on failure. */
export interface Outcome {
  /** performance.now() when the first content token arrived (streaming). */
  firstTokenAt?: number;
}

export type Requester = (signal: AbortSignal) => Promise<Outcome>;

export class RequestFailed extends Error {
  constructor(readonly kind: string) {
    super(kind);
  }
}

export function percentiles(values: number[]): Percentiles {
  const d = new Distribution(values);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    p50: round(d.percentile(50)),
    p90: round(d.percentile(90)),
    p99: round(d.percentile(99)),
    max: round(d.max),
    mean: round(d.mean),
  };
}

function errorKind(err: unknown): string {
  if (err instanceof RequestFailed) return err.kind;
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    return err.name;
  }
  return 'unknown';
}

export interface OpenLoopOptions {
  rate: number;
  durationS: number;
  request: Requester;
  /** A request still unanswered this long after it was due is aborted and counted as a timeout. */
  timeoutMs?: number;
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<LoadReport> {
  const { rate, durationS, request } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const total = Math.max(1, Math.round(rate * durationS));
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  const ttfts: number[] = [];
  const lags: number[] = [];
  const errorKinds: Record<string, number> = {};
  let ok = 0;
  let firstDone = Infinity;
  let lastDone = -Infinity;
  const inFlight = new Set<Promise<void>>();

  const fire = (dueAt: number) => {
    const sentAt = performance.now();
    lags.push(sentAt - dueAt);
    const signal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs - (sentAt - dueAt))));
    const p = request(signal).then(
      (outcome) => {
        const doneAt = performance.now();
        ok += 1;
        latencies.push(doneAt - dueAt);
        if (outcome.firstTokenAt !== undefined) ttfts.push(outcome.firstTokenAt - dueAt);
        if (doneAt < firstDone) firstDone = doneAt;
        if (doneAt > lastDone) lastDone = doneAt;
      },
      (err: unknown) => {
        const kind = errorKind(err);
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  // Timers fire at best every millisecond or so: each tick sends every request that has fallen due, so the
  // long-run rate is exact even when single ticks are late.
  const start = performance.now() + 1;
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        fire(start + next * intervalMs);
        next += 1;
      }
      if (next >= total) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  // AbortSignal.timeout's timers do not hold the process open: this does until the last request settled.
  const hold = setInterval(() => undefined, 1_000);
  await Promise.all(inFlight);
  clearInterval(hold);

  const errors = total - ok;
  const span = (lastDone - firstDone) / 1000;
  const lag = percentiles(lags);
  return {
    rate,
    durationS,
    sent: total,
    ok,
    errors,
    errorKinds,
    achievedRps: ok > 1 && span > 0 ? Math.round(((ok - 1) / span) * 10) / 10 : 0,
    latencyMs: percentiles(latencies),
    ...(ttfts.length > 0 ? { ttftMs: percentiles(ttfts) } : {}),
    sendLagMs: { p99: lag.p99, max: lag.max },
  };
}

export interface ChatTarget {
  /** Origin of the server, e.g. http://127.0.0.1:8080. */
  origin: string;
  /** Request path, e.g. /v1/chat/completions. */
  path: string;
  headers: Record<string, string>;
  /** Extra top-level fields merged into every body (e.g. the llmtwin extension). */
  extraBody?: Record<string, unknown>;
}

export interface ChatClient {
  nonStreaming: Requester;
  streaming: Requester;
  close(): Promise<void>;
}

/** A small Chat Completions body: what the benchmark sends on every request. */
export const chatBody = (stream: boolean, extra?: Record<string, unknown>) =>
  JSON.stringify({
    model: 'bench-model',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Say hello in one short sentence.' },
    ],
    max_tokens: 16,
    ...(stream ? { stream: true } : {}),
    ...extra,
  });

/**
 * Clients over one connection pool per target. Every connection is kept alive: what is measured is the
 * request path, not TCP handshakes. `expect` is the completion text every answer must carry.
 */
export function chatClient(target: ChatTarget, connections: number, expect: string): ChatClient {
  const pool = new Pool(target.origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const headers = { 'content-type': 'application/json', ...target.headers };
  const plainBody = chatBody(false, target.extraBody);
  const streamBody = chatBody(true, target.extraBody);

  const nonStreaming: Requester = async (signal) => {
    const res = await pool.request({ path: target.path, method: 'POST', headers, body: plainBody, signal });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new RequestFailed(`http_${res.statusCode}`);
    // A proxy answering 200 with something other than the upstream's completion would be no proxy at all.
    if (!text.includes(expect)) throw new RequestFailed('bad_response');
    return {};
  };

  const streaming: Requester = async (signal) => {
    const res = await pool.request({ path: target.path, method: 'POST', headers, body: streamBody, signal });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new RequestFailed(`http_${res.statusCode}`);
    }
    const decoder = new TextDecoder();
    let text = '';
    let firstTokenAt: number | undefined;
    let done = false;
    let now = 0;
    const events = createParser({
      onEvent: ({ data }) => {
        if (data === '[DONE]') {
          done = true;
          return;
        }
        const parsed = JSON.parse(data) as { choices?: { delta?: { content?: string | null } }[] };
        const content = parsed.choices?.[0]?.delta?.content;
        if (content) {
          firstTokenAt ??= now;
          text += content;
        }
      },
    });
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      now = performance.now();
      events.feed(decoder.decode(chunk, { stream: true }));
    }
    if (!done || text !== expect) throw new RequestFailed('bad_response');
    return firstTokenAt === undefined ? {} : { firstTokenAt };
  };

  return { nonStreaming, streaming, close: () => pool.close() };
}
