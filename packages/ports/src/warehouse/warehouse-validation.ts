// Shared by both warehouse adapters: checks what callers pass in (names, records, filters, updates, options)
// and turns it into one normalised shape, so the embedded and MongoDB adapters accept and reject exactly the
// same inputs. Field names end up inside SQL text in the embedded adapter, which is why the patterns are strict.

import { DomainError, invalidArgument } from '../errors.js';
import type { Filter, FindOptions, IndexSpec, Scalar, Update, Value } from './warehouse.port.js';

/** One segment of a (dotted) field path: a letter or `_` first; no `$`, quotes, dots or digits-only names. */
const FIELD_SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Collection names: also valid as MongoDB collection names and, prefixed, as quoted SQLite table names. */
const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const MAX_COLLECTION_NAME = 100;
/** Index names: MongoDB's default names look like `field_1_other_-1`. */
const INDEX_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const MAX_DEPTH = 100;
const MAX_ID_LENGTH = 1024;

export const DEFAULT_SCAN_BATCH = 500;
export const MAX_SCAN_BATCH = 10_000;

export function checkCollectionName(name: string): string {
  if (
    typeof name !== 'string' ||
    name.length > MAX_COLLECTION_NAME ||
    !COLLECTION_NAME.test(name) ||
    name.startsWith('system.')
  ) {
    throw invalidArgument(
      `invalid collection name ${JSON.stringify(name)}: use letters, digits, '_', '-' and single dots, ` +
        `starting with a letter (at most ${MAX_COLLECTION_NAME} characters, not 'system.*')`,
    );
  }
  return name;
}

export function checkId(id: unknown, what = '_id'): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw invalidArgument(`${what} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`, [
      { field: what, message: 'must be a non-empty string' },
    ]);
  }
  return id;
}

/** Splits and checks a dotted path; `_id` is only valid on its own. */
export function fieldPath(path: string, role: string): string[] {
  if (typeof path !== 'string') throw invalidArgument(`${role}: field names must be strings`);
  const segments = path.split('.');
  if (!segments.every((s) => FIELD_SEGMENT.test(s))) {
    throw invalidArgument(
      `${role}: invalid field path ${JSON.stringify(path)}: each dotted segment must start with a letter or ` +
        `'_' and contain only letters, digits, '_' and '-'`,
      [{ field: path, message: 'invalid field path' }],
    );
  }
  if (segments[0] === '_id' && segments.length > 1) {
    throw invalidArgument(`${role}: _id is a string and has no sub-fields (${path})`, [
      { field: path, message: '_id has no sub-fields' },
    ]);
  }
  return segments;
}

// ---------------------------------------------------------------------------------------------------------
// Values

function isPlainObject(value: unknown): value is { [key: string]: unknown } {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

/**
 * Checks a value against the port's `Value` type and returns a fresh copy in which every Uint8Array has
 * been replaced by `onBinary(bytes)` (the adapter's storage form). Object properties that are `undefined`
 * are dropped, as JSON and BSON (with ignoreUndefined) both do.
 */
export function convertValue(
  value: unknown,
  path: string,
  onBinary: (bytes: Uint8Array) => unknown,
  depth = 0,
): unknown {
  if (depth > MAX_DEPTH) throw invalidArgument(`${path}: values may nest at most ${MAX_DEPTH} levels deep`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw invalidArgument(`${path}: numbers must be finite (got ${value})`, [
        { field: path, message: 'not finite' },
      ]);
    }
    return value;
  }
  if (value instanceof Uint8Array) return onBinary(value);
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || value[i] === undefined) {
        throw invalidArgument(`${path}[${i}]: arrays may not contain undefined or holes`, [
          { field: path, message: 'array contains undefined' },
        ]);
      }
      // FerretDB v1 refuses arrays directly inside arrays; refusing them everywhere keeps every adapter
      // accepting the same records (wrap the inner array in an object instead).
      if (Array.isArray(value[i])) {
        throw invalidArgument(
          `${path}[${i}]: arrays may not directly contain arrays (wrap the inner one in an object)`,
          [{ field: path, message: 'nested array' }],
        );
      }
      out[i] = convertValue(value[i], `${path}[${i}]`, onBinary, depth + 1);
    }
    return out;
  }
  if (isPlainObject(value)) {
    const out: { [key: string]: unknown } = {};
    for (const [key, v] of Object.entries(value)) {
      checkKey(key, path);
      if (v === undefined) continue;
      out[key] = convertValue(v, path === '' ? key : `${path}.${key}`, onBinary, depth + 1);
    }
    return out;
  }
  throw invalidArgument(
    `${path || 'record'}: ${describe(value)} values cannot be stored (use JSON values or Uint8Array; ` +
      `timestamps as epoch milliseconds)`,
    [{ field: path, message: `unsupported type ${describe(value)}` }],
  );
}

