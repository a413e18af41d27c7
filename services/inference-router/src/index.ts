export {
  createInferenceRouterModule,
  embedSearch,
  type InferenceRouterDeps,
  type InferenceRouterModule,
} from './module.js';
export { configSchema as inferenceConfigSchema } from './config.js';
export { RagService, type RagRequest, type GenerationResult } from './domain/rag.js';
