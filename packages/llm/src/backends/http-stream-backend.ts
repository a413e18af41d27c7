// What the HTTP adapters (openai-backend.ts, tgi-backend.ts) share: one streamed POST per chat under the
// two timers of `streamEvents`, the requests in flight so that close() can end them, the rule that a stream
// which stops before its final event is a failure, and a health GET under its own timeout. Each adapter
// keeps its wire format: the request body, and a decoder that turns the stream's events into ChatEvents.
import { LlmError, type ChatEvent } from '../llm.port.js';
import { describeNetworkError, errorMessage, statusKind, streamEvents, type SseEvent } from './sse.js';

export interface HttpStreamBackendOptions {
  /** The model id clients ask for. */
  model: string;
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` (hosted APIs, Inference Endpoints, a proxy in front). */
  apiKey?: string;
  contextTokens?: number;
  /** Longest wait for the first streamed event (connect, queue, prompt processing). Default 60 s. */
  firstTokenTimeoutMs?: number;
  /** Longest silence between streamed events. Default 30 s. */
  idleTimeoutMs?: number;
  /** Longest wait for a health check. Default 5 s. */
  healthTimeoutMs?: number;
}

/** What a decoder needs to know of its stream. */
export interface StreamProgress {
  /** Whether text already reached the caller: a failure from now on is 'interrupted'. */
  readonly emitted: boolean;
}

/**
 * Reads one stream's events and yields the deltas, then one `end` once the answer is complete. Returning
 * without an `end` means the stream stopped short.
 */
export type StreamDecoder = (
  events: AsyncIterable<SseEvent>,
  progress: StreamProgress,
) => AsyncGenerator<ChatEvent>;

const trimSlash = (url: string) => url.replace(/\/+$/, '');

const httpError = (where: string, status: number, body: string) =>
  new LlmError(statusKind(status), `${where} answered ${status}: ${errorMessage(body) || 'no body'}`);

export abstract class HttpStreamBackend<Options extends HttpStreamBackendOptions> {
  readonly model: string;
  readonly endpoint: string;
  protected discoveredContext: number | undefined;
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(protected readonly opts: Options) {
    this.model = opts.model;
    this.endpoint = trimSlash(opts.baseUrl);
  }

  get contextTokens(): number | undefined {
    return this.opts.contextTokens ?? this.discoveredContext;
  }

  protected headers(): Record<string, string> {
    return this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {};
  }

  /** POSTs `body` to `path` under the endpoint and yields what `decode` makes of the event stream. */
  protected async *stream(
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    decode: StreamDecoder,
  ): AsyncGenerator<ChatEvent> {
    if (this.closed) throw new LlmError('unavailable', `${this.endpoint}: the backend is closed`);
    const closing = new AbortController();
    this.inflight.add(closing);
    const progress = { emitted: false };
    let end: ChatEvent | undefined;
    try {
      const events = streamEvents({
        url: `${this.endpoint}${path}`,
        body,
        headers: this.headers(),
        signal: signal ? AbortSignal.any([signal, closing.signal]) : closing.signal,
        firstEventTimeoutMs: this.opts.firstTokenTimeoutMs ?? 60_000,
        idleTimeoutMs: this.opts.idleTimeoutMs ?? 30_000,
        describe: this.endpoint,
        hasOutput: () => progress.emitted,
        httpError: (status, text) => httpError(this.endpoint, status, text),
      });
      for await (const ev of decode(events, progress)) {
        if (ev.type === 'end') {
          end = ev;
          break;
        }
        progress.emitted = true;
        yield ev;
      }
    } catch (err) {
      // close() aborted it; the caller's own abort keeps its reason.
      if (closing.signal.aborted && !signal?.aborted) {
        throw new LlmError(
          progress.emitted ? 'interrupted' : 'unavailable',
          `${this.endpoint}: the backend was closed`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      this.inflight.delete(closing);
    }
    if (!end) {
      throw new LlmError(
        progress.emitted ? 'interrupted' : 'unavailable',
        `${this.endpoint}: the stream ended before the answer did`,
      );
    }
    yield end;
  }

  /** An event's JSON payload; one that does not parse is a broken stream. */
  protected parseEvent<T>(ev: SseEvent, progress: StreamProgress): T {
    try {
      return JSON.parse(ev.data) as T;
    } catch (err) {
      throw new LlmError(
        progress.emitted ? 'interrupted' : 'unavailable',
        `${this.endpoint}: an event is not JSON: ${ev.data.slice(0, 80)}`,
        { cause: err },
      );
    }
  }

  /** GETs `url` for a health check and returns the body of a 2xx answer. */
  protected async get(url: string, signal?: AbortSignal): Promise<string> {
    const ms = this.opts.healthTimeoutMs ?? 5_000;
    const timeout = AbortSignal.timeout(ms);
    try {
      const res = await fetch(url, {
        headers: this.headers(),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text();
      if (!res.ok) throw httpError(url, res.status, text);
      return text;
    } catch (err) {
      if (err instanceof LlmError) throw err;
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new LlmError('timeout', `${url}: no answer within ${ms} ms`, { cause: err });
      throw new LlmError('unavailable', `${url}: ${describeNetworkError(err)}`, { cause: err });
    }
  }

  /** POSTs a JSON body to `path` under the endpoint (an admin call, not a stream) and returns the answer's text. */
  protected async post(path: string, body: unknown, signal?: AbortSignal): Promise<string> {
    const url = `${this.endpoint}${path}`;
    const ms = this.opts.firstTokenTimeoutMs ?? 60_000;
    const timeout = AbortSignal.timeout(ms);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...this.headers(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text();
      if (!res.ok) throw httpError(url, res.status, text);
      return text;
    } catch (err) {
      if (err instanceof LlmError) throw err;
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new LlmError('timeout', `${url}: no answer within ${ms} ms`, { cause: err });
      throw new LlmError('unavailable', `${url}: ${describeNetworkError(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ctl of this.inflight) {
      ctl.abort(new LlmError('unavailable', `${this.endpoint}: the backend was closed`));
    }
  }
}
