// A FAKE chunker for tests of the consumer logic: one chunk per paragraph, ids as the real chunker derives
// them (document, version, position), token counts by whitespace. The real one is @llmtwin/chunking's.
import { createHash } from 'node:crypto';
import type { Chunker } from '@llmtwin/chunking';

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
