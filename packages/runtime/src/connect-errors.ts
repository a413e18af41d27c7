// The one place where errors become Connect/gRPC codes. Clients get a code and a message that says what to
// fix; anything we did not anticipate becomes Internal with a generic message, and its details stay in our
// logs (the original error is the ConnectError's cause, never sent).
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { DomainError, type DomainErrorKind } from './errors.js';

export const codeByKind: Readonly<Record<DomainErrorKind, Code>> = {
  'invalid-argument': Code.InvalidArgument,
  'not-found': Code.NotFound,
  'already-exists': Code.AlreadyExists,
  conflict: Code.Aborted,
  'failed-precondition': Code.FailedPrecondition,
  unauthenticated: Code.Unauthenticated,
  'permission-denied': Code.PermissionDenied,
  'resource-exhausted': Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  'deadline-exceeded': Code.DeadlineExceeded,
  cancelled: Code.Canceled,
  internal: Code.Internal,
};

export const INTERNAL_MESSAGE = 'internal error';

// Duck-typed: DOMException is not always an Error subclass (other realms, older runtimes).
function isAbortError(err: unknown): err is { name: string } {
  if (typeof err !== 'object' || err === null) return false;
  const name = (err as { name?: unknown }).name;
  return name === 'AbortError' || name === 'TimeoutError';
}

/** Maps any thrown value to the ConnectError a client should see. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof DomainError) {
    const code = codeByKind[err.kind];
    if (code === Code.Internal)
      return new ConnectError(INTERNAL_MESSAGE, Code.Internal, undefined, undefined, err);
    const violations = err.violations.map((v) => `${v.field}: ${v.message}`);
    const message = violations.length === 0 ? err.message : `${err.message} (${violations.join('; ')})`;
    return new ConnectError(message, code, undefined, undefined, err);
  }
  // A request abort or a timeout that surfaced from an adapter call made with the request's signal.
  if (isAbortError(err)) {
    return err.name === 'TimeoutError'
      ? new ConnectError('the operation timed out', Code.DeadlineExceeded, undefined, undefined, err)
      : new ConnectError('the operation was cancelled', Code.Canceled, undefined, undefined, err);
  }
  return new ConnectError(INTERNAL_MESSAGE, Code.Internal, undefined, undefined, err);
}

/**
 * The code of a call whose caller ended it: set when the request's signal aborted, whatever the handler then
 * threw. A caller that goes away is no fault of ours, however the abort reached us: a plain Error as the
 * in-process transport's reason, or an HTTP/2 reset whose code (INTERNAL_ERROR from a proxy whose own client
 * left) connect maps to Internal. Only a passed deadline keeps its own code.
 */
export function callerEnded(signal: AbortSignal): ConnectError | undefined {
  if (!signal.aborted) return undefined;
  const reason = ConnectError.from(signal.reason, Code.Canceled);
  if (reason.code === Code.DeadlineExceeded) return reason;
  return new ConnectError(
    `the caller ended the call: ${reason.rawMessage}`,
    Code.Canceled,
    undefined,
    undefined,
    signal.reason,
  );
}

// Codes that mean the server (or a dependency) failed, as opposed to the caller asking for something wrong.
const SERVER_FAULTS = new Set<Code>([Code.Unknown, Code.Internal, Code.DataLoss, Code.Unimplemented]);
const DEPENDENCY_FAULTS = new Set<Code>([Code.Unavailable, Code.DeadlineExceeded]);

function logFailure(logger: Logger, rpc: string, original: unknown, mapped: ConnectError) {
  const fields = { rpc, code: Code[mapped.code] };
  if (SERVER_FAULTS.has(mapped.code)) {
    logger.error({ ...fields, err: original }, 'rpc failed');
  } else if (DEPENDENCY_FAULTS.has(mapped.code)) {
    logger.warn({ ...fields, err: original }, 'rpc failed');
  } else if (mapped.code === Code.Canceled) {
    logger.debug({ ...fields, reason: mapped.rawMessage }, 'rpc cancelled');
  } else {
    logger.debug({ ...fields, reason: mapped.rawMessage }, 'rpc rejected');
  }
}

/** Server interceptor: every error leaving a handler (unary or stream) goes through toConnectError. */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const map = (err: unknown): ConnectError => {
      // A handler fails in many ways once its caller has gone (a write to a closed stream, the signal's own
      // reason rethrown); all of them are the caller's cancellation, not a server fault.
      const mapped = callerEnded(req.signal) ?? toConnectError(err);
      logFailure(logger, rpc, err, mapped);
      return mapped;
    };
    let res;
    try {
      res = await next(req);
    } catch (err) {
      throw map(err);
    }
    if (!res.stream) return res;
    const source = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* source;
        } catch (err) {
          throw map(err);
        }
      })(),
    };
  };
}
