// The models the router can call, as the RAG pipeline sees them: the adapters' ModelRouter (backend pools by
// model id) implements it, so the domain picks a backend without knowing how pools are built.
import type { LlmBackend } from '@llmtwin/llm';

export interface ModelInfo {
  id: string;
  backend: string;
  endpoints: string[];
  healthy: boolean;
}

/** The models the router can call: the backend pools by model id (adapters/llm/model-router.ts). */
export interface LlmResolver {
  /** The backend for `model`, or the default model's when empty; throws not-found for an unknown model. */
  resolve(model?: string): LlmBackend;
  models(): ModelInfo[];
  /** A model serving the checkpoint `baseModel` (the default first), if any: where an adapter of it applies. */
  forBase?(baseModel: string): LlmBackend | undefined;
  /** False when no model is configured at all (then the twin answers extractively). */
  hasModels(): boolean;
}
