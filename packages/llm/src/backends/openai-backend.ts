// The LLM port over an OpenAI-compatible Chat Completions endpoint (vLLM, TGI's Messages API, llama.cpp
// server, Ollama, hosted APIs). Always streams (stream: true with stream_options.include_usage, so the
// token counts arrive in a last, choice-less chunk). Errors become LlmErrors: nothing reached the caller
// yet and the server could not be reached, was overloaded or failed (429, 5xx) → 'unavailable' (another
// backend may succeed); the request itself was refused (4xx) → 'rejected'; no first event in time →
// 'timeout'; anything that breaks the stream after text reached the caller → 'interrupted'.
import {
  HttpStreamBackend,
  type HttpStreamBackendOptions,
  type StreamProgress,
} from './http-stream-backend.js';
import {
  LlmError,
  type ChatEvent,
  type ChatRequest,
  type LlmBackend,
  type LlmErrorKind,
  type LoraAdapter,
} from '../llm.port.js';
import { statusKind, type SseEvent } from './sse.js';

export interface OpenAiBackendOptions extends HttpStreamBackendOptions {
  /** Base URL including the version prefix, e.g. http://vllm:8000/v1 */
  baseUrl: string;
  /** The model name sent upstream (vLLM's --served-model-name). Default: `model`. */
  upstreamModel?: string;
  /** The model's context window, when known. Otherwise health() reads vLLM's max_model_len if offered. */
  contextTokens?: number;
  /** Path of the health check under baseUrl, or an absolute URL. Default '/models'. */
  healthPath?: string;
  /** Name of the response_format json_schema. Default 'response'. */
  jsonSchemaName?: string;
  /**
   * How a request's JSON schema is sent. 'json_schema' (default): `response_format: {type: 'json_schema',
   * json_schema: {name, schema, strict}}`, the OpenAI and vLLM form. 'json_object': `response_format:
   * {type: 'json_object', schema}`, the form of llama.cpp's server and llama-cpp-python (0.3.16 answers the
   * json_schema form with a 500).
   */
  jsonMode?: 'json_schema' | 'json_object';
  /** Ask for the usage chunk. Default true; turn off for servers that reject stream_options. */
  includeUsage?: boolean;
  /**
   * The folder on the vLLM server under which LoRA adapters lie, one PEFT folder per adapter name
   * (`<loraRoot>/<adapter name>`). Set, a request with an adapter first loads it at runtime (POST
   * /v1/load_lora_adapter, vLLM started with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True) and is
   * then sent with model = the adapter's name; unset, the server must already serve the adapter under its
   * name (--lora-modules name=path), and the request simply asks for it.
   */
  loraRoot?: string;
}

interface ChunkChoice {
  index?: number;
  delta?: { content?: unknown };
  finish_reason?: unknown;
}

interface Chunk {
  choices?: ChunkChoice[] | null;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  error?: { message?: unknown; code?: unknown; type?: unknown } | string;
}

export class OpenAiBackend extends HttpStreamBackend<OpenAiBackendOptions> implements LlmBackend {
  readonly kind = 'openai' as const;
  /** Adapter id → its load on the server (name and promise), so that each is loaded once per backend. */
  private readonly loras = new Map<string, { name: string; loaded: Promise<void> }>();

  async *chat(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatEvent> {
    if (request.adapter && this.opts.loraRoot !== undefined) await this.loadLora(request.adapter, signal);
    const body: Record<string, unknown> = {
      model: request.adapter?.name ?? this.opts.upstreamModel ?? this.model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      max_tokens: request.maxTokens,
      stream: true,
    };
    if (this.opts.includeUsage !== false) body.stream_options = { include_usage: true };
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.topP !== undefined) body.top_p = request.topP;
    if (request.stop && request.stop.length > 0) body.stop = request.stop;
    // frequency/presence are OpenAI's own; repetition_penalty (vLLM, llama.cpp, TGI's Messages API) and
    // dry_multiplier (llama.cpp server) are extensions, sent only when set so hosted APIs never see them.
    const p = request.penalties;
    if (p?.frequency !== undefined) body.frequency_penalty = p.frequency;
    if (p?.presence !== undefined) body.presence_penalty = p.presence;
    if (p?.repeat !== undefined) body.repetition_penalty = p.repeat;
    if (p?.dry !== undefined) body.dry_multiplier = p.dry;
    if (request.jsonSchema) {
      body.response_format =
        this.opts.jsonMode === 'json_object'
          ? { type: 'json_object', schema: request.jsonSchema }
          : {
              type: 'json_schema',
              json_schema: {
                name: this.opts.jsonSchemaName ?? 'response',
                schema: request.jsonSchema,
                strict: true,
              },
            };
    }
    yield* this.stream('/chat/completions', body, signal, (events, progress) =>
      this.decode(events, progress),
    );
  }

