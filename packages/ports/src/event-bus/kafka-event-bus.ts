// The Kafka event bus (kafkajs 2.2.4). Delivery semantics match the embedded log: an idempotent producer with
// acks=all and one request in flight (so a retried send cannot reorder a key's messages); consumers with
// auto-commit off that process each partition's messages one at a time, commit a message only after its handler
// (or its dead-lettering) completed, and run partitions in parallel.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  Kafka,
  KafkaMessage,
  LogEntry,
  Producer,
  logLevel as KafkaLogLevel,
} from 'kafkajs';
import { DomainError, failedPrecondition, invalidArgument, notFound, unavailable } from '../errors.js';
import {
  type EventBusLogger,
  deadLetterHeaders,
  deliverWithRetries,
  silentLogger,
  sleep,
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

// kafkajs is CommonJS; its named exports are reached through the default import under Node's ESM loader.
const { Kafka: KafkaClient, Partitioners, logLevel } = kafkajs;
const kafkajsVersion = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string })
  .version;

export interface KafkaEventBusOptions {
  brokers: readonly string[];
  /** Client id the brokers see in logs and quotas. Default 'llmtwin'. */
  clientId?: string;
  /** Partitions of topics this bus creates. Default 3. */
  partitions?: number;
  /** Replication of topics this bus creates. Default: min(3, brokers in the cluster). */
  replicationFactor?: number;
  /** Consumer group session timeout: how soon a dead consumer's partitions move. Default 30 s. */
  sessionTimeoutMs?: number;
  /** Default 3 s; must be well under the session timeout. */
  heartbeatIntervalMs?: number;
  /** Longest the broker holds an empty fetch; bounds how long stop() waits for a fetch. Default 1 s. */
  maxWaitTimeMs?: number;
  /** stop() aborts the handlers' signal after this long. Default 30 s. */
  drainTimeoutMs?: number;
  /** read() and replayDeadLetters() give up after this long. Default 30 s. */
  readTimeoutMs?: number;
  /** ping() gives up after this long. Default 5 s. */
  pingTimeoutMs?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Partitions one subscription processes at once. Default: partitions × topics, at most 16. */
  partitionsConsumedConcurrently?: number;
  logger?: EventBusLogger;
}

/** Parses `kafka://host:port[,host:port...]` into broker addresses. */
export function parseKafkaUrl(url: string): string[] {
  const expected = 'expected kafka://host:port[,host:port]';
  if (!url.startsWith('kafka://')) throw invalidArgument(`not a Kafka URL: ${url} (${expected})`);
  const rest = url.slice('kafka://'.length).replace(/\/$/, '');
  const brokers = rest.split(',').map((b) => b.trim());
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(broker);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65_535) {
      throw invalidArgument(`bad broker address ${JSON.stringify(broker)} in ${url} (${expected})`);
    }
  }
  return brokers;
}

/** Routes kafkajs logs to the service logger; kafkajs errors are mostly transient (retries, rebalances). */
function kafkaLogCreator(logger: EventBusLogger) {
  return (_level: KafkaLogLevel) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, ...extra } = log;
      const fields = { kafkajs: namespace, ...extra };
      if (level === logLevel.ERROR || level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.info?.(fields, message);
      else logger.debug?.(fields, message);
    };
}

function headerText(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  // Kafka allows a header name to repeat; the port has one value per name, so the last one wins.
  const last = Array.isArray(value) ? value.at(-1) : value;
  return last === undefined ? undefined : Buffer.isBuffer(last) ? last.toString('utf8') : last;
}

function toIncoming(
  topic: string,
  partition: number,
  message: KafkaMessage,
): Omit<IncomingMessage, 'attempt'> {
  const headers: { [name: string]: string } = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const text = headerText(value);
    if (text !== undefined) headers[name] = text;
  }
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString('utf8') ?? '',
    value: message.value ? new Uint8Array(message.value) : new Uint8Array(),
    headers,
    timestamp: Number(message.timestamp),
  };
}

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function isKafkaErrorType(err: unknown, type: string): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { type?: string }).type === type) return true;
  }
  return false;
}

function abortable<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      work.catch(() => undefined);
      return reject(new DomainError('cancelled', `${what} was cancelled`));
    }
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    const onAbort = (): void => reject(new DomainError('cancelled', `${what} was cancelled`));
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

interface Range {
  /** First offset to take. */
  start: bigint;
  /** High watermark captured at call time: stop before it. */
  end: bigint;
}