function checkKey(key: string, path: string): void {
  // `$`-prefixed and dotted keys are operators/paths to MongoDB, and `$binary` marks bytes in the embedded
  // store; NUL cannot appear in a BSON key.
  if (key.startsWith('$') || key.includes('.') || key.includes('\u0000')) {
    const where = path === '' ? key : `${path}.${key}`;
    throw invalidArgument(
      `invalid field name ${JSON.stringify(where)}: names may not start with '$' or contain '.' or NUL`,
      [{ field: where, message: 'invalid field name' }],
    );
  }
}

/** Checks a whole record and converts it (see convertValue); `_id` must be a non-empty string. */
export function convertRecord(
  record: unknown,
  onBinary: (bytes: Uint8Array) => unknown,
): { [key: string]: unknown } & { _id: string } {
  if (!isPlainObject(record))
    throw invalidArgument(`a record must be a plain object (got ${describe(record)})`);
  checkId(record['_id']);
  return convertValue(record, '', onBinary) as { [key: string]: unknown } & { _id: string };
}

function checkScalar(value: unknown, where: string): Scalar {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw invalidArgument(
    `${where}: expected a string, finite number, boolean or null (got ${describe(value)})`,
    [{ field: where, message: 'expected a scalar' }],
  );
}

// ---------------------------------------------------------------------------------------------------------
// Filters

export type Op =
  | { op: 'eq' | 'ne'; value: Scalar }
  | { op: 'in' | 'nin'; values: Scalar[] }
  | { op: 'gt' | 'gte' | 'lt' | 'lte'; value: number | string }
  | { op: 'exists'; value: boolean };

export interface FieldCondition {
  path: string;
  segments: string[];
  ops: Op[];
}

