// One consumer-group subscription on Kafka: messages of a partition one at a time, each committed only after
// its handler (or its dead-lettering) completed, heartbeats kept while a slow handler runs, and a stop that
// drains before it leaves the group. The bus only opens and closes these.
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { type EventBusLogger, deadLetterHeaders, deliverWithRetries, sleep } from './event-bus-common.js';
import {
  type IncomingMessage,
  type SubscribeOptions,
  type Subscription,
  deadLetterTopic,
} from './event-bus.port.js';
import { toBuffer, toIncoming } from './kafka-records.js';

export interface KafkaSubscriptionSettings {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  /** stop() aborts the handlers' signal after this long. */
  drainTimeoutMs: number;
  /** Partitions of each topic, for the default concurrency. */
  partitions: number;
  partitionsConsumedConcurrently: number | undefined;
  logger: EventBusLogger;
}

export class KafkaSubscription implements Subscription {
  private readonly stopController = new AbortController();
  private readonly handlerController = new AbortController();
  private consumer: Consumer | undefined;
  private crashed = false;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: KafkaSubscriptionSettings,
    /** The bus's shared producer, for dead letters. */
    private readonly producer: () => Promise<Producer>,
    private readonly options: SubscribeOptions,
    private readonly onDone: () => void,
  ) {}

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
