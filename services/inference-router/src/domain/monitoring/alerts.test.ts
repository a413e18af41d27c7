import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { AlertMonitor, type Alert } from './alerts.js';

describe('AlertMonitor', () => {
  const thresholds = { latencyP95Ms: 1_000, errorRate: 0.25, windowSize: 8, windowMs: 60_000, minSamples: 4 };

  it('fires once when a rule crosses its threshold and resolves once when it is back under', () => {
    const published: Alert[] = [];
    const now = 0;
    const m = new AlertMonitor(
      thresholds,
      pino({ level: 'silent' }),
      (a) => published.push(a),
      () => now,
    );
    for (let i = 0; i < 4; i++) expect(m.observe(100, false)).toEqual([]);
    // 2 failures in 6 → 33% > 25%: fires once, not again on the next failure.
    m.observe(100, true);
    const fired = m.observe(100, true);
    expect(fired).toEqual([expect.objectContaining({ rule: 'error_rate', resolved: false })]);
    expect(m.observe(100, true)).toEqual([]);
    expect(m.active()).toEqual(['error_rate']);
    // Successes push the failures out of the 8-sample window: resolved.
    let resolved: Alert[] = [];
    for (let i = 0; i < 8 && resolved.length === 0; i++) resolved = m.observe(100, false);
    expect(resolved).toEqual([expect.objectContaining({ rule: 'error_rate', resolved: true })]);
    expect(published.map((a) => a.resolved)).toEqual([false, true]);
  });

  it('fires on p95 latency, and forgets samples older than the window', () => {
    let now = 0;
    const m = new AlertMonitor(
      thresholds,
      pino({ level: 'silent' }),
      () => {},
      () => now,
    );
    for (let i = 0; i < 3; i++) m.observe(50, false);
    expect(m.observe(5_000, false)).toEqual([expect.objectContaining({ rule: 'latency_p95', value: 5_000 })]);
    now += 120_000;
    // Everything before is out of the time window: too few samples to decide, nothing changes.
    expect(m.observe(50, false)).toEqual([]);
    expect(m.active()).toEqual(['latency_p95']);
  });
});
