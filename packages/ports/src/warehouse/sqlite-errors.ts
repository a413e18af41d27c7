// SQLite's failures in the port's words: constraint codes become duplicates, lock and I/O codes 'unavailable',
// so that callers never see a driver error.
import { DomainError, alreadyExists, unavailable } from '../errors.js';

export function sqliteCode(err: unknown): string | undefined {
  // Duck-typed: errors from the native module may come from another realm (e.g. under test runners' VMs),
  // where instanceof Error is false.
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function translate(err: unknown, collection: string, what: string): DomainError {
  if (err instanceof DomainError) return err;
  const code = sqliteCode(err) ?? '';
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return alreadyExists(`${what}: a record with this id already exists in ${collection}`, err);
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return alreadyExists(`${what}: the record violates a unique index of ${collection}`, err);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return unavailable(`${what}: the warehouse file is locked by another writer; retry later`, err);
  }
  if (/^SQLITE_(IOERR|FULL|CANTOPEN|READONLY|NOMEM|PROTOCOL)/.test(code)) {
    return unavailable(`${what}: the warehouse file cannot be used (${code})`, err);
  }
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
    return unavailable(`${what}: the warehouse is closed`, err);
  }
  return new DomainError(
    'internal',
    `${what} failed in ${collection}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}
