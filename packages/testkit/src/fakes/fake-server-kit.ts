// What the FAKE model servers (fake-openai-server.ts, fake-tgi-server.ts) share: a loopback HTTP server
// that records every request and how it ended, counts the answers in flight, and can be closed politely
// or killed like a crashed process; an answer writer that streams tokens with the delays and the breakages
// a test asks for; and the stand-in "model" pieces (a word tokenizer, stop sequences, JSON for a schema).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { poll, PollTimeoutError } from '../poll.js';

export type FakeOutcome = 'pending' | 'completed' | 'failed' | 'client-closed' | 'died' | 'killed';

export interface FakeRequestRecord {
  method: string;
  path: string;
  /** Parsed JSON body, when the request had one. */
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
  status?: number;
  outcome: FakeOutcome;
  /** Content tokens written before the request ended. */
  tokensSent: number;
}

/** What every fake server offers a test. */
export interface FakeServer {
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: FakeRequestRecord[];
  /** Generation requests being answered right now. */
  readonly inflight: number;
  /** Stop listening, let in-flight answers finish (up to 2 s), then close every connection. */
  close(): Promise<void>;
  /** Crash: destroy every connection now and stop listening. */
  kill(): Promise<void>;
}

/** How a fake streams its tokens, and where it breaks. */
export interface FakePacing {
  /** Delay before the first token (streamed: after the response headers, before the first event). */
  firstTokenDelayMs?: number;
  /** Delay between tokens. */
  tokenDelayMs?: number;
  /** Destroy the socket after this many content tokens (0: right after the headers). */
  dieAfterTokens?: number;
  /** Stop sending after this many content tokens but keep the connection open. */
  stallAfterTokens?: number;
  /** End the response cleanly after this many content tokens, without the final event. */
  endAfterTokens?: number;
}

/** An error answer: its status, and how to write it while no header has gone out. */
export interface FakeErrorAnswer {
  status: number;
  send(res: http.ServerResponse): void;
}

export type FakeHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  record: FakeRequestRecord,
) => Promise<void>;

/**
 * The HTTP side of a fake: each request gets a record; a handler that throws fails its request with the
 * answer `onError` makes of the error (or a dropped connection, once the headers went out).
 */
export class FakeHttpServer {
  readonly requests: FakeRequestRecord[] = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly live = new Set<FakeRequestRecord>();
  private active = 0;
  private killed = false;
  private boundPort = 0;

  constructor(handle: FakeHandler, onError: (err: unknown) => FakeErrorAnswer) {
    this.server = http.createServer((req, res) => {
      const record: FakeRequestRecord = {
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0] ?? '/',
        body: undefined,
        authorization: req.headers.authorization,
        outcome: 'pending',
        tokensSent: 0,
      };
      this.requests.push(record);
      this.live.add(record);
      res.on('close', () => {
        this.live.delete(record);
        if (record.outcome === 'pending')
          record.outcome = res.writableFinished ? 'completed' : 'client-closed';
      });
      handle(req, res, record).catch((err: unknown) => {
        const answer = onError(err);
        record.status = answer.status;
        record.outcome = 'failed';
        if (res.headersSent) res.destroy();
        else answer.send(res);
      });
    });
    // Tracked so that kill() can drop even the connections that are idle or mid-request.
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get port(): number {
    return this.boundPort;
  }

  /** http://127.0.0.1:PORT */
  get origin(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** Answers being generated; close() waits for them. */
  get inflight(): number {
    return this.active;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.boundPort = (this.server.address() as AddressInfo).port;
        resolve(this.boundPort);
      });
    });
  }

  /** Runs `generate` counted as an answer in flight. */
  async generating(generate: () => Promise<void>): Promise<void> {
    this.active++;
    try {
      await generate();
    } finally {
      this.active--;
    }
  }

  async close(): Promise<void> {
    if (this.killed) return;
    const closing = this.stopListening();
    this.server.closeIdleConnections();
    // In-flight answers get 2 s to finish; past that, their connections are closed under them.
    await poll(() => this.active === 0, { what: 'in-flight answers', timeoutMs: 2000, intervalMs: 10 }).catch(
      (error: unknown) => {
        if (!(error instanceof PollTimeoutError)) throw error;
      },
    );
    this.server.closeAllConnections();
    await closing;
  }

  async kill(): Promise<void> {
    this.killed = true;
    for (const record of this.live) if (record.outcome === 'pending') record.outcome = 'killed';
    const closing = this.stopListening();
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await closing;
  }

  private stopListening(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}

