// The LLM port over a GGUF model in this process (node-llama-cpp, CPU only): the embedded default, so the
// router answers with a real model and no server. One context holds a few sequences; each request takes
// one for its whole generation (a sequence's KV cache must not be shared by two generations) and later
// requests wait in a bounded queue. The chat template is the model's own, resolved from the GGUF by
// node-llama-cpp. The model loads lazily, once, on the first chat or health call.
//
// Per-author LoRA adapters share the one loaded base model: llama.cpp applies an adapter per context, so a
// request with an adapter gets a context of its own with the adapter's GGUF file loaded, created on first
// use and kept in a small LRU (a context costs its KV cache; the base weights are not copied). A context
// that is answering is never evicted; releaseAdapter() disposes one once its answers finish.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type {
  ChatHistoryItem,
  Llama,
  LlamaChat,
  LlamaContext,
  LlamaGrammar,
  LlamaModel,
} from 'node-llama-cpp';
import {
  LlmError,
  type ChatEvent,
  type ChatMessage,
  type ChatRequest,
  type DecodingPenalties,
  type LlmBackend,
  type LoraAdapter,
} from '../llm.port.js';

/**
 * The models `npm run models:prepare` puts in the cache (scripts/prepare-models.mjs), each at
 * `<cache>/models/<name>/<file>`; `local:<name>` names one, and `baseModel` is the checkpoint it is a
 * quantisation of (what an author's adapter must have been trained on to apply to it).
 */
export const PREPARED_LOCAL_MODELS = {
  'Qwen2.5-Coder-0.5B-Instruct': {
    file: 'Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf',
    baseModel: 'Qwen/Qwen2.5-Coder-0.5B-Instruct',
  },
  /** Opt-in (`npm run models:prepare -- --llm=Qwen2.5-Coder-1.5B-Instruct`): about 2 GB in process. */
  'Qwen2.5-Coder-1.5B-Instruct': {
    file: 'Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf',
    baseModel: 'Qwen/Qwen2.5-Coder-1.5B-Instruct',
  },
  'SmolLM2-135M-Instruct': {
    file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
  },
} as const;
export type PreparedLocalModel = keyof typeof PREPARED_LOCAL_MODELS;

/** `local:default`: the embedded twin's model, chosen on the qa benchmark (docs/models.md). */
export const DEFAULT_LOCAL_MODEL: PreparedLocalModel = 'Qwen2.5-Coder-0.5B-Instruct';
/** The smallest and fastest: tests, and the CPU training preset's base. */
export const TINY_LOCAL_MODEL: PreparedLocalModel = 'SmolLM2-135M-Instruct';

/** The prepared model a `local:` name means (case-insensitive), if it is one. */
export function preparedLocalModel(name: string): PreparedLocalModel | undefined {
  const lower = name.toLowerCase();
  return (Object.keys(PREPARED_LOCAL_MODELS) as PreparedLocalModel[]).find((n) => n.toLowerCase() === lower);
}

/** Where `npm run models:prepare` puts a prepared model's GGUF file. */
export function preparedModelPath(name: PreparedLocalModel, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.LLMTWIN_CACHE_DIR || join(homedir(), '.cache', 'llmtwin');
  return join(root, 'models', name, PREPARED_LOCAL_MODELS[name].file);
}

/** The default model's file (local:default). */
export function defaultLocalModelPath(env: NodeJS.ProcessEnv = process.env): string {
  return preparedModelPath(DEFAULT_LOCAL_MODEL, env);
}

/** The tiny model's file (SmolLM2-135M-Instruct, Q4_1). */
export function tinyLocalModelPath(env: NodeJS.ProcessEnv = process.env): string {
  return preparedModelPath(TINY_LOCAL_MODEL, env);
}

export interface LocalBackendOptions {
  model: string;
  modelPath: string;
  /** The checkpoint the file quantises (a Hugging Face id), when known: adapters must be trained on it. */
  baseModel?: string;
  /** CPU threads for evaluation. Default 2 (1 is steadier for tiny models on a shared machine). */
  threads?: number;
  /** Context window per sequence. Default: the model's training context, at most 4096. */
  contextSize?: number;
  /** Generations running at once, each on its own sequence. Default 1. */
  parallel?: number;
  /** Requests allowed to wait for a sequence; beyond that chat() fails with 'unavailable'. Default 32. */
  maxQueue?: number;
  /** Adapter contexts kept at once (least recently used idle ones are disposed first). Default 3. */
  maxAdapterContexts?: number;
}

