// The MongoDB warehouse (mongodb driver 6). It asks no more of the server than FerretDB v1 offers: single
// document atomicity only (no transactions or sessions), no change streams, no $lookup/$facet, no partial or
// TTL indexes, no arrayFilters. Records keep their string id as `_id`; Uint8Array values are BSON Binary.
// This file is the client's life cycle (connect, FerretDB detection, write serialisation, ping); a collection's
// operations are in mongo-collection.ts, the query translation in mongo-query.ts, errors in mongo-errors.ts.
import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import { DomainError, invalidArgument, unavailable } from '../errors.js';
import type { Collection, Record, Warehouse } from './warehouse.port.js';
import { checkCollectionName, throwIfAborted } from './warehouse-validation.js';
import { MongoCollection, type MongoDatabase } from './mongo-collection.js';
import { translate } from './mongo-errors.js';

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

export class MongoWarehouse implements Warehouse, MongoDatabase {
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

export function createMongoWarehouse(options: MongoWarehouseOptions): MongoWarehouse {
  return new MongoWarehouse(options);
}
