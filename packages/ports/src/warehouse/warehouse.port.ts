// The document warehouse: named collections of JSON-like records keyed by a string id. Implemented by an
// embedded single-file database (better-sqlite3) and by MongoDB (also FerretDB v1, so nothing here needs
// transactions, change streams, $lookup or text search).
//
// Values are JSON values plus Uint8Array (binary payloads) and Date is NOT allowed: timestamps are stored as
// epoch milliseconds (numbers) so that every adapter sorts and compares them the same way.

export type Scalar = string | number | boolean | null;
/**
 * Arrays may not directly contain arrays (FerretDB v1 cannot store them); field names may not start with
 * `$` or contain `.`. Adapters reject such values with 'invalid-argument'. See docs/warehouse.md.
 */
export type Value = Scalar | Uint8Array | Value[] | { [key: string]: Value };

/** Every record has a string `_id`. */
export interface Record {
  _id: string;
  [field: string]: Value | undefined;
}

/**
 * A condition on one (possibly dotted) field. A bare value means equality. Conditions are defined for
 * scalar or missing fields (null matches both null and missing; 1 never matches '1' or true); what they do
 * on array fields differs between adapters, so do not filter on arrays.
 */
export type Condition =
  | Scalar
  | {
      $eq?: Scalar;
      $ne?: Scalar;
      $in?: Scalar[];
      $nin?: Scalar[];
      $gt?: number | string;
      $gte?: number | string;
      $lt?: number | string;
      $lte?: number | string;
      $exists?: boolean;
    };

/**
 * All conditions must hold (AND). Field names may be dotted paths into nested objects; each segment starts
 * with a letter or `_` and holds only letters, digits, `_` and `-`.
 */
export type Filter = { [field: string]: Condition };

export interface FindOptions {
  /** Sort by these fields, in order; `_id` is always the final tie-breaker. */
  sort?: { field: string; direction: 'asc' | 'desc' }[];
  limit?: number;
  skip?: number;
  /** Fields to leave out of the results (e.g. large payloads). */
  exclude?: string[];
}

/** A partial change. `set` and `unset` take dotted paths; `inc` adds to numeric fields. */
export interface Update {
  set?: { [field: string]: Value };
  unset?: string[];
  inc?: { [field: string]: number };
}

export interface IndexSpec {
  fields: { field: string; direction: 'asc' | 'desc' }[];
  unique?: boolean;
  name?: string;
}

export interface Collection<T extends Record = Record> {
  readonly name: string;
  get(id: string, signal?: AbortSignal): Promise<T | undefined>;
  getMany(ids: readonly string[], signal?: AbortSignal): Promise<T[]>;
  /** Inserts a new record; throws DomainError 'already-exists' when the id (or a unique index) is taken. */
  insert(record: T, signal?: AbortSignal): Promise<void>;
  /** Inserts or fully replaces the record with this id. */
  put(record: T, signal?: AbortSignal): Promise<void>;
  /**
   * put() for each record, as one write where the backend can (one transaction in the embedded database,
   * one bulk write in MongoDB): what batches of records written together cost once rather than per record.
   */
  putMany(records: readonly T[], signal?: AbortSignal): Promise<void>;
  /**
   * Replaces the record only if the stored one matches `expected` (compare-and-set, e.g. on a version
   * field); with `expected` null, only if no record exists. Returns whether the write happened.
   */
  replaceIf(record: T, expected: Filter | null, signal?: AbortSignal): Promise<boolean>;
  /**
   * Applies a partial update to the record with this id, if it also matches `where`. With `upsert`, a
   * missing record is created from the id and `set`. Returns the record after the update, or undefined.
   */
  update(
    id: string,
    update: Update,
    options?: { where?: Filter; upsert?: boolean },
    signal?: AbortSignal,
  ): Promise<T | undefined>;
  /** Applies the update to every matching record; returns how many changed. */
  updateMany(filter: Filter, update: Update, signal?: AbortSignal): Promise<number>;
  delete(id: string, signal?: AbortSignal): Promise<boolean>;
  deleteMany(filter: Filter, signal?: AbortSignal): Promise<number>;
  find(filter: Filter, options?: FindOptions, signal?: AbortSignal): Promise<T[]>;
  /** Iterates over every match in pages, so large collections never sit in memory at once. */
  scan(
    filter: Filter,
    options?: { batchSize?: number; exclude?: string[] },
    signal?: AbortSignal,
  ): AsyncIterable<T>;
  count(filter?: Filter, signal?: AbortSignal): Promise<number>;
  ensureIndex(spec: IndexSpec): Promise<void>;
}

export interface Warehouse {
  /** 'embedded' or 'mongodb'. */
  readonly adapter: string;
  collection<T extends Record = Record>(name: string): Collection<T>;
  /** Resolves when the backend answers; throws DomainError 'unavailable' otherwise. Used by health checks. */
  ping(signal?: AbortSignal): Promise<void>;
  /** Server/library version, for logs. */
  version(): Promise<string>;
  close(): Promise<void>;
}
