// Invariant checks shared by the chunker's tests (kept beside them so both test files assert the same thing).
import { expect } from '@jest/globals';
import { chunkId, type Chunk, type ChunkInput, type ChunkingPolicy } from './chunker.js';
import type { TokenCounter } from './tokenizer.js';

export function expectInvariants(
  input: ChunkInput,
  policy: ChunkingPolicy,
  counter: TokenCounter,
  chunks: Chunk[],
): void {
  const { text } = input;
  const where = (c: Chunk) => `${input.category} chunk ${c.position} [${c.startOffset}, ${c.endOffset})`;
  chunks.forEach((c, i) => {
    // Plain checks rather than expect(): this runs for every chunk of hundreds of random documents.
    if (c.position !== i) throw new Error(`${where(c)}: position out of order`);
    if (c.id !== chunkId(input.documentId, input.version, i) || !/^chk_[0-9a-f]{32}$/.test(c.id)) {
      throw new Error(`${where(c)}: id ${c.id} is not derived from document, version and position`);
    }
    if (
      c.ref.documentId !== input.documentId ||
      c.ref.version !== BigInt(input.version) ||
      c.ref.authorId !== input.authorId
    ) {
      throw new Error(`${where(c)}: wrong ref`);
    }
    if (c.text !== text.slice(c.startOffset, c.endOffset))
      throw new Error(`${where(c)}: text is not the document's substring`);
    if (c.text.trim() === '') throw new Error(`${where(c)}: empty`);
    const tokens = counter.countTokens(c.text);
    if (tokens !== c.tokenCount)
      throw new Error(`${where(c)}: tokenCount ${c.tokenCount}, counter says ${tokens}`);
    if (tokens > policy.maxTokens) throw new Error(`${where(c)}: ${tokens} tokens > ${policy.maxTokens}`);
    // Never half of a surrogate pair at either end.
    if (/^[\uDC00-\uDFFF]/.test(c.text) || /[\uD800-\uDBFF]$/.test(c.text))
      throw new Error(`${where(c)}: splits a surrogate pair`);
  });
  // Coverage: chunks in order, overlapping or separated by whitespace only, nothing outside them but whitespace.
  let covered = 0;
  let rebuilt = '';
  for (const c of chunks) {
    if (c.startOffset > covered && text.slice(covered, c.startOffset).trim() !== '') {
      throw new Error(
        `${where(c)}: text before it is in no chunk: ${JSON.stringify(text.slice(covered, c.startOffset).slice(0, 80))}`,
      );
    }
    if (c.endOffset <= covered) throw new Error(`${where(c)}: adds nothing new`);
    rebuilt += text.slice(Math.max(covered, c.startOffset), c.endOffset);
    covered = c.endOffset;
  }
  expect(text.slice(covered).trim()).toBe('');
  expect(rebuilt.replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
}
