// The ports: interfaces in the domain's words, their error kinds, the typed-event helpers and the outbox
// over them (outbox-store.ts). This entry loads no driver, so domain code may import it. Adapters are
// separate entries: `@llmtwin/ports/adapters` (the factories that pick an adapter by URL, for composition
// roots), one subpath per adapter (`@llmtwin/ports/warehouse/mongo`, …) and `@llmtwin/ports/contract`
// (the contract suites, for tests).
export * from './errors.js';
export * from './warehouse/warehouse.port.js';
export * from './event-bus/event-bus.port.js';
export { publishEvent, decodeEvent, eventHandler, EventDecodeError } from './event-bus/typed-events.js';
export * from './outbox-store.js';
export * from './vector-store/vector-store.port.js';
export * from './artifact-store/artifact-store.port.js';
export * from './embedder/embedder.port.js';
