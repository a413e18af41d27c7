export { createEmbedModule, type EmbedDeps, type EmbedModule } from './module.js';
export { configSchema as embedConfigSchema, DEFAULT_EMBEDDER_URL, embedderAdapterOf } from './config.js';
export { LIVE_ALIAS } from './domain/collections.js';
