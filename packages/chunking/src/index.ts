// Chunking shared by the chunk service (which chunks every cleaned document) and the embed service (which
// re-chunks during a reindex): the Chunker port, the per-category policies and the token-aware splitter.
export { policyChunker } from './policy-chunker.js';
export type { Chunker, ChunkInput, ChunkPiece, ChunkPolicyInfo, CategoryName } from './chunker.port.js';
export { chunkDocument, defaultPolicy } from './chunker.js';
