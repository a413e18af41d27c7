// How Kafka's records become the port's messages and back: one translation for subscriptions, reads and
// replays, so that headers, keys and offsets look the same whichever path delivered them.
import type { KafkaMessage } from 'kafkajs';
import type { IncomingMessage } from './event-bus.port.js';

function headerText(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  // Kafka allows a header name to repeat; the port has one value per name, so the last one wins.
  const last = Array.isArray(value) ? value.at(-1) : value;
  return last === undefined ? undefined : Buffer.isBuffer(last) ? last.toString('utf8') : last;
}

export function toIncoming(
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

export const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
