// One collection of the embedded warehouse: a table of (_id, JSON text) rows and the port's record operations
// on it. Writes that read first run inside BEGIN IMMEDIATE, so other processes sharing the file cannot
// interleave; bytes are stored as {"$binary": base64} and restored on read.
import type Database from 'better-sqlite3';
import { failedPrecondition, invalidArgument } from '../errors.js';
import type { Collection, Filter, FindOptions, IndexSpec, Record, Update } from './warehouse.port.js';
import {
  type NormalizedUpdate,
  type UpdatePlan,
  applyUpdate,
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
import { sqliteCode, translate } from './sqlite-errors.js';
import { docSql, fieldSql, sortSql, whereSql } from './sqlite-query.js';

const IN_CHUNK = 500;
const UPDATE_PAGE = 1000;

/** What a collection needs of its warehouse: the open check, cached statements and transactions. */
export interface SqliteDatabase {
  checkOpen(what: string): void;
  statement(text: string): Database.Statement;
  immediate<R>(fn: () => R): R;
  exec(text: string): void;
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

export class EmbeddedCollection<T extends Record> implements Collection<T> {
  constructor(
    private readonly wh: SqliteDatabase,
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

  async putMany(records: readonly T[], signal?: AbortSignal): Promise<void> {
    const encoded = records.map((r) => this.encode(r));
    if (encoded.length === 0) return;
    this.run('putMany', signal, () => {
      const put = this.wh.statement(
        `INSERT INTO ${this.table} (_id, doc) VALUES (?, ?) ON CONFLICT (_id) DO UPDATE SET doc = excluded.doc`,
      );
      this.wh.immediate(() => {
        for (const { id, doc } of encoded) put.run(id, doc);
      });
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
