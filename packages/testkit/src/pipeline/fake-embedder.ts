// A FAKE embedder for tests of the consumer logic: a hashed bag of words of unit length, no model. The tests
// of what retrieval finds use the real one (all-MiniLM-L6-v2).
import { createHash } from 'node:crypto';
import type { Embedder } from '@llmtwin/ports';

export function fakeEmbedder(dimensions = 32): Embedder {
  const vectorOf = (text: string): Float32Array => {
    const v = new Float32Array(dimensions);
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? ['∅']) {
      const h = createHash('sha256').update(word).digest();
      v[(h[0] ?? 0) % dimensions]! += 1;
    }
    v[dimensions - 1]! += 0.01; // never the zero vector
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  return {
    model: 'fake-bag-of-words',
    dimensions,
    maxTokens: 256,
    embed: async (texts) => texts.map(vectorOf),
    countTokens: (text) => (text.match(/\S+/g) ?? []).length + 2,
    tokenize: (text) => ({ ids: (text.match(/\S+/g) ?? []).map((_, i) => i) }),
    ping: async () => undefined,
    close: async () => undefined,
  };
}
