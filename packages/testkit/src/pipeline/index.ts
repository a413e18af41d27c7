// The feature pipeline for tests (`@llmtwin/testkit/pipeline`): the harness that composes the clean, chunk
// and embed modules it is given, and the FAKE embedder and chunker for tests that need no model.
export * from './pipeline-harness.js';
export { fakeEmbedder } from './fake-embedder.js';
export { fakeChunker } from './fake-chunker.js';
