// Reading a fixed stretch of a topic (read(), dead-letter replays): unlike a subscription it ends, at the high
// watermarks captured when it started, and it has to bend a consumer group to do so.
import type { EachBatchPayload, Kafka } from 'kafkajs';
import { DomainError } from '../errors.js';
import type { IncomingMessage } from './event-bus.port.js';
import { toIncoming } from './kafka-records.js';

export interface Range {
  /** First offset to take. */
  start: bigint;
  /** High watermark captured at call time: stop before it. */
  end: bigint;
}

export interface KafkaRangeReaderSettings {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  /** The whole read gives up after this long. */
  readTimeoutMs: number;
}

/** `work`, or a rejection once `ms` passed or `signal` aborted (the work itself is not stopped). */
export function abortable<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
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

export class KafkaRangeReader {
  constructor(
    private readonly kafka: Kafka,
    private readonly settings: KafkaRangeReaderSettings,
  ) {}

  /**
   * Consumes `topic` as `groupId` over the given ranges and returns once every range is done. kafkajs has no
   * group-less assign(), so a group it is: a throwaway one for read(), the replay group for replays.
   */
  async consume(
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
}
