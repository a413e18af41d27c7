// An author's adapter answers only on a model serving the checkpoint it was trained on: the chosen model when
// its base matches (or is unknown), else another configured model with that base, else the stock model with
// one warning per version. The models are scripted in-memory backends (fakes, to drive the routing logic);
// the real adapter path on a real GGUF model and LoRA is tested in src/author-adapters.test.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import type { ChatEvent, ChatRequest, LlmBackend } from '@llmtwin/llm';
import { pino } from 'pino';
import { AuthorModels, type AuthorModel } from './author-models.js';
import { GenerationStore } from './generations.js';
import { RagService, type GenerationResult, type LlmResolver } from './rag.js';

const SMOL = 'HuggingFaceTB/SmolLM2-135M-Instruct';
const QWEN = 'Qwen/Qwen2.5-Coder-0.5B-Instruct';

/** Scripted backend (fake): says which model and adapter answered, and records the requests. */
class ScriptedBackend implements LlmBackend {
  readonly kind = 'local' as const;
  readonly endpoint = 'scripted';
  readonly requests: ChatRequest[] = [];
  constructor(
    readonly model: string,
    readonly baseModel: string | undefined,
  ) {}
  async *chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    this.requests.push(request);
    yield { type: 'delta', text: `${this.model} with ${request.adapter?.id ?? 'no adapter'}` };
    yield { type: 'end', finishReason: 'stop', promptTokens: 4, completionTokens: 4 };
  }
  health = async () => {};
  close = async () => {};
}

/** The model table as ModelRouter answers it: the first model is the default; forBase prefers it. */
const resolver = (...backends: ScriptedBackend[]): LlmResolver => ({
  resolve: (model) => {
    const found = model ? backends.find((b) => b.model === model) : backends[0];
    if (!found) throw new Error(`unknown ${model}`);
    return found;
  },
  forBase: (base) => backends.find((b) => b.baseModel === base),
  models: () => backends.map((b) => ({ id: b.model, backend: b.kind, endpoints: [], healthy: true })),
  hasModels: () => backends.length > 0,
});

const janeOn = (baseModel: string): AuthorModel => ({
  authorId: 'jane',
  modelVersionId: 'mv_jane_1',
  label: 'jane-twin/1',
  servingName: 'jane-twin-v1',
  baseModel,
});

describe('which model answers with an author adapter', () => {
  let dir: string;
  let warehouse: Warehouse;
  let store: GenerationStore;
  let warnings: Array<Record<string, unknown>>;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-adapter-base-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    store = new GenerationStore(warehouse);
    await store.init();
    warnings = [];
  });
  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function answer(llm: LlmResolver, author: AuthorModel, model = ''): Promise<GenerationResult> {
    const authorModels = new AuthorModels();
    await authorModels.serve(author);
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const rag = new RagService({ search: async () => [], store, logger, llm, authorModels });
    let done: GenerationResult | undefined;
    for await (const e of rag.generate({ query: 'Who are you?', authorId: 'jane', disableRag: true, model }))
      if ('done' in e) done = e.done;
    return done!;
  }

  it('uses the default model when its base is the adapter’s', async () => {
    const twin = new ScriptedBackend('twin', SMOL);
    const res = await answer(resolver(twin, new ScriptedBackend('tiny', SMOL)), janeOn(SMOL));
    expect(res).toMatchObject({ model: 'twin', modelVersion: 'jane-twin/1', answer: 'twin with mv_jane_1' });
  });

  it('moves to the model serving the adapter’s base when the default serves another', async () => {
    const twin = new ScriptedBackend('twin', QWEN);
    const tiny = new ScriptedBackend('tiny', SMOL);
    const res = await answer(resolver(twin, tiny), janeOn(SMOL));
    expect(res).toMatchObject({ model: 'tiny', modelVersion: 'jane-twin/1', answer: 'tiny with mv_jane_1' });
    expect(twin.requests).toHaveLength(0);
    expect(warnings).toEqual([]);
  });

  it('answers with the stock model, and warns once, when no model serves the adapter’s base', async () => {
    const twin = new ScriptedBackend('twin', QWEN);
    const llm = resolver(twin);
    const authorModels = new AuthorModels();
    await authorModels.serve(janeOn(SMOL));
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const rag = new RagService({ search: async () => [], store, logger, llm, authorModels });
    for (let i = 0; i < 2; i++) {
      let done: GenerationResult | undefined;
      for await (const e of rag.generate({ query: 'Who are you?', authorId: 'jane', disableRag: true }))
        if ('done' in e) done = e.done;
      expect(done).toMatchObject({ model: 'twin', modelVersion: '', answer: 'twin with no adapter' });
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ adapterBase: SMOL, modelBase: QWEN, modelVersion: 'jane-twin/1' });
    expect(String(warnings[0]!['msg'])).toContain('LLMTWIN_LLM_BACKENDS');
  });

  it('applies the adapter when a base is unknown (a server whose checkpoint was not declared)', async () => {
    const res = await answer(resolver(new ScriptedBackend('twin', undefined)), janeOn(SMOL));
    expect(res).toMatchObject({ model: 'twin', modelVersion: 'jane-twin/1', answer: 'twin with mv_jane_1' });
  });

  it('leaves a request that names a model on that model, without the adapter', async () => {
    const twin = new ScriptedBackend('twin', QWEN);
    const tiny = new ScriptedBackend('tiny', SMOL);
    const res = await answer(resolver(twin, tiny), janeOn(SMOL), 'twin');
    expect(res).toMatchObject({ model: 'twin', modelVersion: '', answer: 'twin with no adapter' });
  });
});
