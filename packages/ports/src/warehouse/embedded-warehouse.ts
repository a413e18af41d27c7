// The embedded warehouse: one SQLite file (better-sqlite3), one table per collection holding each record as
// JSON text. Filters compile to SQL over json_extract with bound values; field names are checked against a
// strict pattern before they appear (quoted) in a JSON path literal, which keeps the paths indexable.
//
// better-sqlite3 is synchronous, so every method runs to completion without yielding: within one process
// each operation is atomic by construction; writes that read first also run inside BEGIN IMMEDIATE so other
// processes sharing the file (WAL mode) cannot interleave.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DomainError, alreadyExists, failedPrecondition, invalidArgument, unavailable } from '../errors.js';
import type {
  Collection,
  Filter,
  FindOptions,
  IndexSpec,
  Record,
  Update,
  Warehouse,
} from './warehouse.port.js';
import {
  type FieldCondition,
  type NormalizedUpdate,
  type UpdatePlan,
  applyUpdate,
  checkCollectionName,
  checkId,
  convertRecord,
  convertValue,
  isEmptyUpdate,
  normalizeBatchSize,
  normalizeExclude,
  normalizeFilter,
  normalizeFind,
  normalizeIndex,
  normalizeUpdate,
  plainBytes,
  throwIfAborted,
} from './warehouse-validation.js';

export interface EmbeddedWarehouseOptions {
  /** Database file; `:memory:` for a private in-memory database (tests). */
  path: string;
  /** How long a write waits for another connection's lock before failing with 'unavailable'. */
  busyTimeoutMs?: number;
  /**
   * SQLite `synchronous` pragma. NORMAL (default) keeps every committed write across a process crash in WAL
   * mode; FULL also survives power loss, at the cost of an fsync per commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
}

const IN_CHUNK = 500;
const UPDATE_PAGE = 1000;
const STATEMENT_CACHE = 256;

/** Accepts `sqlite:<path>`, `sqlite://<path>` and `sqlite::memory:`. */
export function parseSqliteUrl(url: string): string {
  if (!url.startsWith('sqlite:')) throw invalidArgument(`not a sqlite URL: ${url} (expected sqlite:<path>)`);
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '')
    throw invalidArgument(
      `the sqlite URL needs a file path, e.g. sqlite:./data/warehouse.db or sqlite::memory:`,
    );
  return path;
}

type Row = { _id: string; doc: string };
type Json = { [key: string]: unknown };

function isBinaryWrapper(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === '$binary' && typeof (value as Json)['$binary'] === 'string';
}

function isJsonObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !isBinaryWrapper(value);
}

const encodeBinary = (bytes: Uint8Array): unknown => ({
  $binary: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
});

function decodeBinaries(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeBinaries(value[i]);
    return value;
  }
  if (isBinaryWrapper(value))
    return plainBytes(Buffer.from((value as { $binary: string }).$binary, 'base64'));
  for (const key of Object.keys(value)) (value as Json)[key] = decodeBinaries((value as Json)[key]);
  return value;
}

function jsonPath(segments: readonly string[]): string {
  // Segments matched a pattern without quotes or backslashes, so quoting them is enough.
  return `'$${segments.map((s) => `."${s}"`).join('')}'`;
}

interface FieldSql {
  value: string;
  type: string;
  isId: boolean;
}

function fieldSql(segments: readonly string[]): FieldSql {
  if (segments.length === 1 && segments[0] === '_id') return { value: '_id', type: "'text'", isId: true };
  const p = jsonPath(segments);
  return { value: `json_extract(doc, ${p})`, type: `json_type(doc, ${p})`, isId: false };
}

/** SQL text plus its bound values, in order. */
interface Sql {
  text: string;
  params: unknown[];
}

// Each predicate checks the JSON type as well as the value, which gives MongoDB's type bracketing:
// 1 never equals true or '1', and $gt: 5 never matches a string.
function eqSql(f: FieldSql, value: number | string | boolean | null, params: unknown[]): string {
  if (value === null) return f.isId ? '0' : `${f.value} IS NULL`;
  if (typeof value === 'boolean') return f.isId ? '0' : `${f.type} = '${value ? 'true' : 'false'}'`;
  if (typeof value === 'number') {
    if (f.isId) return '0';
    params.push(value);
    return `(${f.value} = ? AND ${f.type} IN ('integer', 'real'))`;
  }
  params.push(value);
  return f.isId ? `_id = ?` : `(${f.value} = ? AND ${f.type} = 'text')`;
}

