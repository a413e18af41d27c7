import { describe, expect, it } from '@jest/globals';
import { mergeFilters, parseRewrites, parseSelfQuery } from './query-understanding.js';

describe('parseRewrites', () => {
  it('drops numbering, bullets, quotes, blanks, copies of the original and extras', () => {
    const text =
      '1. "Feeding a sourdough starter"\n\n- how do I feed my starter?\n2) starter hydration ratio\n(3) feeding a sourdough starter\nextra one';
    expect(parseRewrites(text, 'How do I feed my starter?', 2)).toEqual([
      'Feeding a sourdough starter',
      'starter hydration ratio',
    ]);
  });
});

describe('parseSelfQuery', () => {
  it('keeps each valid field on its own and ignores invalid ones', () => {
    expect(
      parseSelfQuery('Sure: {"categories":["post"],"platforms":["myspace"],"published_before":"2023-06-30"}'),
    ).toEqual({ categories: [2], platforms: [], publishedBefore: Date.UTC(2023, 5, 30) });
  });
  it('yields no filters for text that is not JSON, and drops an empty date range', () => {
    expect(parseSelfQuery('I cannot help with that')).toEqual({ categories: [], platforms: [] });
    expect(
      parseSelfQuery(
        '{"published_after":"2024-05-01","published_before":"2024-01-01","platforms":["github"]}',
      ),
    ).toEqual({ categories: [], platforms: [4] });
  });
});

describe('mergeFilters', () => {
  const request = { authorId: 'jane', categories: [], platforms: [1], publishedAfter: Date.UTC(2024, 0, 1) };
  it('adds only what the request left open, and never an empty range', () => {
    expect(
      mergeFilters(request, {
        categories: [3],
        platforms: [4],
        publishedAfter: Date.UTC(2020, 0, 1),
        publishedBefore: Date.UTC(2023, 0, 1),
      }),
    ).toEqual({ authorId: 'jane', categories: [3], platforms: [1], publishedAfter: Date.UTC(2024, 0, 1) });
    expect(
      mergeFilters(request, { categories: [], platforms: [], publishedBefore: Date.UTC(2025, 0, 1) }),
    ).toEqual({
      ...request,
      publishedBefore: Date.UTC(2025, 0, 1),
    });
  });
});
