// The language model that writes instructions (and, for preference datasets, the rejected answers), as the
// dataset builder needs it: one completion, returned whole. The adapter (adapters/router-llm.ts) goes through
// the inference router's LLM port (a pool of backends per model id), so "a model" means what the router serves
// under that id: the JSON schema is enforced by the backend where it can be (OpenAI json_schema, TGI grammar,
// llama.cpp grammar) and the builder still validates what comes back.

export interface CompletionMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  messages: CompletionMessage[];
  maxTokens: number;
  temperature: number;
  jsonSchema?: Record<string, unknown>;
}

export interface GeneratorLlm {
  /** The model id it answers as. */
  readonly model: string;
  complete(request: CompletionRequest, signal?: AbortSignal): Promise<string>;
}

export interface GeneratorModels {
  /** The model served under `id`; throws a DomainError 'not-found' when there is none. */
  resolve(id: string): GeneratorLlm;
}
