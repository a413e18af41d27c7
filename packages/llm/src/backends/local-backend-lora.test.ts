// A real LoRA adapter on the real SmolLM2-135M-Instruct GGUF, in process: one loaded base model answers
// with and without the adapter (a context per adapter), the adapter changes what it says, the adapter
// contexts stay within their bound, and a released adapter's context goes away. The adapter is
// fixtures/smollm2-pirate-lora.gguf, trained by the real training job (fixtures/train-test-lora.sh) to
// answer every question "Arr, matey! Pirates sail the seven seas ...", so that its effect is unmistakable.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { collect, failure, kindOf } from './backend-test-helpers.js';
import type { ChatRequest } from '../llm.port.js';
import { LocalBackend, tinyLocalModelPath } from './local-backend.js';

const LORA = fileURLToPath(new URL('../../fixtures/smollm2-pirate-lora.gguf', import.meta.url));

const backend = new LocalBackend({
  model: 'smol',
  modelPath: tinyLocalModelPath(),
  threads: 1,
  contextSize: 512,
  maxAdapterContexts: 2,
});

beforeAll(async () => {
  await backend.health();
}, 60_000);

afterAll(async () => {
  await backend.close();
});

const question = (extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content: 'Who wrote Hamlet?' }],
  maxTokens: 16,
  temperature: 0,
  ...extra,
});

describe('LocalBackend with LoRA adapters (SmolLM2-135M-Instruct + a GGUF LoRA, in process)', () => {
  it('answers with the adapter applied, and without it on the base context', async () => {
    const stock = await collect(backend.chat(question()));
    expect(stock.text).toMatch(/Shakespeare/);
    const adapted = await collect(backend.chat(question({ adapter: { id: 'mv_a', name: 'a', path: LORA } })));
    expect(adapted.text).toMatch(/^Arr, matey!/);
    expect(stock.text).not.toMatch(/matey/);
    expect(adapted.end?.completionTokens).toBeGreaterThan(0);
    // The base context is untouched by the adapter's.
    expect((await collect(backend.chat(question()))).text).toEqual(stock.text);
    expect(backend.adapterContexts).toEqual(['mv_a']);
  }, 120_000);

  it('keeps at most maxAdapterContexts, least recently used out first, and drops a released one', async () => {
    for (const id of ['mv_b', 'mv_c']) {
      await collect(backend.chat(question({ maxTokens: 2, adapter: { id, name: id, path: LORA } })));
    }
    expect(backend.adapterContexts).toEqual(['mv_b', 'mv_c']);
    await collect(backend.chat(question({ maxTokens: 2, adapter: { id: 'mv_b', name: 'b', path: LORA } })));
    expect(backend.adapterContexts).toEqual(['mv_c', 'mv_b']);
    await backend.releaseAdapter('mv_b');
    expect(backend.adapterContexts).toEqual(['mv_c']);

    // Three adapters at once: each answers on its own context (a busy one is never evicted), and once they
    // are done the bound holds again.
    const answers = await Promise.all(
      ['mv_d', 'mv_e', 'mv_f'].map((id) =>
        collect(backend.chat(question({ maxTokens: 2, adapter: { id, name: id, path: LORA } }))),
      ),
    );
    expect(answers.map((a) => a.end?.type)).toEqual(['end', 'end', 'end']);
    expect(backend.adapterContexts.length).toBeLessThanOrEqual(2);
  }, 120_000);

  it('refuses an adapter without a file, and one that is not a LoRA for this model', async () => {
    const noFile = await failure(backend.chat(question({ adapter: { id: 'mv_x', name: 'x' } })));
    expect(kindOf(noFile.err)).toBe('rejected');
    const notLora = await failure(
      backend.chat(question({ adapter: { id: 'mv_y', name: 'y', path: tinyLocalModelPath() } })),
    );
    expect(kindOf(notLora.err)).toBe('rejected');
    expect(String((notLora.err as Error).message)).toMatch(/could not apply adapter mv_y/);
    expect(backend.adapterContexts).not.toContain('mv_y');
  }, 120_000);
});