interface Slot {
  chat: LlamaChat;
}

type Waiter = { resolve: (slot: Slot) => void; reject: (err: unknown) => void };

/** One context (the base model's, or one with an adapter) and the chat sequences it holds. */
class ContextSlots {
  private readonly free: Slot[] = [];
  private readonly waiting: Waiter[] = [];
  private busy = 0;
  private disposeWhenIdle = false;
  private disposed: Promise<void> | undefined;

  constructor(
    readonly context: LlamaContext,
    chats: LlamaChat[],
    private readonly describe: string,
    private readonly maxQueue: number,
  ) {
    this.free.push(...chats.map((chat) => ({ chat })));
  }

  get idle(): boolean {
    return this.busy === 0 && this.waiting.length === 0;
  }

  /** Whether the context was disposed (evicted or retired): take the adapter's context anew. */
  get gone(): boolean {
    return this.disposed !== undefined || this.disposeWhenIdle;
  }

  acquire(signal?: AbortSignal): Promise<Slot> {
    const slot = this.free.pop();
    if (slot) {
      this.busy++;
      return Promise.resolve(slot);
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(
        new LlmError('unavailable', `${this.describe}: busy, ${this.waiting.length} requests waiting`),
      );
    }
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (s: Slot) => {
          signal?.removeEventListener('abort', onAbort);
          this.busy++;
          resolve(s);
        },
        reject,
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(slot: Slot): void {
    this.busy--;
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
    if (this.disposeWhenIdle && this.idle) void this.dispose();
  }

  rejectWaiting(err: unknown): void {
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  /** Disposes the context now when idle, otherwise once its last answer finishes. */
  retire(): Promise<void> | undefined {
    if (this.idle) return this.dispose();
    this.disposeWhenIdle = true;
    return undefined;
  }

  dispose(): Promise<void> {
    return (this.disposed ??= this.context.dispose().catch(() => undefined));
  }
}

interface Loaded {
  model: LlamaModel;
  base: ContextSlots;
  llama: Llama;
}

// One native runtime per process: loading the bindings again for each backend gains nothing.
let sharedLlama: Promise<Llama> | undefined;
async function runtime(): Promise<Llama> {
  if (!sharedLlama) {
    sharedLlama = import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) =>
      // build 'never': a missing prebuilt binary must fail now, not start compiling llama.cpp.
      getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error }),
    );
    sharedLlama.catch(() => {
      sharedLlama = undefined;
    });
  }
  return sharedLlama;
}

/** A one-consumer queue that turns node-llama-cpp's callbacks into an async iterable. */
class EventQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private done = false;
  private error: { err: unknown } | undefined;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }
  end(): void {
    this.done = true;
    this.wake?.();
  }
  fail(err: unknown): void {
    this.error = { err };
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift()!;
        continue;
      }
      if (this.error) throw this.error.err;
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'assistant'
      ? { type: 'model', response: [m.content] }
      : m.role === 'system'
        ? { type: 'system', text: m.content }
        : { type: 'user', text: m.content },
  );
  // An empty model turn at the end is where generation continues.
  history.push({ type: 'model', response: [] });
  return history;
}

export class LocalBackend implements LlmBackend {
  readonly kind = 'local' as const;
  readonly model: string;
  readonly endpoint: string;
  private loading: Promise<Loaded> | undefined;
  private loaded: Loaded | undefined;
  /** Adapter id → its context, least recently used first (a Map keeps insertion order; use re-inserts). */
  private readonly adapters = new Map<
    string,
    { path: string; slots: Promise<ContextSlots>; ready?: ContextSlots }
  >();
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private readonly running = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  private closed = false;

  constructor(private readonly opts: LocalBackendOptions) {
    this.model = opts.model;
    this.endpoint = opts.modelPath;
  }

