// The real SmolLM2-135M-Instruct tokenizer, read from the GGUF that `npm run models:prepare` puts in the
// cache (npm test prepares it first).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { homedir } from 'node:os';
import path from 'node:path';
import { isDomainError } from '@llmtwin/runtime';
import { defaultTokenizerModel } from '../config.js';
import { openTokenizer } from './create-tokenizer.js';
import type { GgufTokenizer } from './gguf-tokenizer.js';

const model = defaultTokenizerModel(
  process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin'),
);
let tokenizer: GgufTokenizer;

beforeAll(async () => {
  tokenizer = (await openTokenizer('gguf:default', model))!;
}, 60_000);
afterAll(async () => {
  await tokenizer?.close();
});

describe('the GGUF tokenizer (SmolLM2-135M-Instruct)', () => {
  it('counts tokens as the model does, without special tokens', () => {
    expect(tokenizer.name).toBe('SmolLM2-135M-Instruct (gguf)');
    // The same text as a token count the model itself gives (checked with llama.cpp's tokenizer).
    expect(
      tokenizer.count('Hello world, this is a test of the SmolLM2 tokenizer. Émile wrote über-cool code.'),
    ).toBe(25);
    expect(tokenizer.count('')).toBe(0);
    expect(tokenizer.count('hello')).toBe(1);
  });

  it('is chosen by setting: words or empty means no tokenizer, a missing file fails with what to do', async () => {
    expect(await openTokenizer('words', model)).toBeUndefined();
    expect(await openTokenizer('', model)).toBeUndefined();
    const missing = await openTokenizer('gguf:/nonexistent/model.gguf', model).catch((e: unknown) => e);
    expect(isDomainError(missing, 'failed-precondition')).toBe(true);
    expect((missing as Error).message).toMatch(/models:prepare/);
    const bad = await openTokenizer('bpe:x', model).catch((e: unknown) => e);
    expect(isDomainError(bad, 'invalid-argument')).toBe(true);
  });
});