  private async *decode(
    events: AsyncIterable<SseEvent>,
    progress: StreamProgress,
  ): AsyncGenerator<ChatEvent> {
    let finish: string | undefined;
    let done = false;
    let promptTokens: number | undefined;
    let completionTokens: number | undefined;
    for await (const ev of events) {
      if (ev.data === '[DONE]') {
        done = true;
        break;
      }
      const chunk = this.parseEvent<Chunk>(ev, progress);
      if (chunk.error) throw this.streamError(chunk.error, progress.emitted);
      if (chunk.usage) {
        if (typeof chunk.usage.prompt_tokens === 'number') promptTokens = chunk.usage.prompt_tokens;
        if (typeof chunk.usage.completion_tokens === 'number')
          completionTokens = chunk.usage.completion_tokens;
      }
      for (const choice of chunk.choices ?? []) {
        if ((choice.index ?? 0) !== 0) continue;
        const text = choice.delta?.content;
        if (typeof text === 'string' && text !== '') yield { type: 'delta', text };
        if (typeof choice.finish_reason === 'string') finish = choice.finish_reason;
      }
    }
    if (finish === undefined) {
      if (!done) return;
      // llama-cpp-python ends a stream this way when another request (a health check's GET /v1/models
      // too) arrives while --interrupt_requests is on, its default: an answer cut short, not a whole one.
      throw new LlmError(
        progress.emitted ? 'interrupted' : 'unavailable',
        `${this.endpoint}: the stream ended ([DONE]) without a finish reason: the server cut the answer short`,
      );
    }
    const end: ChatEvent = { type: 'end', finishReason: finish === 'length' ? 'length' : 'stop' };
    if (promptTokens !== undefined) end.promptTokens = promptTokens;
    if (completionTokens !== undefined) end.completionTokens = completionTokens;
    yield end;
  }

  /** An error object sent inside the stream (vLLM does this when generation fails after the headers). */
  private streamError(error: NonNullable<Chunk['error']>, emitted: boolean): LlmError {
    const message = typeof error === 'string' ? error : String(error.message ?? 'error');
    if (emitted)
      return new LlmError('interrupted', `${this.endpoint}: the stream reported an error: ${message}`);
    const code = typeof error === 'object' ? Number(error.code) : NaN;
    const kind: LlmErrorKind = Number.isInteger(code) && code >= 400 ? statusKind(code) : 'unavailable';
    return new LlmError(kind, `${this.endpoint}: ${message}`);
  }

  /** Loads the adapter into vLLM once; a failed load is tried again by the next request. */
  private async loadLora(adapter: LoraAdapter, signal?: AbortSignal): Promise<void> {
    let entry = this.loras.get(adapter.id);
    if (!entry) {
      const loraPath = `${this.opts.loraRoot!.replace(/\/+$/, '')}/${adapter.name}`;
      const loaded: Promise<void> = this.post('/load_lora_adapter', {
        lora_name: adapter.name,
        lora_path: loraPath,
      }).then(
        () => undefined,
        (err: unknown) => {
          // vLLM answers 400 "already been loaded" when another router replica (or our last life) loaded it.
          if (err instanceof LlmError && /already been loaded/i.test(err.message)) return;
          if (this.loras.get(adapter.id)?.loaded === loaded) this.loras.delete(adapter.id);
          throw err;
        },
      );
      entry = { name: adapter.name, loaded };
      this.loras.set(adapter.id, entry);
    }
    const loaded = entry.loaded;
    if (!signal) return loaded;
    signal.throwIfAborted();
    await Promise.race([
      loaded,
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      ),
    ]);
  }

  /** Unloads an adapter this backend loaded (POST /v1/unload_lora_adapter). */
  async releaseAdapter(adapterId: string): Promise<void> {
    const entry = this.loras.get(adapterId);
    if (!entry) return;
    this.loras.delete(adapterId);
    const loaded = await entry.loaded.then(
      () => true,
      () => false,
    );
    if (loaded) await this.post('/unload_lora_adapter', { lora_name: entry.name });
  }

  async health(signal?: AbortSignal): Promise<void> {
    const path = this.opts.healthPath ?? '/models';
    const url = /^https?:\/\//.test(path)
      ? path
      : `${this.endpoint}${path.startsWith('/') ? '' : '/'}${path}`;
    this.learnContext(await this.get(url, signal));
  }

  /** vLLM lists max_model_len on its model cards; use it when no context size was configured. */
  private learnContext(text: string): void {
    if (this.opts.contextTokens !== undefined) return;
    try {
      const list = JSON.parse(text) as { data?: { id?: unknown; max_model_len?: unknown }[] };
      const upstream = this.opts.upstreamModel ?? this.model;
      const card = list.data?.find((m) => m.id === upstream);
      if (card && typeof card.max_model_len === 'number') this.discoveredContext = card.max_model_len;
    } catch {
      // a health path that does not return the model list
    }
  }
}
