// The LLM backends (OpenAI-compatible, TGI, in-process llama.cpp), their pools and the model table, and how
// they are configured: `@llmtwin/llm/backends`, for composition roots and adapters. Domain code imports the
// port alone from `@llmtwin/llm`, which loads no model runtime.
export * from '../llm.port.js';
export { OpenAiBackend, type OpenAiBackendOptions } from './openai-backend.js';
export { TgiBackend, StopScanner, type TgiBackendOptions } from './tgi-backend.js';
export {
  LocalBackend,
  DEFAULT_LOCAL_MODEL,
  TINY_LOCAL_MODEL,
  PREPARED_LOCAL_MODELS,
  defaultLocalModelPath,
  tinyLocalModelPath,
  preparedModelPath,
  preparedLocalModel,
  type PreparedLocalModel,
  type LocalBackendOptions,
} from './local-backend.js';
export { chatTemplate, CHAT_TEMPLATES, type ChatTemplate, type ChatTemplateName } from './chat-template.js';
export {
  parseBackendSpecs,
  createBackend,
  BackendSpecError,
  type BackendSpec,
  type OpenAiBackendSpec,
  type TgiBackendSpec,
  type LocalBackendSpec,
  type ModelBackends,
  type ParseOptions,
  type CreateBackendOptions,
} from './backend-spec.js';
export { parseSse, streamEvents, statusKind, type SseEvent } from './sse.js';
export { ModelRouter, type ModelRouterOptions, type ModelInfo } from './model-router.js';
export {
  BackendPool,
  type BackendPoolOptions,
  type PoolListener,
  type BackendStatus,
  type PoolSnapshot,
} from './pool.js';
export { buildModelRouter, modelRouterFromSettings, type ModelSetup, type ModelSettings } from './setup.js';
export { llmSettingsShape } from './settings.js';
