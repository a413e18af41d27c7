export { createEmbedModule, type EmbedDeps } from './module.js';
export { configSchema as embedConfigSchema } from './config.js';
