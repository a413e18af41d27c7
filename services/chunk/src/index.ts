export { createChunkModule, type ChunkDeps } from './module.js';
export { configSchema as chunkConfigSchema } from './config.js';
export { policyChunker } from './policy-chunker.js';
export type { Chunker, ChunkInput, ChunkPiece, ChunkPolicyInfo, CategoryName } from './chunker.port.js';
