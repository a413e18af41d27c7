// De-duplication of passages: exact (equal normal forms), near (MinHash/LSH over word shingles, see
// minhash.ts) within the whole dataset, and across splits — a train passage that is a near-duplicate of a
// test passage is dropped, so that no test passage is seen in training, not even a near copy of it.
import { normalizeForDedup } from './hygiene.js';
import { LshIndex, type Fingerprint } from './minhash.js';
import { sha256Hex } from './text-hash.js';

export interface Dedupable {
  text: string;
  fingerprint: Fingerprint;
}

/** Keeps the first of each group of passages with the same normal form. */
export async function removeExactDuplicates<T extends Pick<Dedupable, 'text'>>(
  items: readonly T[],
): Promise<{ kept: T[]; removed: number }> {
  const seen = new Set<string>();
  const kept: T[] = [];
  for (const item of items) {
    const key = await sha256Hex(normalizeForDedup(item.text));
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push(item);
  }
  return { kept, removed: items.length - kept.length };
}

/** Keeps a passage unless it is a near-duplicate of one kept before it (in the given order). */
export function removeNearDuplicates<T extends Dedupable>(
  items: readonly T[],
  threshold: number,
): { kept: T[]; removed: number } {
  const index = new LshIndex<number>(threshold);
  const kept: T[] = [];
  items.forEach((item, i) => {
    if (index.findDuplicate(item.fingerprint) !== undefined) return;
    index.add(i, item.fingerprint);
    kept.push(item);
  });
  return { kept, removed: items.length - kept.length };
}

/** Drops every train passage that is a near-duplicate of some test passage. */
export function removeTestOverlap<T extends Dedupable>(
  train: readonly T[],
  test: readonly T[],
  threshold: number,
): { kept: T[]; removed: number } {
  const index = new LshIndex<number>(threshold);
  test.forEach((item, i) => index.add(i, item.fingerprint));
  const kept = train.filter((item) => index.findDuplicate(item.fingerprint) === undefined);
  return { kept, removed: train.length - kept.length };
}