/** Writes one answer: knows when the client left, and can die or stall the way a broken server does. */
export class FakeAnswer {
  /** Aborts when the response closes (the client left, or the answer ended). */
  readonly closed: AbortSignal;

  constructor(
    private readonly res: http.ServerResponse,
    private readonly record: FakeRequestRecord,
  ) {
    const ctl = new AbortController();
    res.on('close', () => ctl.abort());
    this.closed = ctl.signal;
  }

  /** Resolves once the bytes reached the socket, so that a following die() cannot swallow them. */
  write(data: string): Promise<void> {
    return new Promise<void>((resolve) => this.res.write(data, () => resolve()));
  }

  /** Resolves after `ms`, or early (false) when the client left. */
  pause(ms: number): Promise<boolean> {
    return pause(ms, this.closed);
  }

  die(): void {
    this.record.outcome = 'died';
    this.res.socket?.destroy();
  }

  /** Holds the connection open, sending nothing, until the client gives up. */
  async stall(): Promise<void> {
    await pause(2 ** 31 - 1, this.closed);
  }

  /**
   * Sends tokens 0..count-1 through `send`, `tokenDelayMs` apart, dying or stalling once as many were
   * sent as `pacing` says. True once all were sent; false when the answer ended early (the client left,
   * the fake died, stalled or ended short, or `send` returned false because it ended the answer itself).
   */
  async sendTokens(
    count: number,
    pacing: FakePacing,
    send: (i: number) => Promise<boolean | void>,
  ): Promise<boolean> {
    for (let i = 0; i < count; i++) {
      if (i > 0 && !(await this.pause(pacing.tokenDelayMs ?? 0))) return false;
      if (this.closed.aborted) return false;
      if ((await send(i)) === false) return false;
      this.record.tokensSent++;
      if (pacing.dieAfterTokens !== undefined && this.record.tokensSent >= pacing.dieAfterTokens) {
        this.die();
        return false;
      }
      if (pacing.stallAfterTokens !== undefined && this.record.tokensSent >= pacing.stallAfterTokens) {
        await this.stall();
        return false;
      }
      if (pacing.endAfterTokens !== undefined && this.record.tokensSent >= pacing.endAfterTokens) {
        this.res.end();
        return false;
      }
    }
    return true;
  }
}

/** A stand-in tokenizer: each whitespace-separated word, with the whitespace before it, is one token. */
export function fakeTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

/** A JSON value that matches a (simple) JSON schema, with `text` wherever a free string may go. */
export function exampleForSchema(schema: unknown, text: string): unknown {
  if (typeof schema !== 'object' || schema === null) return text;
  const s = schema as Record<string, unknown>;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length > 0) return exampleForSchema(options[0], text);
  }
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? s.type[0]) : s.type;
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [name, sub] of Object.entries(props)) out[name] = exampleForSchema(sub, text);
      return out;
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 1;
      return Array.from({ length: Math.max(min, 1) }, () => exampleForSchema(s.items, text));
    }
    case 'integer':
      return typeof s.minimum === 'number' ? Math.ceil(s.minimum) : 1;
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text;
  }
}

/**
 * Cuts `text` before the earliest stop sequence; `end` is where that stop sequence ends in `text`
 * (-1 when none occurs).
 */
export function applyStop(text: string, stop: string[]): { text: string; stopped: boolean; end: number } {
  let cut = -1;
  let end = -1;
  for (const s of stop) {
    if (s === '') continue;
    const at = text.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) {
      cut = at;
      end = at + s.length;
    }
  }
  return cut < 0 ? { text, stopped: false, end } : { text: text.slice(0, cut), stopped: true, end };
}

/** Resolves after `ms`, or early (false) when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function readJsonBody(req: http.IncomingMessage, limit = 8 * 1024 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  return raw === '' ? undefined : JSON.parse(raw);
}
