// Per-key token buckets: a key may spend its whole per-minute allowance at once, then earns it back
// continuously (limit/60 tokens a second). Buckets live in this process, so with N gateway replicas behind
// a load balancer a key gets up to N times its limit; the limit protects each replica, not a global budget.

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until one request would be allowed again (0 when allowed). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  perMinute: number;
}

const MAX_BUCKETS = 50_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Charges one request to `id`'s bucket of `perMinute` requests. */
  take(id: string, perMinute: number): RateDecision {
    const now = this.now();
    const rate = perMinute / 60_000; // tokens per ms
    let bucket = this.buckets.get(id);
    if (!bucket || bucket.perMinute !== perMinute) {
      // A new key, or its limit changed: start full.
      if (!bucket) this.evictIfFull(now);
      bucket = { tokens: perMinute, updatedAt: now, perMinute };
      this.buckets.set(id, bucket);
    } else {
      bucket.tokens = Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.updatedAt) * rate);
      bucket.updatedAt = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate / 1000)) };
  }

  /** Drops buckets that have refilled completely: they behave exactly like new ones. */
  private evictIfFull(now: number): void {
    if (this.buckets.size < MAX_BUCKETS) return;
    for (const [id, b] of this.buckets) {
      if (b.tokens + (now - b.updatedAt) * (b.perMinute / 60_000) >= b.perMinute) this.buckets.delete(id);
    }
    if (this.buckets.size >= MAX_BUCKETS) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
  }
}
