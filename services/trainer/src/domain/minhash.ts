// MinHash signatures over word shingles and an LSH index over them, to find near-duplicate passages without
// comparing every pair. A passage is a set of 3-word shingles (of its normalised words); the fraction of the
// 128 hash functions on which two signatures agree estimates the Jaccard similarity of the two sets. The
// LSH index cuts each signature into bands and proposes as candidates the passages that share one band
// exactly; its rows per band are chosen so that a pair at the threshold is proposed with probability
// ≥ 99.5%, and candidates are then checked (see isNearDuplicate).
import { fnv1a32, mix32 } from './text-hash.js';

export const NUM_PERMUTATIONS = 128;
export const SHINGLE_WORDS = 3;

/** Fixed seeds, one per hash function (xorshift32 from a constant): signatures are comparable across runs. */
const SEEDS: Uint32Array = (() => {
  const seeds = new Uint32Array(NUM_PERMUTATIONS);
  let x = 0x9e3779b9;
  for (let i = 0; i < NUM_PERMUTATIONS; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    seeds[i] = x >>> 0;
  }
  return seeds;
})();

/** Lowercased words (letters and digits, any script), accents kept. */
export function words(text: string): string[] {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** Hashes of the passage's word 3-shingles; a text of fewer words is one shingle. */
export function shingles(text: string): Set<number> {
  const w = words(text);
  const out = new Set<number>();
  if (w.length === 0) return out;
  if (w.length < SHINGLE_WORDS) {
    out.add(fnv1a32(w.join(' ')));
    return out;
  }
  for (let i = 0; i + SHINGLE_WORDS <= w.length; i++)
    out.add(fnv1a32(w.slice(i, i + SHINGLE_WORDS).join(' ')));
  return out;
}

export function signature(shingleSet: ReadonlySet<number>): Uint32Array {
  const sig = new Uint32Array(NUM_PERMUTATIONS).fill(0xffffffff);
  for (const s of shingleSet) {
    for (let i = 0; i < NUM_PERMUTATIONS; i++) {
      const h = mix32(s ^ SEEDS[i]!);
      if (h < sig[i]!) sig[i] = h;
    }
  }
  return sig;
}

export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < NUM_PERMUTATIONS; i++) if (a[i] === b[i]) same++;
  return same / NUM_PERMUTATIONS;
}

export function exactJaccard(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  if (a.size === 0 && b.size === 0) return 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let inter = 0;
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/** Rows per band: the most (fewest false candidates) that still propose a pair at `threshold` ≥ 99.5%. */
export function lshParameters(threshold: number, numPermutations = NUM_PERMUTATIONS) {
  let best = { bands: numPermutations, rows: 1 };
  for (let rows = 1; rows <= numPermutations; rows++) {
    const bands = Math.floor(numPermutations / rows);
    const recall = 1 - (1 - threshold ** rows) ** bands;
    if (recall >= 0.995) best = { bands, rows };
    else break;
  }
  return best;
}

/** A passage as near-duplicate detection sees it. */
export interface Fingerprint {
  shingles: ReadonlySet<number>;
  signature: Uint32Array;
}

export function fingerprint(text: string): Fingerprint {
  const s = shingles(text);
  return { shingles: s, signature: signature(s) };
}

/**
 * Near-duplicates when either the estimated or the exact Jaccard similarity reaches the threshold: the
 * exact one (cheap for the few candidates LSH proposes) keeps an unlucky estimate from letting a copy through.
 */
export function isNearDuplicate(a: Fingerprint, b: Fingerprint, threshold: number): boolean {
  if (a.shingles.size === 0 || b.shingles.size === 0) return false;
  return (
    estimatedJaccard(a.signature, b.signature) >= threshold ||
    exactJaccard(a.shingles, b.shingles) >= threshold
  );
}

export class LshIndex<K> {
  private readonly bands: number;
  private readonly rows: number;
  private readonly buckets: Map<string, K[]>[];
  private readonly items = new Map<K, Fingerprint>();

  constructor(private readonly threshold: number) {
    ({ bands: this.bands, rows: this.rows } = lshParameters(threshold));
    this.buckets = Array.from({ length: this.bands }, () => new Map<string, K[]>());
  }

  private bandKey(sig: Uint32Array, band: number): string {
    return Array.from(sig.subarray(band * this.rows, (band + 1) * this.rows)).join(',');
  }

  add(key: K, fp: Fingerprint): void {
    this.items.set(key, fp);
    for (let b = 0; b < this.bands; b++) {
      const k = this.bandKey(fp.signature, b);
      const bucket = this.buckets[b]!.get(k);
      if (bucket) bucket.push(key);
      else this.buckets[b]!.set(k, [key]);
    }
  }

  /** An indexed item that is a near-duplicate of `fp`, if any. */
  findDuplicate(fp: Fingerprint): K | undefined {
    const seen = new Set<K>();
    for (let b = 0; b < this.bands; b++) {
      for (const key of this.buckets[b]!.get(this.bandKey(fp.signature, b)) ?? []) {
        if (seen.has(key)) continue;
        seen.add(key);
        if (isNearDuplicate(fp, this.items.get(key)!, this.threshold)) return key;
      }
    }
    return undefined;
  }
}