export class KafkaEventBus implements EventBus {
  readonly adapter = 'kafka';
  readonly brokers: readonly string[];
  private readonly kafka: Kafka;
  private readonly clientId: string;
  private readonly settings: {
    partitions: number;
    replicationFactor: number | undefined;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    maxWaitTimeMs: number;
    drainTimeoutMs: number;
    readTimeoutMs: number;
    pingTimeoutMs: number;
    partitionsConsumedConcurrently: number | undefined;
    logger: EventBusLogger;
  };
  private producerReady: Promise<Producer> | undefined;
  private adminReady: Promise<Admin> | undefined;
  private readonly knownTopics = new Set<string>();
  private readonly subscriptions = new Set<KafkaSubscription>();
  private closed = false;

  static fromUrl(url: string, options: Omit<KafkaEventBusOptions, 'brokers'> = {}): KafkaEventBus {
    return new KafkaEventBus({ ...options, brokers: parseKafkaUrl(url) });
  }

  constructor(options: KafkaEventBusOptions) {
    if (options.brokers.length === 0) throw invalidArgument('the Kafka event bus needs at least one broker');
    const partitions = options.partitions ?? 3;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw invalidArgument('partitions must be a positive integer', [
        { field: 'partitions', message: 'must be an integer >= 1' },
      ]);
    }
    this.brokers = [...options.brokers];
    this.clientId = options.clientId ?? 'llmtwin';
    const logger = options.logger ?? silentLogger;
    this.settings = {
      partitions,
      replicationFactor: options.replicationFactor,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 3_000,
      maxWaitTimeMs: options.maxWaitTimeMs ?? 1_000,
      drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
      readTimeoutMs: options.readTimeoutMs ?? 30_000,
      pingTimeoutMs: options.pingTimeoutMs ?? 5_000,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      logger,
    };
    this.kafka = new KafkaClient({
      clientId: this.clientId,
      brokers: this.brokers as string[],
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(logger),
      ...(options.connectionTimeoutMs === undefined
        ? {}
        : { connectionTimeout: options.connectionTimeoutMs }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeout: options.requestTimeoutMs }),
    });
  }

  /** @internal used by subscriptions */
  get internals(): { kafka: Kafka; settings: KafkaEventBus['settings']; producer: () => Promise<Producer> } {
    return { kafka: this.kafka, settings: this.settings, producer: () => this.producer() };
  }

  private assertOpen(): void {
    if (this.closed) throw failedPrecondition(`the Kafka event bus for ${this.brokers.join(',')} is closed`);
  }

  private fail(what: string, err: unknown): never {
    if (err instanceof DomainError) throw err;
    if (isKafkaErrorType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) {
      throw failedPrecondition(`${what}: the topic does not exist; create it with ensureTopics() first`);
    }
    throw unavailable(`Kafka at ${this.brokers.join(',')}: ${what} failed: ${(err as Error).message}`, err);
  }

  private producer(): Promise<Producer> {
    this.producerReady ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Set explicitly: the murmur2 partitioner Java clients use, and kafkajs then skips its start-up warning.
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })();
    this.producerReady.catch(() => (this.producerReady = undefined));
    return this.producerReady;
  }

  private admin(): Promise<Admin> {
    this.adminReady ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    this.adminReady.catch(() => (this.adminReady = undefined));
    return this.adminReady;
  }

  private async topicExists(topic: string): Promise<boolean> {
    if (this.knownTopics.has(topic)) return true;
    const topics = await (await this.admin()).listTopics();
    for (const t of topics) this.knownTopics.add(t);
    return this.knownTopics.has(topic);
  }

  async ensureTopics(topics: readonly string[]): Promise<void> {
    this.assertOpen();
    topics.forEach(validateTopic);
    try {
      const admin = await this.admin();
      const existing = new Set(await admin.listTopics());
      const missing = [...new Set(topics)].filter((t) => !existing.has(t));
      if (missing.length > 0) {
        const replicationFactor =
          this.settings.replicationFactor ?? Math.min(3, (await admin.describeCluster()).brokers.length);
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: this.settings.partitions,
            replicationFactor,
          })),
        });
      }
      for (const t of topics) this.knownTopics.add(t);
    } catch (err) {
      this.fail(`ensureTopics(${topics.join(', ')})`, err);
    }
  }

  async publish(topic: string, messages: readonly OutgoingMessage[], signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    if (signal?.aborted) throw new DomainError('cancelled', `publish to ${topic} was cancelled`);
    validateMessages(topic, messages);
    if (messages.length === 0) return;
    try {
      // Without auto-creation a send to a missing topic retries for a long while; answer at once instead.
      if (!(await this.topicExists(topic))) {
        throw failedPrecondition(`topic ${topic} does not exist: create it with ensureTopics() first`);
      }
      const producer = await this.producer();
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key, value: toBuffer(m.value), headers: { ...m.headers } })),
      });
    } catch (err) {
      this.fail(`publish to ${topic}`, err);
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    validateSubscribeOptions(options);
    await this.ensureTopics([...options.topics, ...options.topics.map(deadLetterTopic)]);
    const subscription = new KafkaSubscription(this, options, () => this.subscriptions.delete(subscription));
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (err) {
      this.subscriptions.delete(subscription);
      this.fail(`subscribe ${options.group} to ${options.topics.join(', ')}`, err);
    }
    return subscription;
  }

  /** Low/high watermarks per partition, as bigints. */
  private async watermarks(topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
    const offsets = await (await this.admin()).fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  }

  /**
   * Consumes `topic` as `groupId` over the given ranges and returns once every range is done. kafkajs has no
   * group-less assign(), so a group it is: a throwaway one for read(), the replay group for replays.
   */
  private async consumeRanges(
    topic: string,
    groupId: string,
    ranges: Map<number, Range>,
    onMessages: (
      messages: Omit<IncomingMessage, 'attempt'>[],
      commitThrough: () => Promise<void>,
    ) => Promise<void>,
    options: { limitPerPartition?: number; signal?: AbortSignal },
  ): Promise<void> {
    const pending = new Set([...ranges].filter(([, r]) => r.start < r.end).map(([p]) => p));
    if (pending.size === 0) return;
    const taken = new Map<number, number>();
    let finish: () => void = () => undefined;
    let failWith: (err: unknown) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => {
      finish = resolve;
      failWith = reject;
    });
    finished.catch(() => undefined);
    const consumer = this.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: this.settings.heartbeatIntervalMs,
      maxWaitTimeInMs: Math.min(this.settings.maxWaitTimeMs, 250),
    });
    const markDone = (partition: number): void => {
      pending.delete(partition);
      if (pending.size === 0) finish();
    };
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: Math.min(16, ranges.size),
        eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, pause }: EachBatchPayload) => {
          const range = ranges.get(batch.partition);
          if (!range || !pending.has(batch.partition)) {
            pause();
            return;
          }
          const chosen: Omit<IncomingMessage, 'attempt'>[] = [];
          let last: string | undefined;
          let done = false;
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            if (offset < range.start) continue;
            if (offset >= range.end) {
              done = true;
              break;
            }
            chosen.push(toIncoming(batch.topic, batch.partition, message));
            last = message.offset;
            const count = (taken.get(batch.partition) ?? 0) + 1;
            taken.set(batch.partition, count);
            if (offset + 1n >= range.end || count >= (options.limitPerPartition ?? Infinity)) {
              done = true;
              break;
            }
          }
          if (!done && BigInt(batch.lastOffset()) + 1n >= range.end) done = true;
          try {
            if (chosen.length > 0) {
              await onMessages(chosen, async () => {
                await commitOffsetsIfNecessary({
                  topics: [
                    {
                      topic,
                      partitions: [{ partition: batch.partition, offset: String(BigInt(last!) + 1n) }],
                    },
                  ],
                });
              });
              resolveOffset(last!);
            }
          } catch (err) {
            failWith(err);
            return;
          }
          if (done) {
            pause();
            markDone(batch.partition);
          }
        },
      });
      await abortable(finished, this.settings.readTimeoutMs, `reading ${topic}`, options.signal);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  async read(
    topic: string,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<IncomingMessage[]> {
    this.assertOpen();
    validateTopic(topic);
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return [];
    const groupId = `${this.clientId}.read.${randomUUID()}`;
    const messages: IncomingMessage[] = [];
    try {
      if (!(await this.topicExists(topic))) throw notFound(`topic ${topic} does not exist`);
      const marks = await this.watermarks(topic);
      const ranges = new Map([...marks].map(([p, m]) => [p, { start: m.low, end: m.high }]));
      await this.consumeRanges(
        topic,
        groupId,
        ranges,
        async (batch) => {
          messages.push(...batch.map((m) => ({ ...m, attempt: 1 })));
        },
        { limitPerPartition: limit, ...(options.signal ? { signal: options.signal } : {}) },
      );
    } catch (err) {
      this.fail(`read ${topic}`, err);
    } finally {
      // Best effort: an empty group is removed by the broker after offsets.retention anyway.
      await this.admin()
        .then((admin) => admin.deleteGroups([groupId]))
        .catch(() => undefined);
    }
    // Kafka orders within a partition only; publish time gives tools a sensible overall order.
    messages.sort(
      (a, b) =>
        a.timestamp - b.timestamp || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
    );
    return Number.isFinite(limit) ? messages.slice(0, limit) : messages;
  }

  async deadLetters(topic: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    this.assertOpen();
    validateTopic(topic);
    const dlq = deadLetterTopic(topic);
    try {
      if (!(await this.topicExists(dlq))) return [];
    } catch (err) {
      this.fail(`deadLetters(${topic})`, err);
    }
    const records = await this.read(dlq, options.limit === undefined ? {} : { limit: options.limit });
    return records.map((record) => toDeadLetter(record, topic));
  }

  async replayDeadLetters(topic: string, options: { group?: string } = {}): Promise<number> {
    this.assertOpen();
    validateTopic(topic);
    const dlq = deadLetterTopic(topic);
    // A committed group on the DLQ records how far replays got, so replaying twice republishes nothing twice.
    const replayGroup = `${options.group ?? 'replay'}.dlq-replay`;
    let replayed = 0;
    try {
      if (!(await this.topicExists(topic))) throw notFound(`topic ${topic} does not exist`);
      if (!(await this.topicExists(dlq))) return 0;
      const admin = await this.admin();
      const marks = await this.watermarks(dlq);
      const [committed] = await admin.fetchOffsets({ groupId: replayGroup, topics: [dlq] });
      const positions = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      const ranges = new Map(
        [...marks].map(([p, m]) => {
          const position = positions.get(p) ?? -1n;
          return [p, { start: position >= m.low ? position : m.low, end: m.high }];
        }),
      );
      const producer = await this.producer();
      await this.consumeRanges(
        dlq,
        replayGroup,
        ranges,
        async (batch, commitThrough) => {
          await producer.send({
            topic,
            acks: -1,
            messages: batch.map((m) => ({
              key: m.key,
              value: toBuffer(m.value),
              headers: withoutDlqHeaders(m.headers),
            })),
          });
          await commitThrough();
          replayed += batch.length;
        },
        {},
      );
    } catch (err) {
      this.fail(`replayDeadLetters(${topic})`, err);
    }
    return replayed;
  }

  async lag(group: string, topic: string): Promise<number> {
    this.assertOpen();
    validateTopic(topic);
    try {
      if (!(await this.topicExists(topic))) throw notFound(`topic ${topic} does not exist`);
      const admin = await this.admin();
      const marks = await this.watermarks(topic);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const positions = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      let lag = 0n;
      for (const [partition, { low, high }] of marks) {
        const position = positions.get(partition) ?? -1n;
        const from = position >= low ? position : low;
        if (high > from) lag += high - from;
      }
      return Number(lag);
    } catch (err) {
      this.fail(`lag(${group}, ${topic})`, err);
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    try {
      await abortable(
        this.admin().then((admin) => admin.describeCluster()),
        this.settings.pingTimeoutMs,
        'describeCluster',
        signal,
      );
    } catch (err) {
      if (err instanceof DomainError && err.kind === 'cancelled') throw err;
      throw unavailable(`Kafka at ${this.brokers.join(',')} is unavailable: ${(err as Error).message}`, err);
    }
  }

  async version(): Promise<string> {
    this.assertOpen();
    try {
      const cluster = await (await this.admin()).describeCluster();
      return `kafka cluster ${cluster.clusterId} (${cluster.brokers.length} broker(s)), kafkajs ${kafkajsVersion}`;
    } catch (err) {
      this.fail('version', err);
    }
  }

  private async disconnectClients(): Promise<void> {
    const clients = await Promise.allSettled(
      [this.producerReady, this.adminReady].filter((c) => c !== undefined),
    );
    await Promise.all(
      clients.map((c) =>
        c.status === 'fulfilled' ? c.value.disconnect().catch(() => undefined) : undefined,
      ),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.disconnectClients();
  }

  /**
   * Drops this bus the way a crash would, as far as the group can tell: handlers are abandoned (their signal
   * aborts) and nothing more is committed. The consumers then leave their groups, so the test need not wait out
   * a session timeout. For tests of at-least-once delivery.
   */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.crash()));
    await this.disconnectClients();
  }
}

