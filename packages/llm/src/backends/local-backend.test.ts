// Runs the real SmolLM2-135M-Instruct GGUF that `npm run models:prepare` puts in the cache (npm test runs
// that first), in process, on one thread.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { collect } from './backend-test-helpers.js';
import { LlmError, type ChatRequest } from '../llm.port.js';
import { LocalBackend, defaultLocalModelPath, tinyLocalModelPath } from './local-backend.js';

const backend = new LocalBackend({
  model: 'smol',
  modelPath: tinyLocalModelPath(),
  threads: 1,
  contextSize: 2048,
  parallel: 2,
});

beforeAll(async () => {
  await backend.health();
}, 60_000);

afterAll(async () => {
  await backend.close();
});

/** The first run of `n` words that occurs twice in `text`, or null. */
function repeatedWords(text: string, n: number): string | null {
  const words = text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  const seen = new Set<string>();
  for (let i = 0; i + n <= words.length; i++) {
    const run = words.slice(i, i + n).join(' ');
    if (seen.has(run)) return run;
    seen.add(run);
  }
  return null;
}

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content }],
  maxTokens: 48,
  ...extra,
});

describe('LocalBackend (SmolLM2-135M-Instruct, in process)', () => {
  it('streams an answer to a simple question, with token counts', async () => {
    const { deltas, text, end } = await collect(backend.chat(ask('What is the capital of France?')));
    expect(deltas.length).toBeGreaterThan(1);
    expect(text).toMatch(/Paris/);
    expect(end?.finishReason).toBe('stop');
    expect(end?.promptTokens).toBeGreaterThan(5);
    expect(end?.completionTokens).toBeGreaterThanOrEqual(deltas.length);
    expect(backend.contextTokens).toBeGreaterThanOrEqual(2048);
  });

  it('stops at maxTokens and says so', async () => {
    const { text, end } = await collect(
      backend.chat(ask('Write a long story about a dragon who learns to cook.', { maxTokens: 6 })),
    );
    expect(text.length).toBeGreaterThan(0);
    expect(end?.finishReason).toBe('length');
    expect(end?.completionTokens).toBeLessThanOrEqual(6);
  });

  it('returns JSON that matches a schema when asked', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, country: { type: 'string' } },
      required: ['city', 'country'],
    };
    const { text, end } = await collect(
      backend.chat(ask('Name the capital of France as JSON.', { jsonSchema: schema, maxTokens: 64 })),
    );
    const value = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual(['city', 'country']);
    expect(typeof value.city).toBe('string');
    expect(typeof value.country).toBe('string');
    expect(end?.finishReason).toBe('stop');
  });

  it('ends at a stop sequence without including it', async () => {
    const { text } = await collect(
      backend.chat(ask('Count from 1 to 10, separated by commas.', { stop: ['5'], maxTokens: 40 })),
    );
    expect(text).toMatch(/4/);
    expect(text).not.toContain('5');
  });

  it("stops on the caller's abort, and the next request is answered normally", async () => {
    const ctl = new AbortController();
    const deltas: string[] = [];
    const run = (async () => {
      for await (const ev of backend.chat(
        ask('Tell me about the history of Rome.', { maxTokens: 200 }),
        ctl.signal,
      )) {
        if (ev.type === 'delta') deltas.push(ev.text);
        if (deltas.length === 3) ctl.abort(new Error('client went away'));
      }
    })();
    await expect(run).rejects.toThrow('client went away');
    expect(deltas.length).toBeLessThan(10);
    const again = await collect(backend.chat(ask('What is the capital of France?')));
    expect(again.text).toMatch(/Paris/);
  });

  it('rejects an already aborted signal without generating', async () => {
    const ctl = new AbortController();
    ctl.abort(new Error('too late'));
    await expect(collect(backend.chat(ask('hello'), ctl.signal))).rejects.toThrow('too late');
  });

  it('answers concurrent requests, two side by side and the third after waiting, each uncorrupted', async () => {
    const answers = await Promise.all(
      [
        'What is the capital of France?',
        'What is the capital of Germany?',
        'What is the capital of Italy?',
      ].map((q) => collect(backend.chat(ask(q)))),
    );
    expect(answers.map((a) => a.text)).toEqual([
      expect.stringMatching(/Paris/),
      expect.stringMatching(/Berlin/),
      expect.stringMatching(/Rome/),
    ]);
  });

  it('applies the DRY penalty: a list that repeats an item without it repeats none with it', async () => {
    // Greedy decoding, repeat penalty off, so DRY is the only difference between the two runs.
    const list = (dry: number) =>
      collect(
        backend.chat(
          ask('Write a list of 20 reasons to exercise.', {
            maxTokens: 160,
            temperature: 0,
            penalties: { repeat: 1, dry },
          }),
        ),
      );
    const without = await list(0);
    const withDry = await list(0.8);
    expect(repeatedWords(without.text, 6)).not.toBeNull();
    expect(repeatedWords(withDry.text, 6)).toBeNull();
    expect(withDry.end?.completionTokens).toBeGreaterThan(100);
  }, 120_000);

  it('says how to prepare the model when the file is missing', async () => {
    const missing = new LocalBackend({ model: 'x', modelPath: join('/nonexistent', 'model.gguf') });
    const err = await missing.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect((err as LlmError).kind).toBe('unavailable');
    expect((err as LlmError).message).toContain('npm run models:prepare');
    await missing.close();
  });
});

describe('prepared model paths', () => {
  it('live under LLMTWIN_CACHE_DIR, or ~/.cache/llmtwin', () => {
    expect(defaultLocalModelPath({ LLMTWIN_CACHE_DIR: '/cache' })).toBe(
      '/cache/models/Qwen2.5-Coder-0.5B-Instruct/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf',
    );
    expect(tinyLocalModelPath({ LLMTWIN_CACHE_DIR: '/cache' })).toBe(
      '/cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf',
    );
    expect(tinyLocalModelPath({})).toMatch(
      /\.cache\/llmtwin\/models\/SmolLM2-135M-Instruct\/SmolLM2-135M-Instruct\.Q4_1\.gguf$/,
    );
  });
});
