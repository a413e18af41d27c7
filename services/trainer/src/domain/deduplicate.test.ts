import { describe, expect, it } from '@jest/globals';
import { removeExactDuplicates, removeNearDuplicates, removeTestOverlap } from './deduplicate.js';
import { exactJaccard, fingerprint, shingles } from './minhash.js';

const item = (text: string) => ({ text, fingerprint: fingerprint(text) });
const stories: Record<string, string> = {
  search:
    'When I started working on search I thought the hard part would be the ranking code, but it turned ' +
    'out that the hard part was explaining to everyone else why relevance mattered for the product at all, ' +
    'and how we would measure whether it worked once it shipped to real customers in production.',
  billing:
    'Billing taught me that money code is mostly about time zones, retries and refunds. Every invoice run ' +
    'at midnight found a new edge case, so we wrote the ledger as an append-only log and replayed it daily.',
};
const story = (topic: string) => stories[topic]!;

describe('de-duplication', () => {
  it('removes exact duplicates up to case, punctuation and spacing', async () => {
    const r = await removeExactDuplicates([item('Hello, world.'), item('hello   WORLD'), item('Other.')]);
    expect(r.kept.map((i) => i.text)).toEqual(['Hello, world.', 'Other.']);
    expect(r.removed).toBe(1);
  });

  it('removes near-duplicates and keeps the first of each', () => {
    const a = story('search');
    const nearA = a.replace('real customers', 'actual customers');
    const r = removeNearDuplicates([item(a), item(story('billing')), item(nearA)], 0.8);
    expect(r.kept.map((i) => i.text)).toEqual([a, story('billing')]);
    expect(r.removed).toBe(1);
  });

  it('drops train passages that nearly copy a test passage', () => {
    const test = [item(story('search'))];
    const train = [item(story('search').replace('the product', 'our product')), item(story('billing'))];
    const r = removeTestOverlap(train, test, 0.8);
    expect(r.kept.map((i) => i.text)).toEqual([story('billing')]);
    expect(r.removed).toBe(1);
    expect(exactJaccard(shingles(story('billing')), shingles(story('search')))).toBeLessThan(0.8);
  });
});
