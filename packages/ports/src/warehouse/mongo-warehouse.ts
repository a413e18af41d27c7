// The MongoDB warehouse (mongodb driver 6). It asks no more of the server than FerretDB v1 offers: single
// document atomicity only (no transactions or sessions), no change streams, no $lookup/$facet, no partial or
// TTL indexes, no arrayFilters. Records keep their string id as `_id`; Uint8Array values are BSON Binary.

import {
  Binary,
  MongoClient,
  type Db,
  type Document,
  type MongoClientOptions,
  type Collection as DriverCollection,
  type Filter as DriverFilter,
} from 'mongodb';
import { DomainError, alreadyExists, invalidArgument, unavailable } from '../errors.js';
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

export interface MongoWarehouseOptions {
  /** `mongodb://…` or `mongodb+srv://…`; the path names the database (default `llmtwin`). */
  url: string;
  /** Overrides the database named in the URL. */
  databaseName?: string;
  /**
   * How long an operation waits for a usable server before failing with 'unavailable' (default 2000 ms).
   * Kept short so health checks notice an outage quickly; a value in the URL wins over the default.
   */
  serverSelectionTimeoutMs?: number;
  /** TCP connect timeout (default 2000 ms). */
  connectTimeoutMs?: number;
  /** How often the driver re-checks the server in the background (driver default 10000 ms). */
  heartbeatFrequencyMs?: number;
  /** Upper bound for ping(), which also covers a server that accepts connections but never answers. */
  pingTimeoutMs?: number;
  /**
   * Run this process's writes to a collection one at a time. FerretDB v1 applies every update as
   * read-modify-write without a conditional write, so two concurrent updates of one record can lose one
   * (MongoDB itself updates each document atomically). Default: on when the server says it is FerretDB.
   */
  serializeWrites?: boolean;
  appName?: string;
}

export const DEFAULT_DATABASE = 'llmtwin';
const IN_CHUNK = 1000;
const DB_NAME = /^[A-Za-z0-9_-]{1,63}$/;

/** The database named by the URL's path, or `llmtwin` when it has none. */
export function databaseFromUrl(url: string): string {
  const rest = url.replace(/^mongodb(\+srv)?:\/\//, '');
  const query = rest.indexOf('?');
  const beforeQuery = query < 0 ? rest : rest.slice(0, query);
  const slash = beforeQuery.indexOf('/');
  if (slash < 0) return DEFAULT_DATABASE;
  const path = decodeURIComponent(beforeQuery.slice(slash + 1));
  return path === '' ? DEFAULT_DATABASE : path;
}

function urlHasOption(url: string, name: string): boolean {
  const query = url.indexOf('?');
  if (query < 0) return false;
  return url
    .slice(query + 1)
    .split('&')
    .some((kv) => kv.split('=')[0]?.toLowerCase() === name.toLowerCase());
}

// ---------------------------------------------------------------------------------------------------------
// Errors

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

function isDuplicateKey(err: unknown): boolean {
  const code = errorCode(err);
  // FerretDB v1 (SQLite backend) reports unique-index violations of updates and index builds as
  // InternalError (code 1) carrying SQLite's message instead of E11000.
  return (
    code === 11000 ||
    code === 11001 ||
    (code === 1 && err instanceof Error && /UNIQUE constraint failed/.test(err.message))
  );
}

function translate(err: unknown, collection: string, what: string, signal?: AbortSignal): DomainError {
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

// ---------------------------------------------------------------------------------------------------------
// Conversions

const toBinary = (bytes: Uint8Array): unknown => new Binary(plainBytes(bytes));

function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Binary) return plainBytes(value.buffer.subarray(0, value.position));
  if (Array.isArray(value)) return value.map(decodeValue);
  const out: Document = {};
  for (const [k, v] of Object.entries(value)) out[k] = decodeValue(v);
  return out;
}

