// The event bus: durable topics of keyed messages with at-least-once delivery to consumer groups.
// Implemented by Kafka (kafkajs) and by an embedded durable log that survives a restart.
//
// Semantics every adapter guarantees (the contract suite checks them):
// - publish() resolves only once the messages are durable (Kafka: acks=all on an idempotent producer).
// - Messages with the same key keep their order for a consumer group.
// - A consumer group's position advances only after its handler returned for a message (offsets are
//   committed after processing), so a crash re-delivers what was not finished: handlers must be idempotent.
// - A handler that throws is retried (bounded, with backoff); after the last attempt the message goes to the
//   dead-letter topic `<topic>.dlq` with the error in its headers, and the group moves on.
// - W3C trace context travels in the `traceparent`/`tracestate` headers.

export interface OutgoingMessage {
  /** Aggregate id (e.g. document id): messages with one key stay in order. */
  key: string;
  value: Uint8Array;
  headers?: { [name: string]: string };
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  /** Position in the partition, as a decimal string (Kafka offsets exceed 2^53 in theory). */
  offset: string;
  key: string;
  value: Uint8Array;
  headers: { [name: string]: string };
  /** Publish time, epoch ms. */
  timestamp: number;
  /** 1 for the first delivery attempt within this process. */
  attempt: number;
}

export interface SubscribeOptions {
  /** Consumer group; by convention the service's name. */
  group: string;
  topics: readonly string[];
  /** Where a group with no committed position starts. Default: 'earliest'. */
  from?: 'earliest' | 'latest';
  handler: (message: IncomingMessage, signal: AbortSignal) => Promise<void>;
  /** Attempts per message before it is dead-lettered. Default 5. */
  maxAttempts?: number;
  /** First retry delay in ms, doubling per attempt. Default 200. */
  retryBackoffMs?: number;
  /**
   * Messages of one partition the handler may work on at once, never two with the same key: each key's
   * messages still run one after another in order, while other keys' run beside them. The position still
   * advances only past messages whose handler returned (or that were dead-lettered), so a crash re-delivers
   * everything from the oldest unfinished one, finished or not. Default 1 (strictly one at a time). The
   * embedded adapter honours it; the Kafka adapter runs its partitions concurrently but each one message at a
   * time, and ignores it.
   */
  concurrency?: number;
}

export interface Subscription {
  /** Stops fetching, waits for in-flight handlers to finish and commits their positions. */
  stop(): Promise<void>;
}

export interface DeadLetter {
  message: IncomingMessage;
  originalTopic: string;
  originalPartition: number;
  originalOffset: string;
  group: string;
  error: string;
}

export interface EventBus {
  /** 'embedded' or 'kafka'. */
  readonly adapter: string;
  /** Creates topics if missing (idempotent). */
  ensureTopics(topics: readonly string[]): Promise<void>;
  publish(topic: string, messages: readonly OutgoingMessage[], signal?: AbortSignal): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Reads a topic from the start without a group (tools, tests, replay). */
  read(topic: string, options?: { limit?: number; signal?: AbortSignal }): Promise<IncomingMessage[]>;
  /** Dead letters of a topic, oldest first. */
  deadLetters(topic: string, options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Publishes dead letters of `topic` back onto it; returns how many. */
  replayDeadLetters(topic: string, options?: { group?: string }): Promise<number>;
  /** Messages published to `topic` that `group` has not yet committed. */
  lag(group: string, topic: string): Promise<number>;
  ping(signal?: AbortSignal): Promise<void>;
  version(): Promise<string>;
  close(): Promise<void>;
}

export const deadLetterTopic = (topic: string): string => `${topic}.dlq`;