  get baseModel(): string | undefined {
    return this.opts.baseModel;
  }

  /** The context window of each sequence, once the model is loaded. */
  get contextTokens(): number | undefined {
    return this.loaded?.base.context.contextSize;
  }

  private load(): Promise<Loaded> {
    if (this.closed)
      return Promise.reject(new LlmError('unavailable', `${this.endpoint}: the backend is closed`));
    if (!this.loading) {
      this.loading = this.doLoad();
      // A failed load is retried by the next call: the file may have been prepared in the meantime.
      this.loading.catch(() => {
        this.loading = undefined;
      });
    }
    return this.loading;
  }

  private async doLoad(): Promise<Loaded> {
    const path = this.opts.modelPath;
    if (!existsSync(path)) {
      throw new LlmError(
        'unavailable',
        `model file ${path} not found: run \`npm run models:prepare\` to prepare the models (${Object.keys(PREPARED_LOCAL_MODELS).join(', ')}), or point the local backend at an existing GGUF file`,
      );
    }
    try {
      const llama = await runtime();
      const { LlamaChat } = await import('node-llama-cpp');
      const model = await llama.loadModel({ modelPath: path });
      const base = await this.createSlots(model, LlamaChat, this.endpoint);
      const loaded = { model, base, llama };
      if (this.closed) {
        await model.dispose();
        throw new LlmError('unavailable', `${this.endpoint}: the backend was closed while loading`);
      }
      this.loaded = loaded;
      return loaded;
    } catch (err) {
      if (err instanceof LlmError) throw err;
      throw new LlmError('unavailable', `${path}: could not load the model: ${String(err)}`, { cause: err });
    }
  }

  private async createSlots(
    model: LlamaModel,
    LlamaChatClass: typeof LlamaChat,
    describe: string,
    adapterPath?: string,
  ): Promise<ContextSlots> {
    const parallel = Math.max(1, this.opts.parallel ?? 1);
    const context = await model.createContext({
      contextSize: this.opts.contextSize ?? Math.min(model.trainContextSize, 4096),
      sequences: parallel,
      threads: this.opts.threads ?? 2,
      ...(adapterPath ? { lora: { adapters: [{ filePath: adapterPath }] } } : {}),
    });
    const chats: LlamaChat[] = [];
    for (let i = 0; i < parallel; i++)
      chats.push(new LlamaChatClass({ contextSequence: context.getSequence() }));
    return new ContextSlots(context, chats, describe, this.opts.maxQueue ?? 32);
  }

  /** The context for a request: the base model's, or the adapter's (created on first use). */
  private async slotsFor(loaded: Loaded, adapter: LoraAdapter | undefined): Promise<ContextSlots> {
    if (!adapter) return loaded.base;
    if (!adapter.path) {
      throw new LlmError(
        'rejected',
        `${this.endpoint}: adapter ${adapter.id} has no GGUF file; an in-process model needs one`,
      );
    }
    const known = this.adapters.get(adapter.id);
    if (known && known.path === adapter.path) {
      // Most recently used goes last.
      this.adapters.delete(adapter.id);
      this.adapters.set(adapter.id, known);
      return known.slots;
    }
    if (known) void this.releaseAdapter(adapter.id);
    const { LlamaChat } = await import('node-llama-cpp');
    const path = adapter.path;
    const slots = this.createSlots(loaded.model, LlamaChat, `${this.endpoint}+${adapter.id}`, path).catch(
      (err: unknown) => {
        if (this.adapters.get(adapter.id)?.slots === slots) this.adapters.delete(adapter.id);
        // The file is there (the caller fetched it) but llama.cpp refuses it: wrong base model or not a LoRA.
        throw new LlmError(
          'rejected',
          `${this.endpoint}: could not apply adapter ${adapter.id} (${path}): ${String(err)}`,
          { cause: err },
        );
      },
    );
    const entry: { path: string; slots: Promise<ContextSlots>; ready?: ContextSlots } = { path, slots };
    this.adapters.set(adapter.id, entry);
    void slots.then(
      (ready) => (entry.ready = ready),
      () => undefined,
    );
    return slots;
  }

