// Chooses the event-bus adapter from one explicit URL, as the composition root reads it from config.
import { invalidArgument } from '../errors.js';
import { EmbeddedEventBus, type EmbeddedEventBusOptions } from './embedded-event-bus.js';
import type { EventBusLogger } from './event-bus-common.js';
import type { EventBus } from './event-bus.port.js';
import { KafkaEventBus, type KafkaEventBusOptions } from './kafka-event-bus.js';

export interface CreateEventBusOptions {
  logger?: EventBusLogger;
  /** Partitions of topics the bus creates. Default 3. */
  partitions?: number;
  /** Settings only the Kafka adapter reads. */
  kafka?: Omit<KafkaEventBusOptions, 'brokers' | 'logger' | 'partitions'>;
  /** Settings only the embedded adapter reads. */
  embedded?: Omit<EmbeddedEventBusOptions, 'path' | 'logger' | 'partitions'>;
}

export const EVENT_BUS_URL_FORMS = ['kafka://host:port[,host:port...]', 'log:<path to .db file>'] as const;

/** Builds the adapter the URL names; anything else fails loudly instead of falling back. */
export function createEventBus(url: string, options: CreateEventBusOptions = {}): EventBus {
  const common = {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
  };
  if (typeof url === 'string' && url.startsWith('kafka://')) {
    return KafkaEventBus.fromUrl(url, { ...options.kafka, ...common });
  }
  if (typeof url === 'string' && url.startsWith('log:')) {
    return EmbeddedEventBus.fromUrl(url, { ...options.embedded, ...common });
  }
  throw invalidArgument(
    `unsupported event bus URL ${JSON.stringify(url)}: use one of ${EVENT_BUS_URL_FORMS.join(' or ')}`,
    [{ field: 'eventBusUrl', message: `must be ${EVENT_BUS_URL_FORMS.join(' or ')}` }],
  );
}
