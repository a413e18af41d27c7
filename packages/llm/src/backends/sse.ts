// Server-sent events over HTTP (undici), for the HTTP LLM adapters. The event-stream framing (CRLF, LF or CR line
// ends, chunk boundaries anywhere, comments, multi-line `data`) is eventsource-parser's, a small, widely used,
// dependency-free implementation of the WHATWG parsing rules; `parseSse` adds only what it leaves to its
// caller: decoding bytes (a boundary may fall inside a multi-byte character), the last event ID that carries
// over to later events, and what to do when the stream ends. `streamEvents` POSTs a JSON body and yields the
// events under two timers: one for the first event and one for the silence between events. It turns
// transport failures into LlmErrors; the adapters read the payloads.
import { createParser } from 'eventsource-parser';
import { request, type Dispatcher } from 'undici';
import { LlmError, type LlmErrorKind } from '../llm.port.js';

export interface SseEvent {
  /** The `event` field; 'message' when absent. */
  event: string;
  data: string;
  /** The last event ID the stream set, carried to later events as EventSource's `lastEventId` is (an `id`
   * in an event without data is forgotten with that event: eventsource-parser drops both together). */
  id?: string;
}

/**
 * Parses an event stream. A partial line at the end (a cut connection) is dropped; a final event whose lines
 * all arrived but whose blank line did not is kept rather than lost (say, the [DONE] of a server that ends
 * the stream right after it).
 */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  // The decoder drops a leading BOM, as the event-stream rules ask.
  const decoder = new TextDecoder('utf-8');
  const ready: SseEvent[] = [];
  let lastId: string | undefined;
  const parser = createParser({
    onEvent: (message) => {
      if (message.id !== undefined) lastId = message.id;
      const event: SseEvent = { event: message.event ?? 'message', data: message.data };
      if (lastId !== undefined) event.id = lastId;
      ready.push(event);
    },
  });
  let lineOpen = false;
  const feed = (text: string): void => {
    if (text === '') return;
    parser.feed(text);
    const last = text.charCodeAt(text.length - 1);
    lineOpen = last !== 10 && last !== 13;
  };

  for await (const chunk of body) {
    feed(decoder.decode(chunk, { stream: true }));
    yield* ready.splice(0);
  }
  feed(decoder.decode());
  // After whole lines, two line ends: the first may complete a CRLF whose CR came last, the second ends the
  // event. After a cut-off line, one: it settles a CR the parser held back (waiting to see whether an LF
  // follows) and ends the partial line, whose event then never sees its blank line and is dropped.
  parser.feed(lineOpen ? '\n' : '\n\n');
  yield* ready.splice(0);
}

export interface StreamEventsOptions {
  url: string;
  body: unknown;
  headers?: Record<string, string>;
  /** The caller's signal: when it aborts, the stream throws its reason (not an LlmError). */
  signal?: AbortSignal;
  /** Longest wait from sending the request to the first event (connect, queue, prompt processing). */
  firstEventTimeoutMs: number;
  /** Longest silence between two events once the first arrived. */
  idleTimeoutMs: number;
  /** Names the backend in error messages. */
  describe: string;
  /** Whether the adapter has already passed text to its caller; failures after that are 'interrupted'. */
  hasOutput: () => boolean;
  /** Builds the error for a non-2xx answer from its status and (bounded) body text. */
  httpError: (status: number, body: string) => LlmError;
}

const MAX_ERROR_BODY = 16 * 1024;

/** Why a stream the reader left early is closed: made once, as nobody sees it but the transport. */
const STOPPED = new Error('the reader stopped reading the event stream');

/** The port's kind for an HTTP status outside 2xx, the same for every HTTP adapter. */
export function statusKind(status: number): LlmErrorKind {
  if (status === 408) return 'timeout';
  if (status === 429) return 'unavailable';
  if (status >= 400 && status < 500) return 'rejected';
  // 501 and 505 say the server does not support the request; other 5xx are failures of the server.
  if (status === 501 || status === 505) return 'rejected';
  return 'unavailable';
}

/** A short reason from a fetch/undici error: `fetch failed: ECONNREFUSED`, `terminated: other side closed`. */
export function describeNetworkError(err: unknown): string {
  // Duck-typed: undici's errors may come from another realm (jest's VM contexts), where instanceof fails.
  const message = (e: unknown) =>
    typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string'
      ? (e as { message: string }).message
      : undefined;
  const top = message(err);
  if (top === undefined) return String(err);
  const cause = (err as { cause?: unknown }).cause as { code?: unknown; errors?: unknown } | undefined;
  let detail: string | undefined;
  if (cause && typeof cause === 'object') {
    if (typeof cause.code === 'string') detail = cause.code;
    else if (Array.isArray(cause.errors)) {
      detail = cause.errors
        .map((e: { code?: unknown }) => (typeof e?.code === 'string' ? e.code : message(e)))
        .join(', ');
    } else detail = message(cause);
  }
  return detail && detail !== top ? `${top}: ${detail}` : top;
}

