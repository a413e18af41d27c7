export {
  createInferenceRouterModule,
  embedSearch,
  routerOptionsFromSettings,
  type RouterSettings,
  type InferenceRouterDeps,
  type InferenceRouterModule,
} from './module.js';
export { configSchema as inferenceConfigSchema } from './config.js';
export { RagService, type RagRequest, type GenerationResult } from './domain/rag.js';
export { modelRouterFromSettings, buildModelRouter, type ModelSettings } from '@llmtwin/llm/backends';
export { defaultLocalModelPath, tinyLocalModelPath } from '@llmtwin/llm/backends';
export { OnnxReranker, type Reranker } from './adapters/onnx-reranker.js';
// The repetition guard's detector and the citation reader, for benchmarks and tests of answers.
export { citedSources, repeatsSpan, DEFAULT_REPEAT_SPAN_WORDS } from './domain/repetition.js';
