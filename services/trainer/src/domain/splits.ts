// Train/test splits by whole documents, so that no document lends passages to both. Two strategies:
//   document  a document goes to test when a hash of (seed, document id) falls below test_fraction: stable
//             for a seed whatever else is in the snapshot (the default);
//   time      the newest documents by publish time (then id) go to test: an evaluation on what the author
//             wrote after everything trained on.
// With two documents or more, both splits get at least one.
import { sha256Hex, unitInterval } from './text-hash.js';

export type SplitName = 'train' | 'test';
export type SplitStrategy = 'document' | 'time';

export interface SplitDocument {
  id: string;
  /** Epoch ms, or null when unknown (counted as oldest). */
  publishedAt: number | null;
}

export interface SplitOptions {
  testFraction: number;
  seed: bigint;
  strategy: SplitStrategy;
}

export async function assignSplits(
  docs: readonly SplitDocument[],
  options: SplitOptions,
): Promise<Map<string, SplitName>> {
  const out = new Map<string, SplitName>();
  if (docs.length === 0) return out;
  if (options.strategy === 'time') {
    const ordered = [...docs].sort(
      (a, b) => (a.publishedAt ?? -Infinity) - (b.publishedAt ?? -Infinity) || a.id.localeCompare(b.id),
    );
    let test = Math.round(options.testFraction * ordered.length);
    if (ordered.length >= 2) test = Math.min(ordered.length - 1, Math.max(1, test));
    ordered.forEach((d, i) => out.set(d.id, i >= ordered.length - test ? 'test' : 'train'));
    return out;
  }
  const draws = await Promise.all(
    docs.map(async (d) => ({ id: d.id, u: unitInterval(await sha256Hex(`${options.seed}:${d.id}`)) })),
  );
  for (const d of draws) out.set(d.id, d.u < options.testFraction ? 'test' : 'train');
  if (docs.length >= 2) {
    const byDraw = [...draws].sort((a, b) => a.u - b.u || a.id.localeCompare(b.id));
    // The documents closest to the line move across it when a split came out empty.
    if (![...out.values()].includes('test')) out.set(byDraw[0]!.id, 'test');
    if (![...out.values()].includes('train')) out.set(byDraw[byDraw.length - 1]!.id, 'train');
  }
  return out;
}
