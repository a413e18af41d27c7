// A call that an HTTP/2 connection refused before the server read it (REFUSED_STREAM) never ran: the client
// had queued it on a connection that was going away (a server at its maximum connection age, a replica
// shutting down). gRPC clients send such a call again on a new connection; connect-node's do not, so the
// services' own clients add this interceptor. Calls that reached the server are never repeated.
import type { Interceptor } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';

/** Whether `err` (or an error it wraps) says the HTTP/2 stream was refused. */
export function wasRefusedStream(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if (e.message.includes('REFUSED_STREAM')) return true;
  }
  return false;
}

/**
 * Sends a unary or server-streaming call again, up to `attempts` times in all, when its stream was refused.
 * Client- and bidi-streaming calls pass through unchanged (their messages cannot be sent twice).
 */
export function refusedStreamRetry(attempts = 3): Interceptor {
  return (next) => async (req) => {
    const send = async <T>(attempt: () => Promise<T>): Promise<T> => {
      for (let n = 1; ; n++) {
        try {
          return await attempt();
        } catch (err) {
          if (n >= attempts || req.signal.aborted || !wasRefusedStream(err)) throw err;
        }
      }
    };
    if (!req.stream) return send(() => next(req));
    if (req.method.methodKind !== 'server_streaming') return next(req);
    // A server-streaming call sends one message: kept, so that a refused attempt can send it again.
    const messages: unknown[] = [];
    for await (const m of req.message) messages.push(m);
    return send(() => next({ ...req, message: createAsyncIterable(messages) } as typeof req));
  };
}
