// Protobuf events over the bus (@bufbuild/protobuf v2): one message type per topic, binary encoded.
import {
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
  create,
  fromBinary,
  toBinary,
} from '@bufbuild/protobuf';
import type { EventBus, IncomingMessage } from './event-bus.port.js';

/** Names the message type, so a consumer can tell a wrong-topic event from corrupt bytes. */
export const EVENT_TYPE_HEADER = 'x-event-type';

/** Thrown for bytes that are not the expected event; the message then retries and ends in the DLQ. */
export class EventDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventDecodeError';
  }
}

export async function publishEvent<Desc extends DescMessage>(
  bus: EventBus,
  topic: string,
  schema: Desc,
  key: string,
  message: MessageInitShape<Desc>,
  headers?: { [name: string]: string },
  signal?: AbortSignal,
): Promise<void> {
  const value = toBinary(schema, create(schema, message));
  await bus.publish(
    topic,
    [{ key, value, headers: { ...headers, [EVENT_TYPE_HEADER]: schema.typeName } }],
    signal,
  );
}

export function decodeEvent<Desc extends DescMessage>(
  schema: Desc,
  incoming: Pick<IncomingMessage, 'topic' | 'partition' | 'offset' | 'value' | 'headers'>,
): MessageShape<Desc> {
  const where = `${incoming.topic}[${incoming.partition}]@${incoming.offset}`;
  const declared = incoming.headers[EVENT_TYPE_HEADER];
  if (declared !== undefined && declared !== schema.typeName) {
    throw new EventDecodeError(`event at ${where} is a ${declared}, expected ${schema.typeName}`);
  }
  try {
    return fromBinary(schema, incoming.value);
  } catch (err) {
    throw new EventDecodeError(
      `event at ${where} is not a valid ${schema.typeName} (${incoming.value.byteLength} bytes): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Wraps a typed handler as a bus handler: decode, then handle; a decode failure takes the normal retry path. */
export function eventHandler<Desc extends DescMessage>(
  schema: Desc,
  handle: (event: MessageShape<Desc>, message: IncomingMessage, signal: AbortSignal) => Promise<void>,
): (message: IncomingMessage, signal: AbortSignal) => Promise<void> {
  return (message, signal) => handle(decodeEvent(schema, message), message, signal);
}
