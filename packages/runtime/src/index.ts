// The service runtime kit: configuration, logging, telemetry, errors, health, reflection, the server and
// the process lifecycle. Every service's main.ts is built from these.
export * from './errors.js';
export * from './config.js';
export * from './logger.js';
export * from './telemetry.js';
export * from './semconv.js';
export * from './tracing.interceptor.js';
export * from './kafka-trace.js';
export * from './connect-errors.js';
export * from './health.js';
export * from './reflection.js';
export * from './server.js';
export * from './direct-transport.js';
export * from './refused-stream-retry.js';
export * from './lifecycle.js';