  /**
   * A sequence of the request's context. An adapter context can be evicted between being found and being
   * taken (another adapter's first request evicts idle ones); the request then takes the adapter anew.
   */
  private async slotFor(
    loaded: Loaded,
    adapter: LoraAdapter | undefined,
    signal?: AbortSignal,
  ): Promise<{ slots: ContextSlots; slot: Slot }> {
    for (let attempt = 0; ; attempt++) {
      const slots = await this.slotsFor(loaded, adapter);
      if (slots.gone && attempt < 2) continue;
      // Taken in the same turn as the check: from here the context is busy, so never evicted.
      const slot = await slots.acquire(signal);
      if (adapter) this.evictIdleAdapters();
      return { slots, slot };
    }
  }

  /**
   * Disposes the least recently used idle adapter contexts beyond the bound, at once. Contexts still being
   * created or answering stay; the bound is met again when they go idle (this runs after every answer).
   */
  private evictIdleAdapters(): void {
    const max = Math.max(1, this.opts.maxAdapterContexts ?? 3);
    for (const [id, entry] of [...this.adapters]) {
      if (this.adapters.size <= max) return;
      if (!entry.ready?.idle) continue;
      this.adapters.delete(id);
      void entry.ready.dispose();
    }
  }

  /** Disposes the adapter's context once its answers finish; a later request with it creates a new one. */
  async releaseAdapter(adapterId: string): Promise<void> {
    const entry = this.adapters.get(adapterId);
    if (!entry) return;
    this.adapters.delete(adapterId);
    const slots = await entry.slots.catch(() => undefined);
    await slots?.retire();
  }

  /** Adapter ids with a context now, least recently used first (for tests and diagnostics). */
  get adapterContexts(): string[] {
    return [...this.adapters.keys()];
  }

