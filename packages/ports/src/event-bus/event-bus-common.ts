// Pieces both event-bus adapters share, so that retries, dead-lettering and validation behave identically
// whichever adapter runs.
import { invalidArgument } from '../errors.js';
import type { DeadLetter, IncomingMessage, OutgoingMessage, SubscribeOptions } from './event-bus.port.js';

/** The subset of a pino logger the adapters use; a service passes its own logger. */
export interface EventBusLogger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export const silentLogger: EventBusLogger = { warn: () => undefined };

/** Headers a dead letter carries on top of the original message's own headers. */
export const DLQ_HEADERS = {
  error: 'x-dlq-error',
  originalTopic: 'x-dlq-original-topic',
  originalPartition: 'x-dlq-original-partition',
  originalOffset: 'x-dlq-original-offset',
  originalTimestamp: 'x-dlq-original-timestamp',
  group: 'x-dlq-group',
  attempts: 'x-dlq-attempts',
} as const;

const DLQ_PREFIX = 'x-dlq-';

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_BACKOFF_MS = 200;
// A handler that keeps failing should not stall its partition for minutes between attempts.
const MAX_RETRY_DELAY_MS = 30_000;
// Kafka header values and SQLite rows have no hard limit, but a stack trace in every dead letter would be noise.
const MAX_ERROR_TEXT = 2_000;

// Kafka's legal topic characters; the embedded log keeps the same rule so names move between adapters.
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function validateTopic(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    throw invalidArgument(`invalid topic name ${JSON.stringify(topic)}: use 1-249 of [a-zA-Z0-9._-]`, [
      { field: 'topic', message: 'must match [a-zA-Z0-9._-]{1,249}' },
    ]);
  }
}

export function validateMessages(topic: string, messages: readonly OutgoingMessage[]): void {
  validateTopic(topic);
  messages.forEach((message, index) => {
    if (typeof message.key !== 'string' || message.key.length === 0) {
      throw invalidArgument(
        `message ${index} for ${topic} has no key: every event is keyed by its aggregate id`,
        [{ field: `messages[${index}].key`, message: 'must be a non-empty string' }],
      );
    }
    if (!(message.value instanceof Uint8Array)) {
      throw invalidArgument(`message ${index} for ${topic} has a value that is not bytes`, [
        { field: `messages[${index}].value`, message: 'must be a Uint8Array' },
      ]);
    }
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      if (typeof value !== 'string') {
        throw invalidArgument(`header ${name} of message ${index} for ${topic} is not a string`, [
          { field: `messages[${index}].headers.${name}`, message: 'must be a string' },
        ]);
      }
    }
  });
}

export function validateSubscribeOptions(options: SubscribeOptions): void {
  if (typeof options.group !== 'string' || options.group.length === 0) {
    throw invalidArgument('subscribe needs a consumer group (by convention the service name)', [
      { field: 'group', message: 'must be a non-empty string' },
    ]);
  }
  if (options.topics.length === 0) {
    throw invalidArgument('subscribe needs at least one topic', [
      { field: 'topics', message: 'must not be empty' },
    ]);
  }
  options.topics.forEach(validateTopic);
  if (
    options.maxAttempts !== undefined &&
    (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1)
  ) {
    throw invalidArgument('maxAttempts must be a positive integer', [
      { field: 'maxAttempts', message: 'must be an integer >= 1' },
    ]);
  }
  if (
    options.concurrency !== undefined &&
    (!Number.isInteger(options.concurrency) || options.concurrency < 1)
  ) {
    throw invalidArgument('concurrency must be a positive integer', [
      { field: 'concurrency', message: 'must be an integer >= 1' },
    ]);
  }
  if (options.retryBackoffMs !== undefined && !(options.retryBackoffMs >= 0)) {
    throw invalidArgument('retryBackoffMs must be >= 0', [
      { field: 'retryBackoffMs', message: 'must be >= 0' },
    ]);
  }
}

export function retryDelayMs(baseMs: number, failedAttempt: number): number {
  return Math.min(baseMs * 2 ** (failedAttempt - 1), MAX_RETRY_DELAY_MS);
}

export function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}

/** Resolves after `ms`, or early (without throwing) once `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function withoutDlqHeaders(headers: { [name: string]: string }): { [name: string]: string } {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(DLQ_PREFIX)));
}

export function deadLetterHeaders(
  message: IncomingMessage,
  group: string,
  error: string,
  attempts: number,
): { [name: string]: string } {
  return {
    ...withoutDlqHeaders(message.headers),
    [DLQ_HEADERS.error]: error,
    [DLQ_HEADERS.originalTopic]: message.topic,
    [DLQ_HEADERS.originalPartition]: String(message.partition),
    [DLQ_HEADERS.originalOffset]: message.offset,
    [DLQ_HEADERS.originalTimestamp]: String(message.timestamp),
    [DLQ_HEADERS.group]: group,
    [DLQ_HEADERS.attempts]: String(attempts),
  };
}

/** Reads a record of a `.dlq` topic back into the port's DeadLetter shape. */
export function toDeadLetter(record: IncomingMessage, topic: string): DeadLetter {
  const h = record.headers;
  return {
    message: record,
    originalTopic: h[DLQ_HEADERS.originalTopic] ?? topic,
    originalPartition: Number(h[DLQ_HEADERS.originalPartition] ?? -1),
    originalOffset: h[DLQ_HEADERS.originalOffset] ?? '',
    group: h[DLQ_HEADERS.group] ?? '',
    error: h[DLQ_HEADERS.error] ?? '',
  };
}

export type DeliveryOutcome =
  | { kind: 'processed' }
  | { kind: 'failed'; error: string; attempts: number }
  /** The subscription is going away: the message was neither processed nor given up on. */
  | { kind: 'interrupted' };

/**
 * Runs the handler with bounded retries and exponential backoff. Retries stop early when `keepGoing`
 * turns false (stop/crash), leaving the message uncommitted so the next consumer gets it again.
 */
export async function deliverWithRetries(params: {
  message: Omit<IncomingMessage, 'attempt'>;
  options: SubscribeOptions;
  /** Given to the handler; aborted when the subscription is torn down without waiting (crash, drain timeout). */
  signal: AbortSignal;
  /** Aborted when stop() begins: cuts a retry backoff short. */
  stopSignal: AbortSignal;
  keepGoing: () => boolean;
  logger: EventBusLogger;
}): Promise<DeliveryOutcome> {
  const { message, options, signal, stopSignal, keepGoing, logger } = params;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const backoff = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  let lastError = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      await options.handler({ ...message, attempt }, signal);
      return { kind: 'processed' };
    } catch (err) {
      lastError = errorText(err);
      logger.warn(
        {
          err,
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          group: options.group,
          attempt,
          maxAttempts,
        },
        'event handler failed',
      );
    }
    if (!keepGoing()) return { kind: 'interrupted' };
    if (attempt < maxAttempts) {
      await sleep(retryDelayMs(backoff, attempt), stopSignal);
      if (!keepGoing()) return { kind: 'interrupted' };
    }
  }
  return { kind: 'failed', error: lastError, attempts: maxAttempts };
}
