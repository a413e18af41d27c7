// The embedded event bus: a durable, partitioned log in one SQLite file, with the same delivery semantics as the
// Kafka adapter (per-key order, commit after the handler, bounded retries then `<topic>.dlq`, resume from the
// committed position after a restart). Several processes may share the file: writes are serialised by SQLite,
// consumers poll it, and a lease per (group, topic, partition) keeps one consumer of a group on a partition.
//
// Durability: WAL mode. A transaction that publishes (messages, dead letters, replays) runs with
// synchronous=FULL, so publish() resolves only after the WAL is fsynced: an acknowledged event survives a process
// crash and also an OS crash or power cut. That matters because producers mark their outbox rows as sent once
// publish() resolves; an event lost after that would leave a permanent gap. Offset commits and leases run with
// synchronous=NORMAL, which in WAL mode is still durable across a process crash (the commit is in the WAL file,
// in the OS page cache) and never corrupts; a power cut may forget the last commits, which only re-delivers
// messages, as at-least-once allows.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  DomainError,
  failedPrecondition,
  invalidArgument,
  isDomainError,
  notFound,
  unavailable,
} from '../errors.js';
import {
  type EventBusLogger,
  deadLetterHeaders,
  deliverWithRetries,
  silentLogger,
  toDeadLetter,
  validateMessages,
  validateSubscribeOptions,
  validateTopic,
  withoutDlqHeaders,
} from './event-bus-common.js';
import {
  type DeadLetter,
  type EventBus,
  type IncomingMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
  deadLetterTopic,
} from './event-bus.port.js';

