// The embedded event bus: a durable, partitioned log in one SQLite file, with the same delivery semantics as the
// Kafka adapter (per-key order, commit after the handler, bounded retries then `<topic>.dlq`, resume from the
// committed position after a restart). Several processes may share the file: writes are serialised by SQLite,
// consumers poll it, and a lease per (group, topic, partition) keeps one consumer of a group on a partition.
// The file's schema, statements and durability live in sqlite-event-log.ts, a subscription's workers in
// embedded-subscription.ts; this file is the port's face over them.
// Hand-written because no embeddable library gives Kafka's consumer-group semantics in one file; it is held
// to what the Kafka adapter is held to: the same contract suite (event-bus.contract.ts) and the same SIGKILL
// scenario (embedded-sigkill.test.ts: a killed consumer loses nothing and its uncommitted work comes back).
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { DomainError, failedPrecondition, invalidArgument, notFound, unavailable } from '../errors.js';
import {
  type EventBusLogger,
  silentLogger,
  toDeadLetter,
  validateMessages,
  validateSubscribeOptions,
  validateTopic,
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
import { EmbeddedSubscription } from './embedded-subscription.js';
import { SqliteLog, toIncoming } from './sqlite-event-log.js';

export { partitionForKey } from './sqlite-event-log.js';

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
    const subscription = this.guard(
      'subscribe',
      () => new EmbeddedSubscription(this.log, this.waker, this.settings, options),
    );
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