function mongoFilter(conditions: readonly FieldCondition[]): Query {
  const out: Document = {};
  for (const c of conditions) {
    const ops: Document = {};
    for (const op of c.ops) ops[`$${op.op}`] = 'values' in op ? op.values : op.value;
    out[c.path] = ops;
  }
  return out as Query;
}

function withId(id: string, conditions: readonly FieldCondition[]): Query {
  if (conditions.length === 0) return { _id: id };
  const filter = mongoFilter(conditions);
  return ('_id' in filter ? { $and: [{ _id: id }, filter] } : { ...filter, _id: id }) as Query;
}

function mongoUpdate(plan: UpdatePlan): Document {
  const out: Document = {};
  if (plan.set.length > 0) out['$set'] = Object.fromEntries(plan.set.map((s) => [s.path, s.value]));
  if (plan.unset.length > 0) out['$unset'] = Object.fromEntries(plan.unset.map((u) => [u.path, '']));
  if (plan.inc.length > 0) out['$inc'] = Object.fromEntries(plan.inc.map((i) => [i.path, i.amount]));
  return out;
}

/** Stored records: the string id is `_id` (never an ObjectId). */
type Stored = { _id: string } & Document;
type Query = DriverFilter<Stored>;

function isPlainDoc(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Binary);
}

// ---------------------------------------------------------------------------------------------------------

export class MongoWarehouse implements Warehouse {
  readonly adapter = 'mongodb';
  readonly databaseName: string;
  private readonly url: string;
  private readonly clientOptions: MongoClientOptions;
  private readonly pingTimeoutMs: number;
  private client: MongoClient | undefined;
  private connecting: Promise<MongoClient> | undefined;
  private readonly collections = new Map<string, MongoCollection<Record>>();
  private readonly writeQueues = new Map<string, WriteQueue>();
  private readonly serializeOption: boolean | undefined;
  private serializeWrites = false;
  private closed = false;

  constructor(options: MongoWarehouseOptions) {
    const url = options.url;
    if (typeof url !== 'string' || !/^mongodb(\+srv)?:\/\//.test(url)) {
      throw invalidArgument(
        `not a MongoDB URL: ${String(url)} (expected mongodb://host:port/db or mongodb+srv://host/db)`,
      );
    }
    this.url = url;
    this.databaseName = options.databaseName ?? databaseFromUrl(url);
    if (!DB_NAME.test(this.databaseName)) {
      throw invalidArgument(
        `invalid database name ${JSON.stringify(this.databaseName)}: use letters, digits, '_' and '-'`,
      );
    }
    const selection = options.serverSelectionTimeoutMs ?? 2000;
    this.clientOptions = { appName: options.appName ?? 'llmtwin' };
    // Explicit options win; otherwise a value in the URL wins over our defaults.
    if (options.serverSelectionTimeoutMs !== undefined || !urlHasOption(url, 'serverSelectionTimeoutMS')) {
      this.clientOptions.serverSelectionTimeoutMS = selection;
    }
    if (options.connectTimeoutMs !== undefined || !urlHasOption(url, 'connectTimeoutMS')) {
      this.clientOptions.connectTimeoutMS = options.connectTimeoutMs ?? 2000;
    }
    if (options.heartbeatFrequencyMs !== undefined)
      this.clientOptions.heartbeatFrequencyMS = options.heartbeatFrequencyMs;
    this.pingTimeoutMs = options.pingTimeoutMs ?? selection + 2000;
    this.serializeOption = options.serializeWrites;
  }

  collection<T extends Record = Record>(name: string): Collection<T> {
    checkCollectionName(name);
    let c = this.collections.get(name);
    if (c === undefined) {
      c = new MongoCollection(this, name);
      this.collections.set(name, c);
    }
    return c as unknown as Collection<T>;
  }

