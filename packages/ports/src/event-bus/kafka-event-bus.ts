// The Kafka event bus (kafkajs 2.2.4). Delivery semantics match the embedded log: an idempotent producer with
// acks=all and one request in flight (so a retried send cannot reorder a key's messages); consumers with
// auto-commit off that process each partition's messages one at a time, commit a message only after its handler
// (or its dead-lettering) completed, and run partitions in parallel. This file is the bus itself (topics,
// publishing, reads, dead letters, lag); a subscription's consumer lives in kafka-subscription.ts, reading a
// stretch of a topic in kafka-range-reader.ts.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import type { Admin, Kafka, LogEntry, Producer, logLevel as KafkaLogLevel } from 'kafkajs';
import { DomainError, failedPrecondition, invalidArgument, notFound, unavailable } from '../errors.js';
import {
  type EventBusLogger,
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
import { KafkaRangeReader, abortable } from './kafka-range-reader.js';
import { toBuffer } from './kafka-records.js';
import { KafkaSubscription } from './kafka-subscription.js';

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

/** How long ensureTopics waits for topics created concurrently by another client to get their leaders. */
const ENSURE_TOPICS_SETTLE_MS = 30_000;

function isKafkaErrorType(err: unknown, type: string): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { type?: string }).type === type) return true;
  }
  return false;
}

export class KafkaEventBus implements EventBus {
  readonly adapter = 'kafka';
  readonly brokers: readonly string[];
  private readonly kafka: Kafka;
  private readonly ranges: KafkaRangeReader;
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
    this.ranges = new KafkaRangeReader(this.kafka, this.settings);
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
    // When several services start together they create the same topics at once; the broker can then answer
    // metadata for a topic another client just created before its partitions have leaders
    // (UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE). That settles within seconds, so such answers are
    // retried with a short backoff for up to ENSURE_TOPICS_SETTLE_MS before they count as failures.
    const deadline = Date.now() + ENSURE_TOPICS_SETTLE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.createMissingTopics(topics);
        return;
      } catch (err) {
        const settling =
          isKafkaErrorType(err, 'UNKNOWN_TOPIC_OR_PARTITION') ||
          isKafkaErrorType(err, 'LEADER_NOT_AVAILABLE');
        if (!settling || Date.now() >= deadline || this.closed) {
          this.fail(`ensureTopics(${topics.join(', ')})`, err);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }

  private async createMissingTopics(topics: readonly string[]): Promise<void> {
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
    const subscription = new KafkaSubscription(
      this.kafka,
      this.settings,
      () => this.producer(),
      options,
      () => this.subscriptions.delete(subscription),
    );
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
      await this.ranges.consume(
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
      await this.ranges.consume(
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
