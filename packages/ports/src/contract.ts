// The contract suites: one per port, run by the tests of every adapter.
export * from './warehouse/warehouse.contract.js';
export * from './event-bus/event-bus.contract.js';
export * from './vector-store/vector-store.contract.js';
export * from './artifact-store/artifact-store.contract.js';
