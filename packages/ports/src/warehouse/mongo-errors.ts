// MongoDB's and FerretDB's failures in the port's words: which server codes and driver errors mean "not
// reachable now", "wrong request" or "duplicate", so that callers never see a driver error.
import { DomainError, alreadyExists, unavailable } from '../errors.js';

// Server codes meaning "the server cannot serve this right now" rather than "the request is wrong".
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);
const INVALID_CODES = new Set([2, 9, 40, 52, 55, 56, 57, 66]);
// The driver's names for connection-level failures (classes differ across driver minors; names do not).
const UNAVAILABLE_ERRORS = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  'MongoServerClosedError',
  'MongoOperationTimeoutError',
]);

function errorCode(err: unknown): number | undefined {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

export function isDuplicateKey(err: unknown): boolean {
  const code = errorCode(err);
  // FerretDB v1 (SQLite backend) reports unique-index violations of updates and index builds as
  // InternalError (code 1) carrying SQLite's message instead of E11000.
  return (
    code === 11000 ||
    code === 11001 ||
    (code === 1 && err instanceof Error && /UNIQUE constraint failed/.test(err.message))
  );
}

export function translate(err: unknown, collection: string, what: string, signal?: AbortSignal): DomainError {
  if (err instanceof DomainError) return err;
  if (signal?.aborted)
    return new DomainError('cancelled', `${what} on ${collection} was cancelled`, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  const code = errorCode(err);
  if (isDuplicateKey(err)) {
    return alreadyExists(
      `${what}: a record with this id or unique-index key already exists in ${collection}`,
      err,
    );
  }
  if (err instanceof Error && UNAVAILABLE_ERRORS.has(err.name)) {
    return unavailable(`${what}: the MongoDB server cannot be reached (${message})`, err);
  }
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return unavailable(`${what}: the MongoDB server is not available (${message})`, err);
  }
  if (code === 14 || code === 28) {
    return new DomainError('failed-precondition', `${what} on ${collection}: ${message}`, { cause: err });
  }
  if (code === 85 || code === 86) {
    return new DomainError(
      'failed-precondition',
      `${what} on ${collection}: an index with this name or these fields exists with another definition (${message})`,
      { cause: err },
    );
  }
  if (code !== undefined && INVALID_CODES.has(code)) {
    return new DomainError('invalid-argument', `${what} on ${collection}: ${message}`, { cause: err });
  }
  return new DomainError('internal', `${what} on ${collection} failed: ${message}`, { cause: err });
}