const OPERATORS = new Set(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists']);
const MAX_IN = 10_000;

export function normalizeFilter(filter: Filter | undefined, role = 'filter'): FieldCondition[] {
  if (filter === undefined) return [];
  if (!isPlainObject(filter)) throw invalidArgument(`${role} must be a plain object of field conditions`);
  const out: FieldCondition[] = [];
  for (const [path, condition] of Object.entries(filter)) {
    if (condition === undefined) continue;
    const segments = fieldPath(path, role);
    const where = `${role}.${path}`;
    if (!isPlainObject(condition)) {
      out.push({ path, segments, ops: [{ op: 'eq', value: checkScalar(condition, where) }] });
      continue;
    }
    const ops: Op[] = [];
    for (const [name, operand] of Object.entries(condition)) {
      if (operand === undefined) continue;
      if (!OPERATORS.has(name)) {
        throw invalidArgument(
          `${where}: unknown operator ${JSON.stringify(name)} (use ${[...OPERATORS].join(', ')})`,
          [{ field: path, message: `unknown operator ${name}` }],
        );
      }
      const key = name.slice(1) as Op['op'];
      switch (key) {
        case 'eq':
        case 'ne':
          ops.push({ op: key, value: checkScalar(operand, `${where}.${name}`) });
          break;
        case 'in':
        case 'nin': {
          if (!Array.isArray(operand) || operand.length > MAX_IN) {
            throw invalidArgument(`${where}.${name}: expected an array of at most ${MAX_IN} scalars`, [
              { field: path, message: `${name} needs an array` },
            ]);
          }
          ops.push({ op: key, values: operand.map((v, i) => checkScalar(v, `${where}.${name}[${i}]`)) });
          break;
        }
        case 'gt':
        case 'gte':
        case 'lt':
        case 'lte':
          if (!(typeof operand === 'string' || (typeof operand === 'number' && Number.isFinite(operand)))) {
            throw invalidArgument(`${where}.${name}: range operators take a finite number or a string`, [
              { field: path, message: `${name} needs a number or string` },
            ]);
          }
          ops.push({ op: key, value: operand });
          break;
        case 'exists':
          if (typeof operand !== 'boolean') {
            throw invalidArgument(`${where}.$exists: expected true or false`, [
              { field: path, message: '$exists needs a boolean' },
            ]);
          }
          ops.push({ op: 'exists', value: operand });
          break;
      }
    }
    if (ops.length === 0) {
      throw invalidArgument(`${where}: a condition object needs at least one operator`, [
        { field: path, message: 'empty condition' },
      ]);
    }
    out.push({ path, segments, ops });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Updates

/** An update checked and split into its parts; `V` is the form its `set` values are in. */
export interface UpdatePlan<V = unknown> {
  set: { path: string; segments: string[]; value: V }[];
  unset: { path: string; segments: string[] }[];
  inc: { path: string; segments: string[]; amount: number }[];
}

export type NormalizedUpdate = UpdatePlan<Value>;

export function normalizeUpdate(update: Update): NormalizedUpdate {
  if (!isPlainObject(update)) throw invalidArgument('update must be an object with set, unset and/or inc');
  for (const key of Object.keys(update)) {
    if (key !== 'set' && key !== 'unset' && key !== 'inc') {
      throw invalidArgument(`update: unknown part ${JSON.stringify(key)} (use set, unset, inc)`);
    }
  }
  const out: NormalizedUpdate = { set: [], unset: [], inc: [] };
  const seen: { path: string; segments: string[] }[] = [];
  const claim = (path: string, role: string): string[] => {
    const segments = fieldPath(path, role);
    if (segments[0] === '_id')
      throw invalidArgument(`${role}: _id cannot be changed`, [{ field: '_id', message: 'immutable' }]);
    // MongoDB refuses an update that touches a path and one of its ancestors (or the same path twice).
    for (const other of seen) {
      const n = Math.min(other.segments.length, segments.length);
      if (other.segments.slice(0, n).join('.') === segments.slice(0, n).join('.')) {
        throw invalidArgument(
          `update: ${JSON.stringify(path)} conflicts with ${JSON.stringify(other.path)}`,
          [{ field: path, message: `conflicts with ${other.path}` }],
        );
      }
    }
    seen.push({ path, segments });
    return segments;
  };
  if (update.set !== undefined) {
    if (!isPlainObject(update.set)) throw invalidArgument('update.set must be an object of path → value');
    for (const [path, value] of Object.entries(update.set)) {
      if (value === undefined) continue;
      const segments = claim(path, 'update.set');
      convertValue(value, path, (b) => b); // validation only
      out.set.push({ path, segments, value: value as Value });
    }
  }
  if (update.unset !== undefined) {
    if (!Array.isArray(update.unset)) throw invalidArgument('update.unset must be an array of paths');
    for (const path of update.unset) out.unset.push({ path, segments: claim(path, 'update.unset') });
  }
  if (update.inc !== undefined) {
    if (!isPlainObject(update.inc)) throw invalidArgument('update.inc must be an object of path → number');
    for (const [path, amount] of Object.entries(update.inc)) {
      if (amount === undefined) continue;
      const segments = claim(path, 'update.inc');
      if (typeof amount !== 'number' || !Number.isFinite(amount)) {
        throw invalidArgument(`update.inc.${path}: expected a finite number`, [
          { field: path, message: 'not a number' },
        ]);
      }
      out.inc.push({ path, segments, amount });
    }
  }
  return out;
}

export function isEmptyUpdate(update: UpdatePlan): boolean {
  return update.set.length === 0 && update.unset.length === 0 && update.inc.length === 0;
}

/**
 * Applies an update to a plain object in place, with MongoDB's rules: `set`/`inc` create missing parents;
 * a parent that exists but is not an object, or an `inc` on a non-number, is an error; `unset` of a missing
 * path does nothing. `isObject` says which values are traversable (bytes are leaves in every storage form).
 * Values are stored as given, so callers convert them to their storage form first.
 */
export function applyUpdate(
  doc: { [key: string]: unknown },
  update: UpdatePlan,
  isObject: (value: unknown) => value is { [key: string]: unknown },
): void {
  const parentFor = (
    segments: string[],
    path: string,
    create: boolean,
  ): { [key: string]: unknown } | undefined => {
    let node = doc;
    for (let i = 0; i < segments.length - 1; i++) {
      const key = segments[i] as string;
      const next = node[key];
      if (next === undefined) {
        if (!create) return undefined;
        const fresh: { [key: string]: unknown } = {};
        node[key] = fresh;
        node = fresh;
      } else if (isObject(next)) {
        node = next;
      } else {
        if (!create) return undefined;
        throw new DomainError(
          'failed-precondition',
          `cannot update ${JSON.stringify(path)}: ${JSON.stringify(segments.slice(0, i + 1).join('.'))} is not an object`,
        );
      }
    }
    return node;
  };
  for (const { path, segments, value } of update.set) {
    const parent = parentFor(segments, path, true) as { [key: string]: unknown };
    parent[segments[segments.length - 1] as string] = value;
  }
  for (const { path, segments } of update.unset) {
    const parent = parentFor(segments, path, false);
    if (parent !== undefined) delete parent[segments[segments.length - 1] as string];
  }
  for (const { path, segments, amount } of update.inc) {
    const parent = parentFor(segments, path, true) as { [key: string]: unknown };
    const key = segments[segments.length - 1] as string;
    const current = parent[key];
    if (current === undefined) parent[key] = amount;
    else if (typeof current === 'number') parent[key] = current + amount;
    else {
      throw new DomainError(
        'failed-precondition',
        `cannot increment ${JSON.stringify(path)}: it holds a non-numeric value`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Options

export interface NormalizedFind {
  sort: { path: string; segments: string[]; direction: 1 | -1 }[];
  limit: number | undefined;
  skip: number;
  exclude: { path: string; segments: string[] }[];
}

function checkCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${what} must be a non-negative integer`, [
      { field: what, message: 'not a non-negative integer' },
    ]);
  }
  return value;
}

export function normalizeExclude(
  exclude: readonly string[] | undefined,
): { path: string; segments: string[] }[] {
  if (exclude === undefined) return [];
  if (!Array.isArray(exclude)) throw invalidArgument('exclude must be an array of field paths');
  const paths = exclude.map((path) => ({ path, segments: fieldPath(path, 'exclude') }));
  if (paths.some((p) => p.segments[0] === '_id')) throw invalidArgument('exclude: _id is always returned');
  // Excluding a field and one of its sub-fields is a "path collision" to MongoDB: keep only the ancestor.
  return paths.filter(
    (p, i) =>
      !paths.some(
        (q, j) =>
          j !== i &&
          q.segments.length <= p.segments.length &&
          q.segments.join('.') === p.segments.slice(0, q.segments.length).join('.') &&
          (q.segments.length < p.segments.length || j < i),
      ),
  );
}

export function normalizeFind(options: FindOptions | undefined): NormalizedFind {
  const sort: NormalizedFind['sort'] = [];
  for (const entry of options?.sort ?? []) {
    const segments = fieldPath(entry.field, 'sort');
    if (entry.direction !== 'asc' && entry.direction !== 'desc') {
      throw invalidArgument(`sort.${entry.field}: direction must be 'asc' or 'desc'`);
    }
    if (sort.some((s) => s.path === entry.field))
      throw invalidArgument(`sort: ${entry.field} is listed twice`);
    sort.push({ path: entry.field, segments, direction: entry.direction === 'asc' ? 1 : -1 });
  }
  if (!sort.some((s) => s.path === '_id')) sort.push({ path: '_id', segments: ['_id'], direction: 1 });
  return {
    sort,
    limit: options?.limit === undefined ? undefined : checkCount(options.limit, 'limit'),
    skip: options?.skip === undefined ? 0 : checkCount(options.skip, 'skip'),
    exclude: normalizeExclude(options?.exclude),
  };
}

export function normalizeBatchSize(batchSize: number | undefined): number {
  if (batchSize === undefined) return DEFAULT_SCAN_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_SCAN_BATCH) {
    throw invalidArgument(`batchSize must be an integer from 1 to ${MAX_SCAN_BATCH}`);
  }
  return batchSize;
}

export interface NormalizedIndex {
  name: string;
  unique: boolean;
  fields: { path: string; segments: string[]; direction: 1 | -1 }[];
}

export function normalizeIndex(spec: IndexSpec): NormalizedIndex {
  if (!isPlainObject(spec) || !Array.isArray(spec.fields) || spec.fields.length === 0) {
    throw invalidArgument('an index needs at least one field');
  }
  const fields: NormalizedIndex['fields'] = [];
  for (const f of spec.fields) {
    const segments = fieldPath(f.field, 'index');
    if (segments[0] === '_id') throw invalidArgument('index: _id is already indexed (and unique)');
    if (f.direction !== 'asc' && f.direction !== 'desc')
      throw invalidArgument(`index.${f.field}: direction must be 'asc' or 'desc'`);
    if (fields.some((x) => x.path === f.field)) throw invalidArgument(`index: ${f.field} is listed twice`);
    fields.push({ path: f.field, segments, direction: f.direction === 'asc' ? 1 : -1 });
  }
  const name = spec.name ?? fields.map((f) => `${f.path}_${f.direction}`).join('_');
  if (!INDEX_NAME.test(name)) {
    throw invalidArgument(
      `invalid index name ${JSON.stringify(name)}: use letters, digits, '_', '.', '-' (at most 100)`,
    );
  }
  return { name, unique: spec.unique === true, fields };
}

// ---------------------------------------------------------------------------------------------------------

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DomainError('cancelled', 'the warehouse operation was cancelled', { cause: signal.reason });
  }
}

/** Copies bytes into a plain Uint8Array (not a Buffer, not a view on a larger pool). */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}
