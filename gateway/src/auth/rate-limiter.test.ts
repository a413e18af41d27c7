import { describe, expect, it } from '@jest/globals';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('allows a full minute of requests at once, then one more per 60/limit seconds', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    for (let i = 0; i < 6; i++) expect(limiter.take('k', 6).allowed).toBe(true);
    expect(limiter.take('k', 6)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    now += 4_000;
    expect(limiter.take('k', 6)).toEqual({ allowed: false, retryAfterSeconds: 6 });
    now += 6_000;
    expect(limiter.take('k', 6).allowed).toBe(true);
    expect(limiter.take('k', 6).allowed).toBe(false);
  });

  it('keeps one bucket per key', () => {
    const limiter = new RateLimiter(() => 0);
    expect(limiter.take('a', 1).allowed).toBe(true);
    expect(limiter.take('a', 1).allowed).toBe(false);
    expect(limiter.take('b', 1).allowed).toBe(true);
  });

  it('never refills above the limit', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    limiter.take('k', 2);
    now += 3_600_000;
    expect(limiter.take('k', 2).allowed).toBe(true);
    expect(limiter.take('k', 2).allowed).toBe(true);
    expect(limiter.take('k', 2).allowed).toBe(false);
  });
});
