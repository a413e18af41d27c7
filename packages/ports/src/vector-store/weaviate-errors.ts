// Weaviate's failures in the port's words. The client reports some by class name, some by HTTP status and
// connection failures only in the message of a nested cause, so all three are read.
import { DomainError, isDomainError, unavailable } from '../errors.js';

/** The error text including its causes: fetch hides ECONNREFUSED in `cause`. */
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    const e = current as { message?: unknown; code?: unknown; cause?: unknown };
    parts.push(String(e.message ?? current), String(e.code ?? ''));
    current = e.cause;
  }
  return parts.join(' ');
}

const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|fetch failed|socket hang up|UNAVAILABLE|No connection established|DEADLINE_EXCEEDED|timed out|other side closed/i;

export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function translate(err: unknown, what: string): DomainError {
  if (isDomainError(err)) return err;
  const name = (err as { name?: unknown } | null)?.name;
  const text = describe(err);
  const status = statusOf(err);
  if (name === 'WeaviateUnauthenticatedError' || status === 401) {
    return new DomainError(
      'unauthenticated',
      `Weaviate refused the credentials (${what}); check the API key`,
      {
        cause: err,
      },
    );
  }
  if (name === 'WeaviateInsufficientPermissionsError' || status === 403) {
    return new DomainError('permission-denied', `the Weaviate API key may not ${what}`, { cause: err });
  }
  if (/could not find class|class .* (does not exist|not found)/i.test(text) || status === 404) {
    return new DomainError(
      'not-found',
      `Weaviate has no such collection (${what}); call ensureCollection first`,
      {
        cause: err,
      },
    );
  }
  if (/dimensions do not match|vector lengths don't match|dimension mismatch/i.test(text)) {
    return new DomainError(
      'invalid-argument',
      `the vector does not fit the collection's dimensions (${what})`,
      {
        cause: err,
      },
    );
  }
  if (status === 429) {
    return new DomainError('resource-exhausted', `Weaviate is rate-limiting (${what}); retry later`, {
      cause: err,
    });
  }
  if (
    name === 'WeaviateRequestTimeoutError' ||
    UNREACHABLE.test(text) ||
    status === 502 ||
    status === 503 ||
    status === 504
  ) {
    return unavailable(`Weaviate is unreachable or not ready (${what}); retry when it is back`, err);
  }
  if (status === 422) {
    return new DomainError(
      'invalid-argument',
      `Weaviate rejected the request (${what}): ${text.slice(0, 300)}`,
      {
        cause: err,
      },
    );
  }
  return new DomainError('internal', `Weaviate failed to ${what}`, { cause: err });
}