function inSql(
  f: FieldSql,
  values: readonly (number | string | boolean | null)[],
  params: unknown[],
): string {
  const strings = values.filter((v): v is string => typeof v === 'string');
  const numbers = values.filter((v): v is number => typeof v === 'number');
  const parts: string[] = [];
  const list = (vs: unknown[]) => {
    params.push(...vs);
    return vs.map(() => '?').join(', ');
  };
  if (strings.length > 0) {
    const unique = [...new Set(strings)];
    parts.push(
      f.isId ? `_id IN (${list(unique)})` : `(${f.value} IN (${list(unique)}) AND ${f.type} = 'text')`,
    );
  }
  if (numbers.length > 0 && !f.isId) {
    parts.push(`(${f.value} IN (${list([...new Set(numbers)])}) AND ${f.type} IN ('integer', 'real'))`);
  }
  if (values.includes(true) && !f.isId) parts.push(`${f.type} = 'true'`);
  if (values.includes(false) && !f.isId) parts.push(`${f.type} = 'false'`);
  if (values.includes(null) && !f.isId) parts.push(`${f.value} IS NULL`);
  if (parts.length === 0) return '0';
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
}

const RANGE: { [op: string]: string } = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

function conditionSql(c: FieldCondition, params: unknown[]): string {
  const f = fieldSql(c.segments);
  const parts = c.ops.map((op): string => {
    switch (op.op) {
      case 'eq':
        return eqSql(f, op.value, params);
      case 'ne':
        return op.value === null
          ? f.isId
            ? '1'
            : `${f.value} IS NOT NULL`
          : `NOT IFNULL(${eqSql(f, op.value, params)}, 0)`;
      case 'in':
        return inSql(f, op.values, params);
      case 'nin':
        return `NOT IFNULL(${inSql(f, op.values, params)}, 0)`;
      case 'exists':
        return f.isId ? (op.value ? '1' : '0') : `${f.type} IS ${op.value ? 'NOT ' : ''}NULL`;
      default: {
        const cmp = RANGE[op.op] as string;
        if (f.isId && typeof op.value === 'number') return '0';
        params.push(op.value);
        if (f.isId) return `_id ${cmp} ?`;
        const kind = typeof op.value === 'number' ? `IN ('integer', 'real')` : `= 'text'`;
        return `(${f.value} ${cmp} ? AND ${f.type} ${kind})`;
      }
    }
  });
  return parts.join(' AND ');
}

function whereSql(conditions: readonly FieldCondition[]): Sql {
  const params: unknown[] = [];
  const parts = conditions.map((c) => conditionSql(c, params));
  return { text: parts.length === 0 ? '1' : parts.join(' AND '), params };
}

// MongoDB orders values of different types by type first: null/missing < numbers < strings < objects <
// arrays < binary < booleans. Within numbers and strings SQLite's order (numeric; UTF-8 bytes) is MongoDB's.
function sortSql(sort: ReturnType<typeof normalizeFind>['sort']): string {
  return sort
    .map(({ segments, direction }) => {
      const dir = direction === 1 ? 'ASC' : 'DESC';
      const f = fieldSql(segments);
      if (f.isId) return `_id ${dir}`;
      const rank =
        `CASE ${f.type} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 ` +
        `WHEN 'object' THEN (CASE WHEN json_type(doc, ${jsonPath([...segments, '$binary'])}) = 'text' THEN 5 ELSE 3 END) ` +
        `WHEN 'array' THEN 4 WHEN 'false' THEN 6 WHEN 'true' THEN 6 ELSE 0 END`;
      return `${rank} ${dir}, ${f.value} ${dir}`;
    })
    .join(', ');
}

function docSql(exclude: ReturnType<typeof normalizeExclude>): string {
  if (exclude.length === 0) return 'doc';
  return `json_remove(doc, ${exclude.map((e) => jsonPath(e.segments)).join(', ')})`;
}