  private grammarFor(llama: Llama, schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      // node-llama-cpp supports a subset of JSON Schema; a schema outside it is the caller's to fix.
      grammar = llama.createGrammarForJsonSchema(schema as never).catch((err: unknown) => {
        this.grammars.delete(key);
        throw new LlmError('rejected', `the JSON schema cannot be turned into a grammar: ${String(err)}`, {
          cause: err,
        });
      });
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  async *chat(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatEvent> {
    const loaded = await this.load();
    const { model, llama } = loaded;
    if (signal?.aborted) throw signal.reason;
    const grammar = request.jsonSchema ? await this.grammarFor(llama, request.jsonSchema) : undefined;
    const { slots, slot } = await this.slotFor(loaded, request.adapter, signal);
    const context = slots.context;

    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const queue = new EventQueue<ChatEvent>();
    let emitted = false;
    let done: Promise<unknown> = Promise.resolve();
    const entry = { abort, done };
    try {
      const history = toHistory(request.messages);
      const promptTokens = slot.chat.chatWrapper
        .generateContextState({ chatHistory: history })
        .contextText.tokenize(model.tokenizer).length;
      const room = context.contextSize - promptTokens;
      if (room < 1) {
        throw new LlmError(
          'rejected',
          `the prompt has ${promptTokens} tokens; the context window is ${context.contextSize}`,
        );
      }
      let completionTokens = 0;
      done = slot.chat
        .generateResponse(history, {
          onTextChunk: (text) => {
            if (text === '') return;
            emitted = true;
            queue.push({ type: 'delta', text });
          },
          onToken: (tokens) => {
            completionTokens += tokens.length;
          },
          signal: abort.signal,
          stopOnAbortSignal: true,
          maxTokens: Math.min(request.maxTokens, room),
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request.topP !== undefined ? { topP: request.topP } : {}),
          ...(request.stop && request.stop.length > 0 ? { customStopTriggers: request.stop } : {}),
          // Small local models fall into broken-record loops without a repetition penalty; JSON output
          // (grammar) repeats quotes and braces by design, so it goes without.
          ...(grammar ? { grammar } : localPenalties(request.penalties)),
        })
        .then(
          (res) => {
            if (abort.signal.aborted) {
              // Stopped early by the caller's signal, or by close().
              queue.fail(signal?.aborted ? signal.reason : this.closedError(emitted));
              return;
            }
            queue.push({
              type: 'end',
              finishReason: res.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
              promptTokens,
              completionTokens,
            });
            queue.end();
          },
          (err: unknown) => {
            if (signal?.aborted) queue.fail(signal.reason);
            else if (this.closed) queue.fail(this.closedError(emitted));
            else {
              const kind = emitted ? 'interrupted' : 'unavailable';
              queue.fail(
                new LlmError(kind, `${this.endpoint}: generation failed: ${String(err)}`, { cause: err }),
              );
            }
          },
        );
      entry.done = done;
      this.running.add(entry);
      yield* queue;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Reached on completion, on error, and when the consumer stops reading: stop the generation and
      // wait for it, so that the sequence is idle before the next request gets it.
      abort.abort();
      await done.catch(() => undefined);
      this.running.delete(entry);
      slots.release(slot);
      if (request.adapter) this.evictIdleAdapters();
    }
  }

  private closedError(emitted: boolean): LlmError {
    return new LlmError(emitted ? 'interrupted' : 'unavailable', `${this.endpoint}: the backend was closed`);
  }

  /**
   * Healthy once loaded, and also while the first load is still running: a request sent meanwhile simply
   * waits for it (loading takes seconds on a busy machine, longer than a health check may), whereas a load
   * that failed (a missing or corrupt file) makes it unhealthy.
   */
  async health(): Promise<void> {
    if (this.loaded) return;
    const loading = this.load();
    const settled = await Promise.race([
      loading.then(() => 'loaded' as const),
      new Promise<'loading'>((resolve) => setImmediate(() => resolve('loading'))),
    ]);
    if (settled === 'loading') loading.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const closedErr = new LlmError('unavailable', `${this.endpoint}: the backend was closed`);
    this.loaded?.base.rejectWaiting(closedErr);
    const adapterSlots = await Promise.all(
      [...this.adapters.values()].map((a) => a.slots.catch(() => undefined)),
    );
    this.adapters.clear();
    for (const a of adapterSlots) a?.rejectWaiting(closedErr);
    for (const r of this.running) r.abort.abort();
    await Promise.all([...this.running].map((r) => r.done.catch(() => undefined)));
    const loading = this.loading;
    this.loading = undefined;
    const loaded = this.loaded ?? (await loading?.catch(() => undefined));
    this.loaded = undefined;
    await Promise.all(adapterSlots.map((a) => a?.dispose()));
    if (loaded) await loaded.model.dispose();
  }
}

/** Tokens DRY looks back over: longer than any answer the router asks for. */
export const DRY_WINDOW = 1024;

/**
 * node-llama-cpp's repeat and DRY penalties for a request: the request's values where set, otherwise
 * 1.1 over the last 64 tokens and DRY 0.8 (base 1.75, sequences longer than 2 tokens, over the last
 * 1024 tokens), which keep the small default models out of broken-record loops. A penalty set to its
 * neutral value (1 or 0) is off.
 *
 * The DRY window is always given: left unset, node-llama-cpp passes -1 ("whole context"), which the
 * llama.cpp it bundles clamps to 0, and a window of 0 turns DRY off without a word.
 */
export function localPenalties(p: DecodingPenalties = {}): {
  repeatPenalty:
    false | { lastTokens: number; penalty: number; frequencyPenalty?: number; presencePenalty?: number };
  dryRepeatPenalty?: { strength: number; base: number; allowedLength: number; lastTokens: number };
} {
  const penalty = p.repeat ?? 1.1;
  const frequency = p.frequency ?? 0;
  const presence = p.presence ?? 0;
  const dry = p.dry ?? 0.8;
  const repeatOn = penalty !== 1 || frequency !== 0 || presence !== 0;
  return {
    repeatPenalty: repeatOn
      ? {
          lastTokens: 64,
          penalty,
          ...(frequency ? { frequencyPenalty: frequency } : {}),
          ...(presence ? { presencePenalty: presence } : {}),
        }
      : false,
    ...(dry > 0
      ? { dryRepeatPenalty: { strength: dry, base: 1.75, allowedLength: 2, lastTokens: DRY_WINDOW } }
      : {}),
  };
}
