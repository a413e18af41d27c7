import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime';
import {
  assembleContext,
  reciprocalRankFusion,
  resolveTopK,
  retrieve,
  type Passage,
  type SearchFn,
} from './retrieve.js';

const passage = (chunkId: string, score = 1, text = `text of ${chunkId}`): Passage => ({
  chunkId,
  documentId: `doc_${chunkId}`,
  text,
  score,
  title: chunkId,
  url: `https://example.com/${chunkId}`,
  category: 1,
  platform: 1,
});

describe('reciprocal-rank fusion', () => {
  it('ranks a chunk found by several queries above one found by a single query', () => {
    const fused = reciprocalRankFusion([
      [passage('a'), passage('b'), passage('c')],
      [passage('d'), passage('b'), passage('e')],
    ]);
    expect(fused.map((p) => p.chunkId)).toEqual(['b', 'a', 'd', 'c', 'e']);
    expect(fused[0]!.score).toBeCloseTo(2 / 62);
  });

  it('keeps one list as it is, without duplicates and with its search scores', () => {
    const fused = reciprocalRankFusion([[passage('a', 0.9), passage('b', 0.5), passage('a', 0.4)], []]);
    expect(fused.map((p) => [p.chunkId, p.score])).toEqual([
      ['a', 0.9],
      ['b', 0.5],
    ]);
  });
});

describe('retrieve', () => {
  it('over-fetches per query, fuses, dedupes and keeps top_k', async () => {
    const calls: [string, number][] = [];
    const search: SearchFn = async (query, _filters, limit) => {
      calls.push([query, limit]);
      return query === 'q1' ? [passage('a'), passage('b'), passage('c')] : [passage('c'), passage('d')];
    };
    const out = await retrieve(
      { queries: ['q1', 'q2', 'q1 '], filters: { authorId: 'jane', categories: [], platforms: [] }, topK: 2 },
      search,
    );
    expect(calls).toEqual([
      ['q1', 8],
      ['q2', 8],
    ]);
    expect(out.map((p) => p.chunkId)).toEqual(['c', 'a']);
  });
});

describe('top_k', () => {
  it('defaults to 5 and rejects values out of range with InvalidArgument', () => {
    expect(resolveTopK(0)).toBe(5);
    expect(resolveTopK(12)).toBe(12);
    for (const bad of [-1, 51, 1000]) {
      let err: unknown;
      try {
        resolveTopK(bad);
      } catch (e) {
        err = e;
      }
      expect(isDomainError(err, 'invalid-argument')).toBe(true);
      expect((err as Error).message).toMatch(/top_k must be between 1 and 50/);
    }
  });
});

describe('context assembly', () => {
  it('keeps passages in rank order while they fit the budget, and always the first one', () => {
    const ps = [
      passage('a', 1, 'x'.repeat(30)),
      passage('b', 1, 'y'.repeat(30)),
      passage('c', 1, 'z'.repeat(5)),
    ];
    expect(assembleContext(ps, 10).map((p) => p.chunkId)).toEqual(['a', 'c']);
    const cut = assembleContext(ps, 2);
    expect(cut.map((p) => [p.chunkId, p.text])).toEqual([['a', 'x'.repeat(8)]]);
  });
});
