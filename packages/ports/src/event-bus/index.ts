export * from './event-bus.port.js';
export { DLQ_HEADERS, type EventBusLogger } from './event-bus-common.js';
export { EmbeddedEventBus, type EmbeddedEventBusOptions, parseLogUrl } from './embedded-event-bus.js';
export { KafkaEventBus, type KafkaEventBusOptions, parseKafkaUrl } from './kafka-event-bus.js';
export { createEventBus, type CreateEventBusOptions, EVENT_BUS_URL_FORMS } from './create-event-bus.js';
export {
  publishEvent,
  decodeEvent,
  eventHandler,
  EventDecodeError,
  EVENT_TYPE_HEADER,
} from './typed-events.js';
