// Stand-ins for the consumer-logic tests: a FAKE embedder (hashed bag of words, unit length) and a FAKE
// chunker (one chunk per paragraph). The end-to-end test uses the real ones.
import { createHash } from 'node:crypto';
import type { Chunker } from '@llmtwin/chunking';
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

export function fakeChunker(): Chunker {
  return {
    chunk(input) {
      const pieces: ReturnType<Chunker['chunk']> & unknown[] = [];
      let offset = 0;
      for (const para of input.text.split(/\n{2,}/)) {
        const start = input.text.indexOf(para, offset);
        offset = start + para.length;
        if (!para.trim()) continue;
        const position = pieces.length;
        pieces.push({
          id:
            'chk_' +
            createHash('sha256')
              .update(`${input.documentId}\0${input.version}\0${position}`)
              .digest('hex')
              .slice(0, 32),
          position,
          text: para.trim(),
          tokenCount: (para.match(/\S+/g) ?? []).length + 2,
          section: '',
          startOffset: start,
          endOffset: offset,
        });
      }
      return pieces;
    },
    policies: () => [
      {
        category: 'article',
        maxTokens: 256,
        overlapTokens: 0,
        strategy: 'fake-paragraphs',
        tokenizer: 'fake',
      },
    ],
  };
}
