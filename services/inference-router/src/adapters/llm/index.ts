// The LLM adapters and their configuration; the port itself is in llm.port.ts.
export * from '../../domain/llm.port.js';
export { OpenAiBackend, type OpenAiBackendOptions } from './openai-backend.js';
export { TgiBackend, StopScanner, type TgiBackendOptions } from './tgi-backend.js';
export {
  LocalBackend,
  DEFAULT_LOCAL_MODEL,
  defaultLocalModelPath,
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