class KafkaSubscription implements Subscription {
  private readonly kafka: Kafka;
  private readonly settings: KafkaEventBus['settings'];
  private readonly producer: () => Promise<Producer>;
  private readonly stopController = new AbortController();
  private readonly handlerController = new AbortController();
  private consumer: Consumer | undefined;
  private crashed = false;
  private stopped: Promise<void> | undefined;

  constructor(
    bus: KafkaEventBus,
    private readonly options: SubscribeOptions,
    private readonly onDone: () => void,
  ) {
    ({ kafka: this.kafka, settings: this.settings, producer: this.producer } = bus.internals);
  }

  async start(): Promise<void> {
    const { group, topics } = this.options;
    const { logger } = this.settings;
    const consumer = this.kafka.consumer({
      groupId: group,
      allowAutoTopicCreation: false,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: this.settings.heartbeatIntervalMs,
      maxWaitTimeInMs: this.settings.maxWaitTimeMs,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (event) => {
      logger.warn(
        { err: event.payload.error, group, restart: event.payload.restart },
        'Kafka consumer crashed',
      );
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics], fromBeginning: this.options.from !== 'latest' });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently:
          this.settings.partitionsConsumedConcurrently ??
          Math.min(16, this.settings.partitions * topics.length),
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary } = payload;
    const { group } = this.options;
    const { logger } = this.settings;
    const keepGoing = (): boolean => isRunning() && !isStale() && !this.crashed;
    for (const raw of batch.messages) {
      if (!keepGoing()) return;
      const message = toIncoming(batch.topic, batch.partition, raw);
      // A slow handler must not cost the partition: keep the group membership alive while it runs.
      const keepAlive = setInterval(() => {
        heartbeat().catch(() => undefined);
      }, this.settings.heartbeatIntervalMs);
      let outcome;
      try {
        outcome = await deliverWithRetries({
          message,
          options: this.options,
          signal: this.handlerController.signal,
          stopSignal: this.stopController.signal,
          keepGoing,
          logger,
        });
        if (this.crashed || outcome.kind === 'interrupted') return;
        if (
          outcome.kind === 'failed' &&
          !(await this.deadLetter(message, outcome.error, outcome.attempts, keepGoing))
        ) {
          return;
        }
      } finally {
        clearInterval(keepAlive);
      }
      if (this.crashed) return;
      try {
        await commitOffsetsIfNecessary({
          topics: [
            {
              topic: batch.topic,
              partitions: [{ partition: batch.partition, offset: String(BigInt(raw.offset) + 1n) }],
            },
          ],
        });
      } catch (err) {
        // Typically a rebalance took the partition: its next owner gets this message again.
        logger.warn(
          { err, group, topic: batch.topic, partition: batch.partition, offset: raw.offset },
          'offset commit failed; the message will be delivered again',
        );
        return;
      }
      resolveOffset(raw.offset);
      try {
        await heartbeat();
      } catch {
        return;
      }
    }
  }

  /** Publishes the dead letter, retrying while the subscription lives; false when it gave up (not committed). */
  private async deadLetter(
    message: Omit<IncomingMessage, 'attempt'>,
    error: string,
    attempts: number,
    keepGoing: () => boolean,
  ): Promise<boolean> {
    const { group } = this.options;
    const { logger } = this.settings;
    for (let failure = 0; ; failure++) {
      try {
        const producer = await this.producer();
        await producer.send({
          topic: deadLetterTopic(message.topic),
          acks: -1,
          messages: [
            {
              key: message.key,
              value: toBuffer(message.value),
              headers: deadLetterHeaders({ ...message, attempt: attempts }, group, error, attempts),
            },
          ],
        });
        logger.warn(
          { topic: message.topic, partition: message.partition, offset: message.offset, group, error },
          'event dead-lettered after its last attempt',
        );
        return true;
      } catch (err) {
        logger.warn({ err, topic: message.topic, group }, 'publishing a dead letter failed; retrying');
        if (!keepGoing()) return false;
        await sleep(Math.min(1_000 * 2 ** failure, 30_000), this.stopController.signal);
        if (!keepGoing()) return false;
      }
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.drain();
    return this.stopped;
  }

  private async drain(): Promise<void> {
    this.stopController.abort();
    const timer = setTimeout(() => this.handlerController.abort(), this.settings.drainTimeoutMs);
    try {
      // kafkajs stops fetching, waits for the running batches (which end after their current message and its
      // commit), leaves the group and disconnects.
      await this.consumer?.disconnect();
    } catch (err) {
      this.settings.logger.warn(
        { err, group: this.options.group },
        'Kafka consumer did not disconnect cleanly',
      );
    } finally {
      clearTimeout(timer);
      this.onDone();
    }
  }

  crash(): Promise<void> {
    this.crashed = true;
    this.handlerController.abort();
    return this.stop();
  }
}
