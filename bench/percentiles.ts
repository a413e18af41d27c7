// One way to read percentiles for every benchmark (bench/*.ts) and the load driver (loadtest/drive.ts): exact
// nearest rank over the recorded samples, the smallest sample with at least p% of all samples at or below
// it, so a reported p99 is a latency some request really had. Not an HDR histogram (hdr-histogram-js): a run
// records at most a few hundred thousand samples, which sort in milliseconds, so a histogram's bounded memory
// buys nothing here while its buckets round every value (to its significant digits) and add a dependency.
// The runs used to disagree (nearest rank in two places, floor(p·n) in two others, which reads one rank
// higher); they all read this now.

export class Distribution {
  private readonly sorted: Float64Array;

  constructor(samples: Iterable<number>) {
    // A Float64Array sorts numerically (an Array's default sort compares strings).
    this.sorted = Float64Array.from(samples).sort();
  }

  get count(): number {
    return this.sorted.length;
  }

  /** Nearest rank, for p in [0, 100]; p = 0 gives the minimum. NaN when there are no samples. */
  percentile(p: number): number {
    const n = this.sorted.length;
    if (n === 0) return NaN;
    // p·n/100 rather than (p/100)·n: integer p and n then give an exact rank, with no 0.95·100 = 95.000…01.
    const rank = Math.ceil((p * n) / 100);
    return this.sorted[Math.min(n, Math.max(1, rank)) - 1]!;
  }

  get min(): number {
    return this.sorted.length === 0 ? NaN : this.sorted[0]!;
  }

  get max(): number {
    return this.sorted.length === 0 ? NaN : this.sorted[this.sorted.length - 1]!;
  }

  get mean(): number {
    let sum = 0;
    for (const v of this.sorted) sum += v;
    return this.sorted.length === 0 ? NaN : sum / this.sorted.length;
  }
}

/** The p-th percentile (nearest rank) of unsorted samples; NaN when there are none. */
export const percentile = (samples: Iterable<number>, p: number): number =>
  new Distribution(samples).percentile(p);
