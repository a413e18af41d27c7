// The LLM port over a GGUF model in this process (node-llama-cpp, CPU only): the embedded default, so the
// router answers with a real model and no server. One context holds a few sequences; each request takes
// one for its whole generation (a sequence's KV cache must not be shared by two generations) and later
// requests wait in a bounded queue. The chat template is the model's own, resolved from the GGUF by
// node-llama-cpp. The model loads lazily, once, on the first chat or health call.
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
  type LlmBackend,
} from '../llm.port.js';

export const DEFAULT_LOCAL_MODEL = 'SmolLM2-135M-Instruct';

/** Where `npm run models:prepare` puts SmolLM2-135M-Instruct (Q4_1 GGUF). */
export function defaultLocalModelPath(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.LLMTWIN_CACHE_DIR || join(homedir(), '.cache', 'llmtwin');
  return join(root, 'models', DEFAULT_LOCAL_MODEL, `${DEFAULT_LOCAL_MODEL}.Q4_1.gguf`);
}

export interface LocalBackendOptions {
  model: string;
  modelPath: string;
  /** CPU threads for evaluation. Default 2 (1 is steadier for tiny models on a shared machine). */
  threads?: number;
  /** Context window per sequence. Default: the model's training context, at most 4096. */
  contextSize?: number;
  /** Generations running at once, each on its own sequence. Default 1. */
  parallel?: number;
  /** Requests allowed to wait for a sequence; beyond that chat() fails with 'unavailable'. Default 32. */
  maxQueue?: number;
}

interface Slot {
  chat: LlamaChat;
}

interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
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
  private readonly free: Slot[] = [];
  private readonly waiting: { resolve: (slot: Slot) => void; reject: (err: unknown) => void }[] = [];
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private readonly running = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  private closed = false;

  constructor(private readonly opts: LocalBackendOptions) {
    this.model = opts.model;
    this.endpoint = opts.modelPath;
  }

  /** The context window of each sequence, once the model is loaded. */
  get contextTokens(): number | undefined {
    return this.loaded?.context.contextSize;
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
        `model file ${path} not found: run \`npm run models:prepare\` to prepare the default model (${DEFAULT_LOCAL_MODEL}), or point the local backend at an existing GGUF file`,
      );
    }
    try {
      const llama = await runtime();
      const { LlamaChat } = await import('node-llama-cpp');
      const model = await llama.loadModel({ modelPath: path });
      const parallel = Math.max(1, this.opts.parallel ?? 1);
      const context = await model.createContext({
        contextSize: this.opts.contextSize ?? Math.min(model.trainContextSize, 4096),
        sequences: parallel,
        threads: this.opts.threads ?? 2,
      });
      for (let i = 0; i < parallel; i++)
        this.free.push({ chat: new LlamaChat({ contextSequence: context.getSequence() }) });
      const loaded = { model, context, llama };
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

  private acquire(signal?: AbortSignal): Promise<Slot> {
    const slot = this.free.pop();
    if (slot) return Promise.resolve(slot);
    if (this.waiting.length >= (this.opts.maxQueue ?? 32)) {
      return Promise.reject(
        new LlmError('unavailable', `${this.endpoint}: busy, ${this.waiting.length} requests waiting`),
      );
    }
    return new Promise<Slot>((resolve, reject) => {
      const waiter = {
        resolve: (s: Slot) => {
          signal?.removeEventListener('abort', onAbort);
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

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
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
    const { model, context, llama } = await this.load();
    if (signal?.aborted) throw signal.reason;
    const grammar = request.jsonSchema ? await this.grammarFor(llama, request.jsonSchema) : undefined;
    const slot = await this.acquire(signal);

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
          ...(grammar
            ? { grammar }
            : {
                repeatPenalty: { lastTokens: 64, penalty: 1.1 },
                dryRepeatPenalty: { strength: 0.8, base: 1.75, allowedLength: 2 },
              }),
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
      this.release(slot);
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
    for (const w of this.waiting.splice(0))
      w.reject(new LlmError('unavailable', `${this.endpoint}: the backend was closed`));
    for (const r of this.running) r.abort.abort();
    await Promise.all([...this.running].map((r) => r.done.catch(() => undefined)));
    const loading = this.loading;
    this.loading = undefined;
    const loaded = this.loaded ?? (await loading?.catch(() => undefined));
    this.loaded = undefined;
    if (loaded) await loaded.model.dispose();
  }
}