export interface EmbeddedEventBusOptions {
  /** The SQLite file; created (with its folder) if missing. */
  path: string;
  /** Partitions of topics this bus creates. Default 3. */
  partitions?: number;
  /** How often idle consumers look for writes from other processes. Default 200 ms. */
  pollIntervalMs?: number;
  /** Messages fetched per partition at a time. Default 100. */
  batchSize?: number;
  /** How long a consumer's claim on a partition lasts without renewal. Default 10 s. */
  leaseMs?: number;
  /** stop() aborts the handlers' signal after this long. Default 30 s. */
  drainTimeoutMs?: number;
  logger?: EventBusLogger;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS topics (
  name TEXT PRIMARY KEY,
  partitions INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  msg_offset INTEGER NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  headers TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  UNIQUE (topic, partition, msg_offset)
);
CREATE TABLE IF NOT EXISTS group_offsets (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  owner TEXT NOT NULL,
  pid INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
`;

interface MessageRow {
  seq: number;
  topic: string;
  partition: number;
  msg_offset: number;
  key: string;
  value: Buffer;
  headers: string;
  timestamp: number;
}

interface LeaseRow {
  owner: string;
  pid: number;
  expires_at: number;
}

// One emitter per database file in this process, so a publish wakes every consumer of the same file at once
// instead of after its next poll.
const wakers = new Map<string, { emitter: EventEmitter; users: number }>();

function acquireWaker(file: string): EventEmitter {
  let entry = wakers.get(file);
  if (!entry) {
    const emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    entry = { emitter, users: 0 };
    wakers.set(file, entry);
  }
  entry.users++;
  return entry.emitter;
}

function releaseWaker(file: string): void {
  const entry = wakers.get(file);
  if (entry && --entry.users === 0) wakers.delete(file);
}

/** FNV-1a over the key's UTF-8 bytes: stable across processes and versions, which the partition choice must be. */
export function partitionForKey(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function toIncoming(row: MessageRow): Omit<IncomingMessage, 'attempt'> {
  return {
    topic: row.topic,
    partition: row.partition,
    offset: String(row.msg_offset),
    key: row.key,
    value: new Uint8Array(row.value),
    headers: JSON.parse(row.headers) as { [name: string]: string },
    timestamp: row.timestamp,
  };
}

/** Parses `log:<path>`; `log:///abs/file.db` is read as `/abs/file.db`. */
export function parseLogUrl(url: string): string {
  if (!url.startsWith('log:'))
    throw invalidArgument(`not an embedded log URL: ${url} (expected log:<path to .db file>)`);
  let file = url.slice('log:'.length);
  if (file.startsWith('//')) file = file.slice(2);
  if (file.length === 0)
    throw invalidArgument(`embedded log URL ${url} names no file (expected log:<path to .db file>)`);
  return file;
}

/** The SQLite side: every statement the bus runs, and the transactions that must be atomic. */
class SqliteLog {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly partitionsForNewTopics: number;

  constructor(file: string, partitions: number) {
    this.partitionsForNewTopics = partitions;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      this.db = new Database(file, { timeout: 5_000 });
      const mode = this.db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
      this.db.pragma('synchronous = NORMAL');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(`the file has event-log schema ${version}; this build knows up to ${SCHEMA_VERSION}`);
      }
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (err) {
      throw unavailable(`cannot open the embedded event log at ${file}: ${(err as Error).message}`, err);
    }
    const db = this.db;
    this.stmts = {
      topic: db.prepare<[string], { partitions: number }>('SELECT partitions FROM topics WHERE name = ?'),
      createTopic: db.prepare('INSERT OR IGNORE INTO topics (name, partitions, created_at) VALUES (?, ?, ?)'),
      end: db.prepare<[string, number], { end: number | null }>(
        'SELECT MAX(msg_offset) + 1 AS end FROM messages WHERE topic = ? AND partition = ?',
      ),
      insert: db.prepare(
        `INSERT INTO messages (topic, partition, msg_offset, key, value, headers, timestamp)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      fetch: db.prepare<[string, number, number, number], MessageRow>(
        `SELECT * FROM messages WHERE topic = ? AND partition = ? AND msg_offset >= ?
         ORDER BY msg_offset LIMIT ?`,
      ),
      read: db.prepare<[string, number], MessageRow>(
        'SELECT * FROM messages WHERE topic = ? ORDER BY seq LIMIT ?',
      ),
      committed: db.prepare<[string, string, number], { next_offset: number }>(
        'SELECT next_offset FROM group_offsets WHERE group_id = ? AND topic = ? AND partition = ?',
      ),
      // Positions only move forward: a late commit from a consumer that lost its lease cannot rewind the group.
      commit: db.prepare(
        `INSERT INTO group_offsets (group_id, topic, partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (group_id, topic, partition) DO UPDATE
         SET next_offset = excluded.next_offset, updated_at = excluded.updated_at
         WHERE excluded.next_offset > group_offsets.next_offset`,
      ),
      lease: db.prepare<[string, string, number], LeaseRow>(
        'SELECT owner, pid, expires_at FROM leases WHERE group_id = ? AND topic = ? AND partition = ?',
      ),
      takeLease: db.prepare(
        `INSERT INTO leases (group_id, topic, partition, owner, pid, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (group_id, topic, partition) DO UPDATE
         SET owner = excluded.owner, pid = excluded.pid, expires_at = excluded.expires_at`,
      ),
      renewLeases: db.prepare('UPDATE leases SET expires_at = ? WHERE owner = ?'),
      releaseLeases: db.prepare('DELETE FROM leases WHERE owner = ?'),
      sqliteVersion: db.prepare<[], { v: string }>('SELECT sqlite_version() AS v'),
    };
  }

  /** Runs a write transaction that takes the write lock up front, with the given sync level. */
  private write<T>(durable: boolean, fn: () => T): T {
    if (durable) this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      if (durable) this.db.pragma('synchronous = NORMAL');
    }
  }

  partitionsOf(topic: string): number | undefined {
    return this.stmts.topic.get(topic)?.partitions;
  }

  ensureTopics(topics: readonly string[]): void {
    this.write(true, () => {
      for (const topic of topics) this.stmts.createTopic.run(topic, this.partitionsForNewTopics, Date.now());
    });
  }

  private endOf(topic: string, partition: number): number {
    return this.stmts.end.get(topic, partition)?.end ?? 0;
  }

  private appendInTx(topic: string, messages: readonly OutgoingMessage[]): void {
    const partitions = this.partitionsOf(topic);
    if (partitions === undefined) {
      throw failedPrecondition(`topic ${topic} does not exist: create it with ensureTopics() first`);
    }
    const ends = new Map<number, number>();
    const now = Date.now();
    for (const message of messages) {
      const partition = partitionForKey(message.key, partitions);
      const offset = ends.get(partition) ?? this.endOf(topic, partition);
      this.stmts.insert.run(
        topic,
        partition,
        offset,
        message.key,
        Buffer.from(message.value.buffer, message.value.byteOffset, message.value.byteLength),
        JSON.stringify(message.headers ?? {}),
        now,
      );
      ends.set(partition, offset + 1);
    }
  }

  append(topic: string, messages: readonly OutgoingMessage[]): void {
    this.write(true, () => this.appendInTx(topic, messages));
  }

  fetch(topic: string, partition: number, from: number, limit: number): MessageRow[] {
    return this.stmts.fetch.all(topic, partition, from, limit);
  }

  read(topic: string, limit: number): MessageRow[] {
    return this.stmts.read.all(topic, limit);
  }

  committed(group: string, topic: string, partition: number): number | undefined {
    return this.stmts.committed.get(group, topic, partition)?.next_offset;
  }

  commit(group: string, topic: string, partition: number, nextOffset: number): void {
    this.write(false, () => this.stmts.commit.run(group, topic, partition, nextOffset, Date.now()));
  }

  /** The dead letter and the group's move past the message happen together or not at all. */
  deadLetter(
    group: string,
    message: Omit<IncomingMessage, 'attempt'>,
    error: string,
    attempts: number,
  ): void {
    this.write(true, () => {
      this.appendInTx(deadLetterTopic(message.topic), [
        {
          key: message.key,
          value: message.value,
          headers: deadLetterHeaders({ ...message, attempt: attempts }, group, error, attempts),
        },
      ]);
      this.stmts.commit.run(group, message.topic, message.partition, Number(message.offset) + 1, Date.now());
    });
  }

  /** Republishes what `replayGroup` has not replayed yet and records how far it got, atomically. */
  replay(topic: string, replayGroup: string): number {
    const dlq = deadLetterTopic(topic);
    return this.write(true, () => {
      const partitions = this.partitionsOf(dlq);
      if (partitions === undefined) return 0;
      const rows: MessageRow[] = [];
      for (let partition = 0; partition < partitions; partition++) {
        const from = this.committed(replayGroup, dlq, partition) ?? 0;
        const pending = this.fetch(dlq, partition, from, Number.MAX_SAFE_INTEGER);
        const last = pending.at(-1);
        if (last) this.stmts.commit.run(replayGroup, dlq, partition, last.msg_offset + 1, Date.now());
        rows.push(...pending);
      }
      rows.sort((a, b) => a.seq - b.seq);
      this.appendInTx(
        topic,
        rows.map((row) => ({
          key: row.key,
          value: row.value,
          headers: withoutDlqHeaders(JSON.parse(row.headers) as { [name: string]: string }),
        })),
      );
      return rows.length;
    });
  }

  lag(group: string, topic: string): number {
    const partitions = this.partitionsOf(topic);
    if (partitions === undefined) throw notFound(`topic ${topic} does not exist`);
    let lag = 0;
    for (let partition = 0; partition < partitions; partition++) {
      lag += Math.max(0, this.endOf(topic, partition) - (this.committed(group, topic, partition) ?? 0));
    }
    return lag;
  }

  endOffsets(topic: string): number[] {
    const partitions = this.partitionsOf(topic) ?? 0;
    return Array.from({ length: partitions }, (_, partition) => this.endOf(topic, partition));
  }

  /**
   * Claims the partition for `owner` when it is free, expired, already ours, or held by a process on this host
   * that no longer exists (a crashed consumer need not wait out its lease).
   */
  claim(group: string, topic: string, partition: number, owner: string, leaseMs: number): boolean {
    const now = Date.now();
    const current = this.stmts.lease.get(group, topic, partition);
    if (current && current.owner === owner && current.expires_at - now > leaseMs / 2) return true;
    if (current && current.owner !== owner && current.expires_at > now && processAlive(current.pid))
      return false;
    return this.write(false, () => {
      const row = this.stmts.lease.get(group, topic, partition);
      const free = !row || row.owner === owner || row.expires_at <= Date.now() || !processAlive(row.pid);
      if (free) this.stmts.takeLease.run(group, topic, partition, owner, process.pid, Date.now() + leaseMs);
      return free;
    });
  }

  renewLeases(owner: string, leaseMs: number): void {
    this.write(false, () => this.stmts.renewLeases.run(Date.now() + leaseMs, owner));
  }

  releaseLeases(owner: string): void {
    this.write(false, () => this.stmts.releaseLeases.run(owner));
  }

  sqliteVersion(): string {
    return this.stmts.sqliteVersion.get()?.v ?? 'unknown';
  }

  close(): void {
    this.db.close();
  }
}

export class EmbeddedEventBus implements EventBus {
  readonly adapter = 'embedded';
  readonly file: string;
  private readonly log: SqliteLog;
  private readonly waker: EventEmitter;
  private readonly subscriptions = new Set<EmbeddedSubscription>();
  private readonly settings: Required<Omit<EmbeddedEventBusOptions, 'path' | 'partitions'>>;
  private closed = false;

  static fromUrl(url: string, options: Omit<EmbeddedEventBusOptions, 'path'> = {}): EmbeddedEventBus {
    return new EmbeddedEventBus({ ...options, path: parseLogUrl(url) });
  }

  constructor(options: EmbeddedEventBusOptions) {
    const partitions = options.partitions ?? 3;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw invalidArgument('partitions must be a positive integer', [
        { field: 'partitions', message: 'must be an integer >= 1' },
      ]);
    }
    this.file = path.resolve(options.path);
    this.settings = {
      pollIntervalMs: options.pollIntervalMs ?? 200,
      batchSize: options.batchSize ?? 100,
      leaseMs: options.leaseMs ?? 10_000,
      drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
      logger: options.logger ?? silentLogger,
    };
    this.log = new SqliteLog(this.file, partitions);
    this.waker = acquireWaker(this.file);
  }

  /** @internal used by subscriptions */
  get internals(): { log: SqliteLog; waker: EventEmitter; settings: EmbeddedEventBus['settings'] } {
    return { log: this.log, waker: this.waker, settings: this.settings };
  }

  private guard<T>(what: string, fn: () => T): T {
    if (this.closed) throw failedPrecondition(`the embedded event log ${this.file} is closed`);
    try {
      return fn();
    } catch (err) {
      if (err instanceof DomainError) throw err;
      throw unavailable(`embedded event log ${this.file}: ${what} failed: ${(err as Error).message}`, err);
    }
  }

  async ensureTopics(topics: readonly string[]): Promise<void> {
    topics.forEach(validateTopic);
    this.guard('ensureTopics', () => this.log.ensureTopics(topics));
  }

  async publish(topic: string, messages: readonly OutgoingMessage[], signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new DomainError('cancelled', `publish to ${topic} was cancelled`);
    validateMessages(topic, messages);
    if (messages.length === 0) return;
    this.guard('publish', () => this.log.append(topic, messages));
    this.waker.emit('publish', topic);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    validateSubscribeOptions(options);
    await this.ensureTopics([...options.topics, ...options.topics.map(deadLetterTopic)]);
    const subscription = this.guard('subscribe', () => new EmbeddedSubscription(this, options));
    this.subscriptions.add(subscription);
    subscription.start(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async read(
    topic: string,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<IncomingMessage[]> {
    validateTopic(topic);
    return this.guard('read', () => {
      if (this.log.partitionsOf(topic) === undefined) throw notFound(`topic ${topic} does not exist`);
      return this.log
        .read(topic, options.limit ?? Number.MAX_SAFE_INTEGER)
        .map((row) => ({ ...toIncoming(row), attempt: 1 }));
    });
  }

  async deadLetters(topic: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    validateTopic(topic);
    const dlq = deadLetterTopic(topic);
    return this.guard('deadLetters', () => {
      if (this.log.partitionsOf(dlq) === undefined) return [];
      return this.log
        .read(dlq, options.limit ?? Number.MAX_SAFE_INTEGER)
        .map((row) => toDeadLetter({ ...toIncoming(row), attempt: 1 }, topic));
    });
  }

  async replayDeadLetters(topic: string, options: { group?: string } = {}): Promise<number> {
    validateTopic(topic);
    const replayed = this.guard('replayDeadLetters', () => {
      if (this.log.partitionsOf(topic) === undefined) throw notFound(`topic ${topic} does not exist`);
      return this.log.replay(topic, `${options.group ?? 'replay'}.dlq-replay`);
    });
    if (replayed > 0) this.waker.emit('publish', topic);
    return replayed;
  }

  async lag(group: string, topic: string): Promise<number> {
    validateTopic(topic);
    return this.guard('lag', () => this.log.lag(group, topic));
  }

  async ping(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new DomainError('cancelled', 'ping was cancelled');
    if (this.closed) throw unavailable(`the embedded event log ${this.file} is closed`);
    this.guard('ping', () => this.log.sqliteVersion());
  }

  async version(): Promise<string> {
    return this.guard('version', () => `embedded log on SQLite ${this.log.sqliteVersion()}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.closed = true;
    this.log.close();
    releaseWaker(this.file);
  }

  /**
   * Drops this bus the way a process crash would: handlers are abandoned (their signal aborts), nothing more is
   * committed, and the file is closed. For tests of at-least-once delivery.
   */
  async abandon(): Promise<void> {
    if (this.closed) return;
    for (const subscription of this.subscriptions) subscription.crash();
    this.subscriptions.clear();
    this.closed = true;
    this.log.close();
    releaseWaker(this.file);
  }

  /** Where each partition of `topic` ends (the next offset to be written); for tools and tests. */
  endOffsets(topic: string): number[] {
    return this.guard('endOffsets', () => this.log.endOffsets(topic));
  }
}

class EmbeddedSubscription implements Subscription {
  private readonly owner = `${process.pid}:${randomUUID()}`;
  private readonly log: SqliteLog;
  private readonly waker: EventEmitter;
  private readonly settings: EmbeddedEventBus['settings'];
  private readonly stopController = new AbortController();
  private readonly handlerController = new AbortController();
  private readonly latestStart = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private workers: Promise<void>[] = [];
  private renewTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private crashed = false;
  private stopped: Promise<void> | undefined;
  private onDone: () => void = () => undefined;
  private readonly onPublish = (topic: string): void => {
    if (this.options.topics.includes(topic)) this.wakeAll();
  };

  constructor(
    bus: EmbeddedEventBus,
    private readonly options: SubscribeOptions,
  ) {
    ({ log: this.log, waker: this.waker, settings: this.settings } = bus.internals);
    if (options.from === 'latest') {
      // Like Kafka's auto.offset.reset=latest: a group with no position starts at the end as of now.
      for (const topic of options.topics) {
        this.log
          .endOffsets(topic)
          .forEach((end, partition) => this.latestStart.set(`${topic}/${partition}`, end));
      }
    }
  }

  start(onDone: () => void): void {
    this.onDone = onDone;
    this.waker.on('publish', this.onPublish);
    // Renewal keeps the claim alive while a slow handler runs; workers only read the lease when idle.
    this.renewTimer = setInterval(() => {
      try {
        this.log.renewLeases(this.owner, this.settings.leaseMs);
      } catch (err) {
        this.settings.logger.warn({ err, group: this.options.group }, 'renewing event-log leases failed');
      }
    }, this.settings.leaseMs / 3);
    this.renewTimer.unref();
    for (const topic of this.options.topics) {
      const partitions = this.log.partitionsOf(topic) ?? 0;
      for (let partition = 0; partition < partitions; partition++) {
        this.workers.push(this.consume(topic, partition));
      }
    }
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private keepGoing = (): boolean => !this.stopping;

  private async consume(topic: string, partition: number): Promise<void> {
    const { group } = this.options;
    const { logger, pollIntervalMs, batchSize, leaseMs } = this.settings;
    let position: number | undefined;
    while (!this.stopping) {
      try {
        if (!this.log.claim(group, topic, partition, this.owner, leaseMs)) {
          position = undefined;
          await this.idle(pollIntervalMs);
          continue;
        }
        position ??=
          this.log.committed(group, topic, partition) ?? this.latestStart.get(`${topic}/${partition}`) ?? 0;
        const rows = this.log.fetch(topic, partition, position, batchSize);
        if (rows.length === 0) {
          await this.idle(pollIntervalMs);
          continue;
        }
        for (const row of rows) {
          if (this.stopping) break;
          const message = toIncoming(row);
          const outcome = await deliverWithRetries({
            message,
            options: this.options,
            signal: this.handlerController.signal,
            stopSignal: this.stopController.signal,
            keepGoing: this.keepGoing,
            logger,
          });
          // A crashed consumer commits nothing more: whatever it was doing is delivered again.
          if (this.crashed || outcome.kind === 'interrupted') return;
          if (outcome.kind === 'processed') {
            this.log.commit(group, topic, partition, row.msg_offset + 1);
          } else {
            this.log.deadLetter(group, message, outcome.error, outcome.attempts);
            logger.warn(
              { topic, partition, offset: message.offset, group, error: outcome.error },
              'event dead-lettered after its last attempt',
            );
          }
          position = row.msg_offset + 1;
        }
      } catch (err) {
        if (this.crashed) return;
        // Re-read the committed position: whatever was not committed is delivered again.
        position = undefined;
        logger.warn({ err, topic, partition, group }, 'embedded event consumer failed; retrying');
        await this.idle(pollIntervalMs);
      }
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.drain();
    return this.stopped;
  }

  private async drain(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.wakeAll();
    const timer = setTimeout(() => this.handlerController.abort(), this.settings.drainTimeoutMs);
    try {
      await Promise.all(this.workers);
    } finally {
      clearTimeout(timer);
      this.detach();
    }
    if (!this.crashed) {
      try {
        this.log.releaseLeases(this.owner);
      } catch (err) {
        this.settings.logger.warn({ err, group: this.options.group }, 'releasing event-log leases failed');
      }
    }
  }

  private detach(): void {
    clearInterval(this.renewTimer);
    this.waker.off('publish', this.onPublish);
    this.onDone();
  }

  /** See EmbeddedEventBus.abandon(). The leases go too, as another process would find this one's pid gone. */
  crash(): void {
    this.crashed = true;
    this.stopping = true;
    this.stopController.abort();
    this.handlerController.abort();
    this.wakeAll();
    this.detach();
    try {
      this.log.releaseLeases(this.owner);
    } catch (err) {
      if (!isDomainError(err)) this.settings.logger.warn({ err }, 'releasing event-log leases failed');
    }
    this.stopped ??= Promise.resolve();
  }
}
