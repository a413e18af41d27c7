// The embedded warehouse: one SQLite file (better-sqlite3), one table per collection holding each record as
// JSON text. Filters compile to SQL over json_extract with bound values; field names are checked against a
// strict pattern before they appear (quoted) in a JSON path literal, which keeps the paths indexable.
//
// better-sqlite3 is synchronous, so every method runs to completion without yielding: within one process
// each operation is atomic by construction; writes that read first also run inside BEGIN IMMEDIATE so other
// processes sharing the file (WAL mode) cannot interleave.
// This file opens the file and owns the connection and statement cache; a collection's operations are in
// embedded-collection.ts, filter compilation in sqlite-query.ts, errors in sqlite-errors.ts.
// Hand-written over better-sqlite3 because no embeddable library speaks the port (MongoDB's filter, update
// and compare-and-set semantics in one file); it is held to the MongoDB adapter's contract suite
// (warehouse.contract.ts), so either may back any service.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { invalidArgument, unavailable } from '../errors.js';
import type { Collection, Record, Warehouse } from './warehouse.port.js';
import { checkCollectionName, throwIfAborted } from './warehouse-validation.js';
import { EmbeddedCollection, type SqliteDatabase } from './embedded-collection.js';
import { translate } from './sqlite-errors.js';

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

export class EmbeddedWarehouse implements Warehouse, SqliteDatabase {
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

export function openEmbeddedWarehouse(options: EmbeddedWarehouseOptions): EmbeddedWarehouse {
  return new EmbeddedWarehouse(options);
}
