import { describe, expect, it } from '@jest/globals';
import { assignSplits } from './splits.js';

const docs = Array.from({ length: 200 }, (_, i) => ({ id: `doc${i}`, publishedAt: i * 1000 }));

describe('splits by document', () => {
  it('sends about test_fraction of the documents to test, the same way for the same seed', async () => {
    const a = await assignSplits(docs, { testFraction: 0.2, seed: 7n, strategy: 'document' });
    const b = await assignSplits([...docs].reverse(), { testFraction: 0.2, seed: 7n, strategy: 'document' });
    const tests = [...a.values()].filter((s) => s === 'test').length;
    expect(tests).toBeGreaterThan(20);
    expect(tests).toBeLessThan(60);
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
    const c = await assignSplits(docs, { testFraction: 0.2, seed: 8n, strategy: 'document' });
    expect([...c.entries()].sort()).not.toEqual([...a.entries()].sort());
  });

  it('keeps a document where it was when other documents come and go', async () => {
    const all = await assignSplits(docs, { testFraction: 0.3, seed: 1n, strategy: 'document' });
    const some = await assignSplits(docs.slice(0, 50), { testFraction: 0.3, seed: 1n, strategy: 'document' });
    for (const [id, split] of some) expect(all.get(id)).toBe(split);
  });

  it('gives both splits a document when there are two or more', async () => {
    for (const fraction of [0.001, 0.999]) {
      const r = await assignSplits(docs.slice(0, 3), {
        testFraction: fraction,
        seed: 3n,
        strategy: 'document',
      });
      expect(new Set(r.values())).toEqual(new Set(['train', 'test']));
    }
  });

  it('sends the newest documents to test with the time strategy', async () => {
    const r = await assignSplits(docs.slice(0, 10), { testFraction: 0.2, seed: 0n, strategy: 'time' });
    expect(
      [...r.entries()]
        .filter(([, s]) => s === 'test')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['doc8', 'doc9']);
  });
});