/**
 * POSTs `body` as JSON and yields the response's events. The timers run only while waiting on the
 * backend, not while the consumer holds an event, so a slow consumer is never mistaken for a stalled
 * backend. Returning early (break) aborts the request, which closes the connection to the backend.
 *
 * Over undici's request() rather than fetch: the body arrives as a Node stream, without fetch's Request,
 * Response, Headers and web-stream objects, which cost the router more CPU per answer than everything else
 * it does with the stream (bench/router-overhead.ts).
 */
export async function* streamEvents(opts: StreamEventsOptions): AsyncGenerator<SseEvent> {
  const ctl = new AbortController();
  let timedOut: 'first' | 'idle' | undefined;
  // One timer for the stream, pushed back at each wait rather than made anew per event; it does nothing
  // when it runs out while the consumer holds an event (no wait open).
  let timer: NodeJS.Timeout | undefined;
  let timerMs = 0;
  let armed: 'first' | 'idle' = 'first';
  let waiting = false;
  const arm = (ms: number, which: 'first' | 'idle') => {
    armed = which;
    waiting = true;
    if (!Number.isFinite(ms) || ms <= 0) {
      clearTimeout(timer);
      timer = undefined;
      return;
    }
    if (timer !== undefined && timerMs === ms) {
      timer.refresh();
      return;
    }
    clearTimeout(timer);
    timerMs = ms;
    timer = setTimeout(() => {
      if (!waiting) return;
      timedOut = armed;
      ctl.abort(new Error(`${armed === 'first' ? 'first event' : 'idle'} timeout`));
    }, ms);
  };
  // The caller's abort reaches the request through our own controller (cheaper than AbortSignal.any).
  const caller = opts.signal;
  const onCallerAbort = () => ctl.abort(caller!.reason);
  if (caller?.aborted) ctl.abort(caller.reason);
  else caller?.addEventListener('abort', onCallerAbort, { once: true });

  const fail = (err: unknown): never => {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (timedOut === 'first' || (timedOut === 'idle' && !opts.hasOutput())) {
      const ms = timedOut === 'first' ? opts.firstEventTimeoutMs : opts.idleTimeoutMs;
      throw new LlmError('timeout', `${opts.describe}: no answer within ${ms} ms`, { cause: err });
    }
    if (timedOut === 'idle') {
      throw new LlmError('interrupted', `${opts.describe}: the stream stalled for ${opts.idleTimeoutMs} ms`, {
        cause: err,
      });
    }
    if (err instanceof LlmError) throw err;
    const reason = describeNetworkError(err);
    if (opts.hasOutput()) {
      throw new LlmError('interrupted', `${opts.describe}: the stream broke (${reason})`, { cause: err });
    }
    throw new LlmError('unavailable', `${opts.describe}: ${reason}`, { cause: err });
  };

  let finished = false;
  /** Set once the response's body is being read: from then on, closing it is what ends the request. */
  let bodyClosed = false;
  arm(opts.firstEventTimeoutMs, 'first');
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...opts.headers },
        body: JSON.stringify(opts.body),
        signal: ctl.signal,
      });
    } catch (err) {
      return fail(err);
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      let text = '';
      try {
        text = (await res.body.text()).slice(0, MAX_ERROR_BODY);
      } catch (err) {
        return fail(err);
      }
      throw opts.httpError(res.statusCode, text);
    }
    const header = res.headers['content-type'];
    const type = (Array.isArray(header) ? header.join(', ') : header) ?? '';
    if (!type.includes('text/event-stream')) {
      res.body.destroy();
      throw new LlmError(
        'unavailable',
        `${opts.describe}: expected an event stream, got '${type || 'no body'}'`,
      );
    }
    const body = res.body;
    const events = parseSse(body);
    try {
      for (;;) {
        let next: IteratorResult<SseEvent>;
        try {
          next = await events.next();
        } catch (err) {
          return fail(err);
        }
        waiting = false;
        if (next.done) {
          finished = true;
          return;
        }
        yield next.value;
        arm(opts.idleTimeoutMs, 'idle');
      }
    } finally {
      // Left early (the decoder saw its last event, or the caller stopped): the body goes now, with a reason
      // made once, rather than with the AbortError (and its stack trace) the stream's iterator would make.
      if (!finished) body.destroy(STOPPED);
      bodyClosed = true;
      await events.return(undefined).catch(() => undefined);
    }
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener('abort', onCallerAbort);
    // A stream read to its end, or whose body was closed above, has nothing left to cancel; otherwise (no
    // answer yet, an error status) the request is.
    if (!finished && !bodyClosed) ctl.abort(STOPPED);
  }
}

/** The message inside an error body: OpenAI `{error:{message}}`, TGI `{error}`, vLLM `{message}`, or text. */
export function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as {
      error?: { message?: unknown } | string;
      message?: unknown;
      detail?: unknown;
    };
    if (typeof parsed.error === 'string') return parsed.error;
    if (parsed.error && typeof parsed.error.message === 'string') return parsed.error.message;
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.detail === 'string') return parsed.detail;
  } catch {
    // not JSON: a proxy's page, say
  }
  const text = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
