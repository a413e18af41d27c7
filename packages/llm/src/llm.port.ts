// The LLM port: one chat-completion call, streamed. Adapters: an OpenAI-compatible Chat Completions endpoint
// (vLLM, TGI's Messages API, llama.cpp server, Ollama, hosted APIs), TGI's native generate_stream, and a GGUF
// model in this process (node-llama-cpp). A pool of backends per model (pool.ts) implements the same port.

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  /** Upper bound on generated tokens. */
  maxTokens: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  /**
   * Constrain the output to JSON matching this schema (self-query). Backends enforce it natively where they
   * can (OpenAI response_format json_schema, TGI grammar, a llama.cpp grammar); callers still validate.
   */
  jsonSchema?: Record<string, unknown>;
  /**
   * Answer with this LoRA adapter over the backend's base model (an author's fine-tuned twin). Each backend
   * applies it in its own way: in process, a context with the GGUF file loaded; vLLM, a LoRA loaded at
   * runtime and asked for by name; TGI, the `adapter_id` parameter.
   */
  adapter?: LoraAdapter;
  /**
   * Penalties against repeating (answers only; JSON output repeats braces by design). Each backend applies
   * what it supports and leaves the rest out; unset fields keep the backend's own default.
   */
  penalties?: DecodingPenalties;
}

/** Decoding penalties that keep a small model from looping; unset = the backend's default. */
export interface DecodingPenalties {
  /** Multiplicative penalty on recently generated tokens (1 = off): llama.cpp, vLLM, TGI repetition_penalty. */
  repeat?: number;
  /** OpenAI-style additive penalties, per occurrence and once per token seen (0 = off). */
  frequency?: number;
  presence?: number;
  /** DRY ("don't repeat yourself") multiplier (0 = off): in process and llama.cpp servers only. */
  dry?: number;
}

/** A LoRA adapter a request is answered with. */
export interface LoraAdapter {
  /** The registry model version id: keys the backends' caches (one context, one loaded LoRA per id). */
  id: string;
  /** What a GPU server knows it as: vLLM's lora_name (and the folder under its LoRA root), TGI's adapter_id. */
  name: string;
  /** The GGUF LoRA file on this machine, for the in-process backend (fetched and checked by the caller). */
  path?: string;
  /** How strongly the adapter applies. Default 1. */
  scale?: number;
}

/** Emitted by `chat`: text pieces in order, then exactly one `end` when the backend finished normally. */
export type ChatEvent =
  | { type: 'delta'; text: string }
  | {
      type: 'end';
      finishReason: 'stop' | 'length';
      /** Token counts as the backend reported them; undefined when it did not. */
      promptTokens?: number;
      completionTokens?: number;
    };

export type BackendKind = 'openai' | 'tgi' | 'local';

export interface LlmBackend {
  /** The model id clients ask for (ListModels, GenerationOptions.model). */
  readonly model: string;
  readonly kind: BackendKind;
  /** Where it runs: a base URL, or the model file for an in-process model. */
  readonly endpoint: string;
  /** The model's context window in tokens, when known (bounds the retrieved context). */
  readonly contextTokens?: number;
  /**
   * The checkpoint it serves (a Hugging Face id such as Qwen/Qwen2.5-Coder-0.5B-Instruct), when known: an
   * author's adapter applies only to the base it was trained on. Unknown = not checked.
   */
  readonly baseModel?: string;
  /**
   * Streams one completion. Errors are thrown as LlmError so that the pool can tell a connection failure
   * (safe to retry on another backend before any token was streamed) from a rejected request.
   */
  chat(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatEvent>;
  /**
   * Forgets an adapter that will not be asked for again (its version left production): disposes its
   * in-process context, or unloads it from a vLLM server. Optional: backends that hold nothing per adapter
   * leave it out.
   */
  releaseAdapter?(adapterId: string): Promise<void>;
  /** Active health check: resolves when the backend can serve, throws otherwise. */
  health(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export type LlmErrorKind =
  /** Could not connect, connection reset, 502/503/504, 429: another backend may succeed. */
  | 'unavailable'
  /** The backend did not answer in time. */
  | 'timeout'
  /** The backend refused the request itself (4xx other than 429): retrying elsewhere will not help. */
  | 'rejected'
  /** The stream broke after it started. */
  | 'interrupted';

export class LlmError extends Error {
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LlmError';
  }
}

export const isRetryable = (err: unknown): boolean =>
  err instanceof LlmError && (err.kind === 'unavailable' || err.kind === 'timeout');
