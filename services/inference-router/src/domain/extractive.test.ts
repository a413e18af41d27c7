import { describe, expect, it } from '@jest/globals';
import { extractiveAnswer, selectQuotes, splitSentences } from './extractive.js';
import type { Passage } from './retrieve.js';

const passage = (chunkId: string, text: string): Passage => ({
  chunkId,
  documentId: `doc_${chunkId}`,
  text,
  score: 1,
  title: chunkId,
  url: `https://example.com/${chunkId}`,
  category: 1,
  platform: 1,
});

describe('extractive answers', () => {
  const passages = [
    passage(
      'bread',
      'I bake every weekend. Sourdough needs a starter that you feed with flour and water. ' +
        'The loaf rises overnight in the fridge. My neighbours like the smell.',
    ),
    passage(
      'db',
      'A B-tree index finds rows by key. Sourdough starters are not databases, despite the jokes.',
    ),
  ];

  it('quotes a sentence that overlapping chunks share once', () => {
    const shared = 'Sourdough needs a starter that you feed with flour and water.';
    const quotes = selectQuotes('sourdough starter flour', [
      { ...passage('a', `I bake every weekend. ${shared}`), documentId: 'doc_bread' },
      { ...passage('b', `${shared} The loaf rises overnight.`), documentId: 'doc_bread' },
    ]);
    expect(quotes.filter((q) => q.text === shared)).toHaveLength(1);
  });

  it('splits prose into sentences and drops fragments', () => {
    expect(
      splitSentences('First sentence is here. Second one (with a twist)!\n## A heading line\nok.'),
    ).toEqual(['First sentence is here.', 'Second one (with a twist)!']);
  });

  it('quotes the sentences that share the query terms, in reading order, with their citation', () => {
    const quotes = selectQuotes('How do you feed a sourdough starter?', passages, 2);
    expect(quotes).toEqual([
      { citation: 1, text: 'Sourdough needs a starter that you feed with flour and water.' },
      { citation: 2, text: 'Sourdough starters are not databases, despite the jokes.' },
    ]);
  });

  it('opens by saying it is extractive, then one piece per quote', () => {
    const pieces = extractiveAnswer('feed the sourdough starter', passages, 'Jane');
    expect(pieces[0]).toMatch(/^No language model is configured, so this is an extractive answer/);
    expect(pieces[0]).toContain("Jane's own writing");
    expect(pieces.slice(1).every((p) => /” \[\d\]$/.test(p))).toBe(true);
    expect(pieces.join('')).toContain('“Sourdough needs a starter that you feed with flour and water.” [1]');
  });

  it('says so when nothing was retrieved', () => {
    expect(extractiveAnswer('anything', [], 'Jane')).toEqual([
      "No language model is configured, and nothing in Jane's indexed writing matches this question.",
    ]);
  });
});
