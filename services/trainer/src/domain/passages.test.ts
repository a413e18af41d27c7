import { describe, expect, it } from '@jest/globals';
import { paragraphs, splitPassages, targetTokens } from './passages.js';
import { wordEstimateTokenizer, type Tokenizer } from './tokenizer.port.js';

/** One token per whitespace-separated word: easy to reason about in tests. */
const wordTokenizer: Tokenizer = { name: 'test-words', count: (t) => t.split(/\s+/).filter(Boolean).length };

const para = (n: number, word = 'word') => Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ') + '.';

describe('passage splitting', () => {
  it('keeps fenced code blocks whole across blank lines', () => {
    const text = 'Intro text.\n\n```ts\nconst a = 1;\n\nconst b = 2;\n```\n\nAfter.';
    expect(paragraphs(text)).toEqual(['Intro text.', '```ts\nconst a = 1;\n\nconst b = 2;\n```', 'After.']);
  });

  it('packs whole paragraphs up to the target and never above max', () => {
    const text = Array.from({ length: 10 }, (_, i) => para(30, `p${i}w`)).join('\n\n');
    const bounds = { minTokens: 20, maxTokens: 200 };
    expect(targetTokens(bounds)).toBe(50);
    const passages = splitPassages(text, bounds, wordTokenizer);
    expect(passages).toHaveLength(5);
    for (const p of passages) {
      expect(p.tokens).toBeLessThanOrEqual(200);
      expect(p.text.split('\n\n')).toHaveLength(2);
    }
    expect(passages.map((p) => p.text).join('\n\n')).toBe(text);
  });

  it('starts a new passage at a heading and never ends one with a heading', () => {
    const text = ['# One', para(25, 'a'), '## Two', para(25, 'b'), '## Three', para(5, 'c')].join('\n\n');
    const passages = splitPassages(text, { minTokens: 10, maxTokens: 400 }, wordTokenizer);
    expect(passages.map((p) => p.text.split('\n\n')[0])).toEqual(['# One', '## Two']);
    for (const p of passages) expect(p.text.split('\n\n').at(-1)).not.toMatch(/^#/);
    // The short last section joined the one before.
    expect(passages[1]!.text).toContain('## Three');
  });

  it('cuts a paragraph above max at sentences, and a sentence above max at words', () => {
    const sentence = (k: number) => Array.from({ length: 10 }, (_, i) => `s${k}w${i}`).join(' ') + '.';
    const long = Array.from({ length: 6 }, (_, k) => sentence(k)).join(' ');
    const passages = splitPassages(long, { minTokens: 1, maxTokens: 25 }, wordTokenizer);
    for (const p of passages) expect(p.tokens).toBeLessThanOrEqual(25);
    expect(passages.map((p) => p.text).join(' ')).toBe(long);
    const huge = splitPassages(para(100), { minTokens: 1, maxTokens: 30 }, wordTokenizer);
    expect(huge.length).toBeGreaterThanOrEqual(4);
    for (const p of huge) expect(p.tokens).toBeLessThanOrEqual(30);
  });

  it('estimates tokens from words when no tokenizer is configured', () => {
    expect(wordEstimateTokenizer.count('Hello, world!')).toBe(Math.round(2 * 1.3) + 2);
  });
});