function sqliteCode(err: unknown): string | undefined {
  // Duck-typed: errors from the native module may come from another realm (e.g. under test runners' VMs),
  // where instanceof Error is false.
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function translate(err: unknown, collection: string, what: string): DomainError {
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

export class EmbeddedWarehouse implements Warehouse {
  readonly adapter = 'embedded';
  private readonly db: Database.Database;
  private readonly collections = new Map<string, EmbeddedCollection<Record>>();
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;

  constructor(options: EmbeddedWarehouseOptions) {
    const path = options.path;
    if (typeof path !== 'string' || path === '')
      throw invalidArgument('the embedded warehouse needs a file path');
    const memory = path === ':memory:';
    try {
      if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
      this.db = new Database(path);
      if (!memory) this.db.pragma('journal_mode = WAL');
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      this.db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS _warehouse_indexes (collection TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, ` +
          `PRIMARY KEY (collection, name)) STRICT`,
      );
    } catch (err) {
      throw unavailable(
        `cannot open the embedded warehouse at ${path}: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
  }

  collection<T extends Record = Record>(name: string): Collection<T> {
    checkCollectionName(name);
    let c = this.collections.get(name);
    if (c === undefined) {
      this.checkOpen('collection');
      const table = `"c_${name}"`;
      try {
        this.db.exec(
          `CREATE TABLE IF NOT EXISTS ${table} (_id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL) STRICT`,
        );
      } catch (err) {
        throw translate(err, name, 'create collection');
      }
      c = new EmbeddedCollection(this, name, table);
      this.collections.set(name, c);
    }
    return c as unknown as Collection<T>;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    this.checkOpen('ping');
    try {
      this.statement('SELECT 1').get();
    } catch (err) {
      throw unavailable(
        `the embedded warehouse does not answer: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
  }

  async version(): Promise<string> {
    this.checkOpen('version');
    const row = this.statement('SELECT sqlite_version() AS v').get() as { v: string };
    return `sqlite ${row.v}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  /** @internal */
  checkOpen(what: string): void {
    if (this.closed) throw unavailable(`${what}: the embedded warehouse is closed`);
  }

  /** @internal Prepared statements are cached by their text; the text never contains values. */
  statement(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (s === undefined) {
      if (this.statements.size >= STATEMENT_CACHE) this.statements.clear();
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  /** @internal */
  immediate<R>(fn: () => R): R {
    return this.db.transaction(fn).immediate();
  }

  /** @internal */
  exec(text: string): void {
    this.db.exec(text);
  }
}

class EmbeddedCollection<T extends Record> implements Collection<T> {
  constructor(
    private readonly wh: EmbeddedWarehouse,
    readonly name: string,
    private readonly table: string,
  ) {}

  private run<R>(what: string, signal: AbortSignal | undefined, fn: () => R): R {
    throwIfAborted(signal);
    this.wh.checkOpen(what);
    try {
      return fn();
    } catch (err) {
      throw translate(err, this.name, what);
    }
  }

  private decode(row: Row): T {
    const body = JSON.parse(row.doc) as Json;
    if (row.doc.includes('"$binary"')) decodeBinaries(body);
    return { _id: row._id, ...body } as T;
  }

  private encode(record: T): { id: string; doc: string } {
    const { _id, ...body } = convertRecord(record, encodeBinary);
    return { id: _id, doc: JSON.stringify(body) };
  }

  async get(id: string, signal?: AbortSignal): Promise<T | undefined> {
    checkId(id, 'id');
    return this.run('get', signal, () => {
      const row = this.wh.statement(`SELECT _id, doc FROM ${this.table} WHERE _id = ?`).get(id) as
        Row | undefined;
      return row === undefined ? undefined : this.decode(row);
    });
  }

  async getMany(ids: readonly string[], signal?: AbortSignal): Promise<T[]> {
    if (!Array.isArray(ids)) throw invalidArgument('getMany needs an array of ids');
    const unique = [...new Set(ids.map((id) => checkId(id, 'id')))];
    return this.run('getMany', signal, () => {
      const found = new Map<string, T>();
      for (let i = 0; i < unique.length; i += IN_CHUNK) {
        const chunk = unique.slice(i, i + IN_CHUNK);
        const rows = this.wh
          .statement(`SELECT _id, doc FROM ${this.table} WHERE _id IN (${chunk.map(() => '?').join(', ')})`)
          .all(...chunk) as Row[];
        for (const row of rows) found.set(row._id, this.decode(row));
      }
      return unique.flatMap((id) => {
        const r = found.get(id);
        return r === undefined ? [] : [r];
      });
    });
  }

  async insert(record: T, signal?: AbortSignal): Promise<void> {
    const { id, doc } = this.encode(record);
    this.run('insert', signal, () => {
      this.wh.statement(`INSERT INTO ${this.table} (_id, doc) VALUES (?, ?)`).run(id, doc);
    });
  }

  async put(record: T, signal?: AbortSignal): Promise<void> {
    const { id, doc } = this.encode(record);
    this.run('put', signal, () => {
      this.wh
        .statement(
          `INSERT INTO ${this.table} (_id, doc) VALUES (?, ?) ON CONFLICT (_id) DO UPDATE SET doc = excluded.doc`,
        )
        .run(id, doc);
    });
  }

  async replaceIf(record: T, expected: Filter | null, signal?: AbortSignal): Promise<boolean> {
    const { id, doc } = this.encode(record);
    if (expected === null) {
      return this.run('replaceIf', signal, () => {
        try {
          this.wh.statement(`INSERT INTO ${this.table} (_id, doc) VALUES (?, ?)`).run(id, doc);
          return true;
        } catch (err) {
          if (sqliteCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
          throw err;
        }
      });
    }
    const where = whereSql(normalizeFilter(expected, 'expected'));
    // One UPDATE statement: the check and the write cannot be separated by another writer.
    return this.run('replaceIf', signal, () => {
      const info = this.wh
        .statement(`UPDATE ${this.table} SET doc = ? WHERE _id = ? AND (${where.text})`)
        .run(doc, id, ...where.params);
      return info.changes === 1;
    });
  }

  async update(
    id: string,
    update: Update,
    options?: { where?: Filter; upsert?: boolean },
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    checkId(id, 'id');
    const changes = this.prepareUpdate(normalizeUpdate(update));
    const where = whereSql(normalizeFilter(options?.where, 'where'));
    const upsert = options?.upsert === true;
    return this.run('update', signal, () =>
      this.wh.immediate(() => {
        const row = this.wh
          .statement(`SELECT _id, doc, (${where.text}) AS matched FROM ${this.table} WHERE _id = ?`)
          .get(...where.params, id) as (Row & { matched: number | null }) | undefined;
        if (row === undefined) {
          if (!upsert) return undefined;
          const body: Json = {};
          applyUpdate(body, changes, isJsonObject);
          const doc = JSON.stringify(body);
          this.wh.statement(`INSERT INTO ${this.table} (_id, doc) VALUES (?, ?)`).run(id, doc);
          return this.decode({ _id: id, doc });
        }
        if (row.matched !== 1) return undefined;
        const body = JSON.parse(row.doc) as Json;
        applyUpdate(body, changes, isJsonObject);
        const doc = JSON.stringify(body);
        if (doc !== row.doc) this.wh.statement(`UPDATE ${this.table} SET doc = ? WHERE _id = ?`).run(doc, id);
        return this.decode({ _id: id, doc });
      }),
    );
  }

  async updateMany(filter: Filter, update: Update, signal?: AbortSignal): Promise<number> {
    const changes = this.prepareUpdate(normalizeUpdate(update));
    const where = whereSql(normalizeFilter(filter));
    if (isEmptyUpdate(changes)) return 0;
    return this.run('updateMany', signal, () =>
      this.wh.immediate(() => {
        let changed = 0;
        let after = '';
        const select = this.wh.statement(
          `SELECT _id, doc FROM ${this.table} WHERE (${where.text}) AND _id > ? ORDER BY _id LIMIT ${UPDATE_PAGE}`,
        );
        const write = this.wh.statement(`UPDATE ${this.table} SET doc = ? WHERE _id = ?`);
        for (;;) {
          const rows = select.all(...where.params, after) as Row[];
          for (const row of rows) {
            const body = JSON.parse(row.doc) as Json;
            applyUpdate(body, changes, isJsonObject);
            const doc = JSON.stringify(body);
            // Like MongoDB's modifiedCount, a record the update leaves as it was does not count.
            if (doc !== row.doc) {
              write.run(doc, row._id);
              changed++;
            }
          }
          if (rows.length < UPDATE_PAGE) return changed;
          after = (rows[rows.length - 1] as Row)._id;
        }
      }),
    );
  }

  async delete(id: string, signal?: AbortSignal): Promise<boolean> {
    checkId(id, 'id');
    return this.run(
      'delete',
      signal,
      () => this.wh.statement(`DELETE FROM ${this.table} WHERE _id = ?`).run(id).changes === 1,
    );
  }

  async deleteMany(filter: Filter, signal?: AbortSignal): Promise<number> {
    const where = whereSql(normalizeFilter(filter));
    return this.run(
      'deleteMany',
      signal,
      () => this.wh.statement(`DELETE FROM ${this.table} WHERE ${where.text}`).run(...where.params).changes,
    );
  }

  async find(filter: Filter, options?: FindOptions, signal?: AbortSignal): Promise<T[]> {
    const where = whereSql(normalizeFilter(filter));
    const opts = normalizeFind(options);
    if (opts.limit === 0) return [];
    return this.run('find', signal, () => {
      const rows = this.wh
        .statement(
          `SELECT _id, ${docSql(opts.exclude)} AS doc FROM ${this.table} WHERE ${where.text} ` +
            `ORDER BY ${sortSql(opts.sort)} LIMIT ? OFFSET ?`,
        )
        .all(...where.params, opts.limit ?? -1, opts.skip) as Row[];
      return rows.map((r) => this.decode(r));
    });
  }

  async *scan(
    filter: Filter,
    options?: { batchSize?: number; exclude?: string[] },
    signal?: AbortSignal,
  ): AsyncIterable<T> {
    const where = whereSql(normalizeFilter(filter));
    const batchSize = normalizeBatchSize(options?.batchSize);
    const exclude = normalizeExclude(options?.exclude);
    // Keyset pages over _id: records written during the scan never make it repeat or skip others.
    const text = `SELECT _id, ${docSql(exclude)} AS doc FROM ${this.table} WHERE (${where.text}) AND _id > ? ORDER BY _id LIMIT ?`;
    let after = '';
    for (;;) {
      const rows = this.run(
        'scan',
        signal,
        () => this.wh.statement(text).all(...where.params, after, batchSize) as Row[],
      );
      for (const row of rows) yield this.decode(row);
      if (rows.length < batchSize) return;
      after = (rows[rows.length - 1] as Row)._id;
    }
  }

  async count(filter?: Filter, signal?: AbortSignal): Promise<number> {
    const where = whereSql(normalizeFilter(filter));
    return this.run('count', signal, () => {
      const row = this.wh
        .statement(`SELECT COUNT(*) AS n FROM ${this.table} WHERE ${where.text}`)
        .get(...where.params) as { n: number };
      return row.n;
    });
  }

  async ensureIndex(spec: IndexSpec): Promise<void> {
    const index = normalizeIndex(spec);
    const specText = JSON.stringify({
      unique: index.unique,
      fields: index.fields.map((f) => [f.path, f.direction]),
    });
    const indexName = `"c_${this.name}$${index.name}"`;
    const columns = index.fields.map(
      (f) => `${fieldSql(f.segments).value} ${f.direction === 1 ? 'ASC' : 'DESC'}`,
    );
    // For uniqueness the JSON type counts too (true is not 1, '1' is not 1), as in MongoDB; the value
    // columns come first so that equality filters on them still use this index.
    if (index.unique) columns.push(...index.fields.map((f) => fieldSql(f.segments).type));
    const ddl = `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${indexName} ON ${this.table} (${columns.join(', ')})`;
    this.run('ensureIndex', undefined, () =>
      this.wh.immediate(() => {
        const existing = this.wh
          .statement('SELECT spec FROM _warehouse_indexes WHERE collection = ? AND name = ?')
          .get(this.name, index.name) as { spec: string } | undefined;
        if (existing !== undefined) {
          if (existing.spec !== specText) {
            throw failedPrecondition(
              `index ${index.name} of ${this.name} already exists with a different definition (${existing.spec}); ` +
                `choose another name`,
            );
          }
          return;
        }
        this.wh.exec(ddl);
        this.wh
          .statement('INSERT INTO _warehouse_indexes (collection, name, spec) VALUES (?, ?, ?)')
          .run(this.name, index.name, specText);
      }),
    );
  }

  /** Converts `set` values to the stored JSON form once, before the transaction starts. */
  private prepareUpdate(update: NormalizedUpdate): UpdatePlan {
    return {
      set: update.set.map((s) => ({ ...s, value: convertValue(s.value, s.path, encodeBinary) })),
      unset: update.unset,
      inc: update.inc,
    };
  }
}

export function openEmbeddedWarehouse(options: EmbeddedWarehouseOptions): EmbeddedWarehouse {
  return new EmbeddedWarehouse(options);
}
