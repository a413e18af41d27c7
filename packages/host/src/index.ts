export * from './service-module.js';
export * from './adapters.js';
export * from './directory.js';
export * from './host.js';
export * from './pagination.js';
export { runModuleMain, directoryFromEnv, type ModuleMainSpec } from './main.js';
export * from './outbox-sweeper.js';
