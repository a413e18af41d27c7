import { describe, expect, it } from '@jest/globals';
import {
  LshIndex,
  estimatedJaccard,
  exactJaccard,
  fingerprint,
  isNearDuplicate,
  lshParameters,
  shingles,
  signature,
} from './minhash.js';

const base =
  'The sourdough starter needs flour and water every day, and it rises best in a warm kitchen where ' +
  'the temperature stays steady through the night while the dough ferments slowly and develops flavour.';

describe('MinHash over word shingles', () => {
  it('estimates Jaccard similarity close to the exact value', () => {
    const a = shingles(base);
    const b = shingles(base.replace('every day', 'each morning').replace('warm kitchen', 'cosy room'));
    const exact = exactJaccard(a, b);
    const estimate = estimatedJaccard(signature(a), signature(b));
    expect(exact).toBeGreaterThan(0.5);
    expect(exact).toBeLessThan(0.9);
    expect(Math.abs(estimate - exact)).toBeLessThan(0.15);
  });

  it('gives identical texts similarity 1 and unrelated texts about 0', () => {
    const a = fingerprint(base);
    const other = fingerprint(
      'Kubernetes schedules pods onto nodes according to resource requests and taints.',
    );
    expect(estimatedJaccard(a.signature, fingerprint(base).signature)).toBe(1);
    expect(estimatedJaccard(a.signature, other.signature)).toBeLessThan(0.1);
    expect(isNearDuplicate(a, other, 0.8)).toBe(false);
  });

  it('ignores case and punctuation', () => {
    expect(isNearDuplicate(fingerprint(base), fingerprint(base.toUpperCase().replace(/,/g, ' ;')), 0.8)).toBe(
      true,
    );
  });

  it('chooses LSH rows that propose a pair at the threshold with high probability', () => {
    for (const t of [0.5, 0.8, 0.9]) {
      const { bands, rows } = lshParameters(t);
      expect(bands * rows).toBeLessThanOrEqual(128);
      expect(1 - (1 - t ** rows) ** bands).toBeGreaterThanOrEqual(0.995);
    }
    expect(lshParameters(0.9).rows).toBeGreaterThan(lshParameters(0.5).rows);
  });

  it('finds a near copy through the LSH index and not an unrelated passage', () => {
    const index = new LshIndex<string>(0.8);
    index.add('original', fingerprint(base));
    index.add('other', fingerprint('Rust borrows are checked at compile time so data races cannot happen.'));
    const nearCopy = fingerprint(base.replace('steady', 'stable'));
    expect(index.findDuplicate(nearCopy)).toBe('original');
    expect(
      index.findDuplicate(fingerprint('A completely different passage about sailing boats at sea.')),
    ).toBe(undefined);
  });
});
