export { createCleanModule, type CleanDeps } from './module.js';
export { configSchema as cleanConfigSchema } from './config.js';
