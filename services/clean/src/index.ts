export { createCleanModule, type CleanDeps, type CleanModule } from './module.js';
export { configSchema as cleanConfigSchema } from './config.js';
