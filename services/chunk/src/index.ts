export { createChunkModule, type ChunkDeps } from './module.js';
export { configSchema as chunkConfigSchema } from './config.js';
