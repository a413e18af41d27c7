// Choosing an adapter by URL, for composition roots (main.ts, the embedded twin, tests): this entry loads
// every driver. Domain code imports `@llmtwin/ports` instead.
export { createWarehouse } from './warehouse/create-warehouse.js';
export { createEventBus } from './event-bus/create-event-bus.js';
export { tracedEventBus } from './event-bus/traced-event-bus.js';
export { createVectorStore } from './vector-store/create-vector-store.js';
export { createArtifactStore } from './artifact-store/create-artifact-store.js';
export {
  createEmbedder,
  embedderSettingsFromEnv,
  type EmbedderSettings,
} from './embedder/create-embedder.js';
