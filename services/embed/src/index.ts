export { createEmbedModule, type EmbedDeps, type EmbedModule } from './module.js';
export { configSchema as embedConfigSchema, DEFAULT_EMBEDDER_URL, embedderAdapterOf } from './config.js';
export { createEmbedder, embedderSettingsFromEnv } from './embedder/create-embedder.js';
export type { Embedder } from './embedder/embedder.port.js';
export { LIVE_ALIAS } from './domain/collections.js';