  /**
   * @internal The driver recovers a connected client by itself when the server comes back; but a client
   * whose very first connect failed is left with a closed topology, so that one is dropped and the next
   * call starts a fresh client.
   */
  async db(): Promise<Db> {
    if (this.closed) throw unavailable('the MongoDB warehouse is closed');
    if (this.client !== undefined) return this.client.db(this.databaseName);
    this.connecting ??= (async () => {
      const client = new MongoClient(this.url, this.clientOptions);
      try {
        await client.connect();
        this.serializeWrites = this.serializeOption ?? (await isFerretDb(client));
        if (this.closed) {
          await client.close();
          throw unavailable('the MongoDB warehouse is closed');
        }
        this.client = client;
        return client;
      } catch (err) {
        await client.close().catch(() => undefined);
        throw err;
      } finally {
        this.connecting = undefined;
      }
    })();
    const client = await this.connecting;
    return client.db(this.databaseName);
  }

  /** @internal Runs a write now, or after this process's earlier writes to the collection (see serializeWrites). */
  write<R>(collection: string, fn: () => Promise<R>): Promise<R> {
    if (!this.serializeWrites) return fn();
    let queue = this.writeQueues.get(collection);
    if (queue === undefined) {
      queue = new WriteQueue();
      this.writeQueues.set(collection, queue);
    }
    return queue.run(fn);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const timeout = AbortSignal.timeout(this.pingTimeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      const db = await abortable(this.db(), combined);
      await db.command({ ping: 1 }, { signal: combined });
    } catch (err) {
      if (signal?.aborted) throw new DomainError('cancelled', 'ping was cancelled', { cause: err });
      if (err instanceof DomainError && err.kind === 'unavailable') throw err;
      throw unavailable(
        `the MongoDB server does not answer: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
  }

  async version(): Promise<string> {
    try {
      const db = await this.db();
      const info = await db.admin().command({ buildInfo: 1 });
      const ferret =
        typeof info['ferretdbVersion'] === 'string' ? ` (FerretDB ${info['ferretdbVersion']})` : '';
      return `mongodb ${String(info['version'])}${ferret}`;
    } catch (err) {
      throw translate(err, this.databaseName, 'version');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = this.connecting;
    if (pending !== undefined) await pending.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await client.close();
  }
}

async function isFerretDb(client: MongoClient): Promise<boolean> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  return typeof info['ferretdbVersion'] === 'string';
}

/** A promise chain: each task starts when the previous one has settled. */
class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<R>(fn: () => Promise<R>): Promise<R> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Rejects as soon as `signal` aborts, for waits the driver cannot abort itself. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

class MongoCollection<T extends Record> implements Collection<T> {
  constructor(
    private readonly wh: MongoWarehouse,
    readonly name: string,
  ) {}

  private async run<R>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (c: DriverCollection<Stored>) => Promise<R>,
    mode: 'read' | 'write' = 'read',
  ): Promise<R> {
    throwIfAborted(signal);
    try {
      const c = (await this.wh.db()).collection<Stored>(this.name);
      if (mode === 'read') return await fn(c);
      return await this.wh.write(this.name, () => {
        throwIfAborted(signal);
        return fn(c);
      });
    } catch (err) {
      throw translate(err, this.name, what, signal);
    }
  }

  private decode(doc: Document): T {
    return decodeValue(doc) as T;
  }

  private readOptions(signal: AbortSignal | undefined): { signal?: AbortSignal } {
    return signal === undefined ? {} : { signal };
  }

  async get(id: string, signal?: AbortSignal): Promise<T | undefined> {
    checkId(id, 'id');
    return this.run('get', signal, async (c) => {
      const doc = await c.findOne({ _id: id }, this.readOptions(signal));
      return doc === null ? undefined : this.decode(doc);
    });
  }

  async getMany(ids: readonly string[], signal?: AbortSignal): Promise<T[]> {
    if (!Array.isArray(ids)) throw invalidArgument('getMany needs an array of ids');
    const unique = [...new Set(ids.map((id) => checkId(id, 'id')))];
    return this.run('getMany', signal, async (c) => {
      const found = new Map<string, T>();
      for (let i = 0; i < unique.length; i += IN_CHUNK) {
        const docs = await c
          .find({ _id: { $in: unique.slice(i, i + IN_CHUNK) } }, this.readOptions(signal))
          .toArray();
        for (const d of docs) found.set(d._id, this.decode(d));
      }
      return unique.flatMap((id) => {
        const r = found.get(id);
        return r === undefined ? [] : [r];
      });
    });
  }

  async insert(record: T, signal?: AbortSignal): Promise<void> {
    const doc = convertRecord(record, toBinary);
    await this.run('insert', signal, (c) => c.insertOne(doc), 'write');
  }

  async put(record: T, signal?: AbortSignal): Promise<void> {
    const { _id, ...body } = convertRecord(record, toBinary);
    await this.run(
      'put',
      signal,
      async (c) => {
        try {
          await c.replaceOne({ _id }, body, { upsert: true });
        } catch (err) {
          // Two upserts of a new id can both try to insert; the loser's retry finds the record and replaces it.
          if (!isDuplicateKey(err)) throw err;
          await c.replaceOne({ _id }, body, { upsert: true });
        }
      },
      'write',
    );
  }

  async replaceIf(record: T, expected: Filter | null, signal?: AbortSignal): Promise<boolean> {
    const { _id, ...body } = convertRecord(record, toBinary);
    if (expected === null) {
      return this.run(
        'replaceIf',
        signal,
        async (c) => {
          try {
            await c.insertOne({ _id, ...body });
            return true;
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            // Taken by this id (someone else won) → false; by a unique index → the caller must know.
            if ((await c.countDocuments({ _id }, { limit: 1 })) > 0) return false;
            throw err;
          }
        },
        'write',
      );
    }
    const filter = withId(_id, normalizeFilter(expected, 'expected'));
    return this.run(
      'replaceIf',
      signal,
      async (c) => (await c.replaceOne(filter, body)).matchedCount === 1,
      'write',
    );
  }

  async update(
    id: string,
    update: Update,
    options?: { where?: Filter; upsert?: boolean },
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    checkId(id, 'id');
    const plan = this.prepareUpdate(normalizeUpdate(update));
    const where = normalizeFilter(options?.where, 'where');
    const filter = withId(id, where);
    const upsert = options?.upsert === true;
    return this.run(
      'update',
      signal,
      async (c) => {
        const apply = async (): Promise<T | undefined> => {
          if (isEmptyUpdate(plan)) {
            const doc = await c.findOne(filter);
            return doc === null ? undefined : this.decode(doc);
          }
          const doc = await c.findOneAndUpdate(filter, mongoUpdate(plan), { returnDocument: 'after' });
          return doc === null ? undefined : this.decode(doc);
        };
        if (!upsert) return apply();
        if (where.length === 0 && !isEmptyUpdate(plan)) {
          const upsertOnce = () =>
            c.findOneAndUpdate(filter, mongoUpdate(plan), { returnDocument: 'after', upsert: true });
          let doc: Document | null;
          try {
            doc = await upsertOnce();
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            doc = await upsertOnce(); // lost an insert race on this id: the record exists now
          }
          return doc === null ? undefined : this.decode(doc);
        }
        // With `where`, MongoDB's own upsert would try to insert when the record exists but does not match
        // (a duplicate-key error) and would copy the where-equalities into a new record; the port creates a
        // missing record from the id and the update only, so the two cases are handled separately.
        const updated = await apply();
        if (updated !== undefined) return updated;
        const fresh: Stored = { _id: id };
        applyUpdate(fresh, plan, isPlainDoc);
        try {
          await c.insertOne(fresh);
          return this.decode(fresh);
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          if ((await c.countDocuments({ _id: id }, { limit: 1 })) === 0) throw err;
          return apply(); // it exists (now): the update applies only if it matches `where`
        }
      },
      'write',
    );
  }

  async updateMany(filter: Filter, update: Update, signal?: AbortSignal): Promise<number> {
    const plan = this.prepareUpdate(normalizeUpdate(update));
    const query = mongoFilter(normalizeFilter(filter));
    if (isEmptyUpdate(plan)) return 0;
    return this.run(
      'updateMany',
      signal,
      async (c) => (await c.updateMany(query, mongoUpdate(plan))).modifiedCount,
      'write',
    );
  }

  async delete(id: string, signal?: AbortSignal): Promise<boolean> {
    checkId(id, 'id');
    return this.run(
      'delete',
      signal,
      async (c) => (await c.deleteOne({ _id: id })).deletedCount === 1,
      'write',
    );
  }

  async deleteMany(filter: Filter, signal?: AbortSignal): Promise<number> {
    const query = mongoFilter(normalizeFilter(filter));
    return this.run('deleteMany', signal, async (c) => (await c.deleteMany(query)).deletedCount, 'write');
  }

  async find(filter: Filter, options?: FindOptions, signal?: AbortSignal): Promise<T[]> {
    const query = mongoFilter(normalizeFilter(filter));
    const opts = normalizeFind(options);
    if (opts.limit === 0) return [];
    return this.run('find', signal, async (c) => {
      const docs = await c
        .find(query, {
          ...this.readOptions(signal),
          sort: Object.fromEntries(opts.sort.map((s) => [s.path, s.direction])),
          skip: opts.skip,
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          ...(opts.exclude.length === 0
            ? {}
            : { projection: Object.fromEntries(opts.exclude.map((e) => [e.path, 0])) }),
        })
        .toArray();
      return docs.map((d) => this.decode(d));
    });
  }

  async *scan(
    filter: Filter,
    options?: { batchSize?: number; exclude?: string[] },
    signal?: AbortSignal,
  ): AsyncIterable<T> {
    const query = mongoFilter(normalizeFilter(filter));
    const batchSize = normalizeBatchSize(options?.batchSize);
    const exclude = normalizeExclude(options?.exclude);
    const projection = exclude.length === 0 ? undefined : Object.fromEntries(exclude.map((e) => [e.path, 0]));
    // Keyset pages over _id rather than one long cursor: no server cursor to time out between pages, and
    // records written during the scan never make it repeat or skip others.
    let after: string | undefined;
    for (;;) {
      const page: Query = after === undefined ? query : { $and: [query, { _id: { $gt: after } }] };
      const docs = await this.run('scan', signal, (c) =>
        c
          .find(page, {
            ...this.readOptions(signal),
            sort: { _id: 1 },
            limit: batchSize,
            ...(projection ? { projection } : {}),
          })
          .toArray(),
      );
      for (const d of docs) yield this.decode(d);
      if (docs.length < batchSize) return;
      after = (docs[docs.length - 1] as Stored)._id;
    }
  }

  async count(filter?: Filter, signal?: AbortSignal): Promise<number> {
    const query = mongoFilter(normalizeFilter(filter));
    return this.run('count', signal, (c) => c.countDocuments(query, this.readOptions(signal)));
  }

  async ensureIndex(spec: IndexSpec): Promise<void> {
    const index = normalizeIndex(spec);
    const keys = Object.fromEntries(index.fields.map((f) => [f.path, f.direction]));
    await this.run('ensureIndex', undefined, (c) =>
      c.createIndex(keys, { name: index.name, ...(index.unique ? { unique: true } : {}) }),
    );
  }

  private prepareUpdate(update: ReturnType<typeof normalizeUpdate>): UpdatePlan {
    return {
      set: update.set.map((s) => ({ ...s, value: convertValue(s.value, s.path, toBinary) })),
      unset: update.unset,
      inc: update.inc,
    };
  }
}

export function createMongoWarehouse(options: MongoWarehouseOptions): MongoWarehouse {
  return new MongoWarehouse(options);
}
