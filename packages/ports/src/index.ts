// Ports (interfaces in the domain's words) and their adapters: embedded (no server) and real (distributed).
export * from './warehouse/warehouse.port.js';
export { createWarehouse } from './warehouse/create-warehouse.js';
export * from './event-bus/event-bus.port.js';
export { createEventBus } from './event-bus/create-event-bus.js';
export { publishEvent, decodeEvent, eventHandler, EventDecodeError } from './event-bus/typed-events.js';
export { tracedEventBus } from './event-bus/traced-event-bus.js';
export * from './vector-store/vector-store.port.js';
export { createVectorStore } from './vector-store/create-vector-store.js';
