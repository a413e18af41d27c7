// Schedules as pure functions: cron instants in a time zone across both DST changes, jitter that every
// replica computes alike, validation messages that say what to fix, and the backoff curve.
import { describe, expect, it } from '@jest/globals';
import { backoffDelayMs, jitterMs, nextDue, validateSchedule, type Schedule } from './schedule.js';

const cron = (expression: string, timeZone = '', jitterSeconds = 0): Schedule => ({
  intervalSeconds: 0,
  cron: expression,
  timeZone,
  jitterSeconds,
});

/** The due times after `from`, one after the other. */
function dueTimes(s: Schedule, from: string, count: number): string[] {
  const out: string[] = [];
  let at = Date.parse(from);
  for (let i = 0; i < count; i++) {
    at = nextDue(s, 'src_x', at)!;
    out.push(new Date(at).toISOString());
  }
  return out;
}

describe('cron schedules in a time zone', () => {
  it('keeps 02:30 Berlin wall-clock time across the spring change, firing at 03:00 on the day it is skipped', () => {
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day.
    expect(dueTimes(cron('30 2 * * *', 'Europe/Berlin'), '2026-03-27T00:00:00Z', 4)).toEqual([
      '2026-03-27T01:30:00.000Z', // 02:30 CET (UTC+1)
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first valid moment after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST (UTC+2)
    ]);
  });

  it('fires once on the autumn day whose 02:30 happens twice', () => {
    // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 occurs at 00:30Z and again at 01:30Z.
    expect(dueTimes(cron('30 2 * * *', 'Europe/Berlin'), '2026-10-23T12:00:00Z', 3)).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('reads the expression in UTC when no zone is given, and in New York across its own change', () => {
    expect(dueTimes(cron('0 3 * * *'), '2026-03-07T00:00:00Z', 1)).toEqual(['2026-03-07T03:00:00.000Z']);
    // US DST starts 2026-03-08: 03:00 EST is 08:00Z, 03:00 EDT is 07:00Z.
    expect(dueTimes(cron('0 3 * * *', 'America/New_York'), '2026-03-07T00:00:00Z', 2)).toEqual([
      '2026-03-07T08:00:00.000Z',
      '2026-03-08T07:00:00.000Z',
    ]);
  });

  it('moves each due time by a jitter that is the same on every call and within the window', () => {
    const s = cron('0 3 * * *', 'Europe/Berlin', 900);
    const base = Date.parse('2026-06-01T01:00:00Z');
    const first = nextDue(s, 'src_a', base - 1)!;
    expect(first).toBe(nextDue(s, 'src_a', base - 1));
    expect(first - base).toBeGreaterThanOrEqual(0);
    expect(first - base).toBeLessThan(900_000);
    // Different sources spread over the window rather than all firing at once.
    const offsets = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => jitterMs(`src_${id}`, base, 900)));
    expect(offsets.size).toBeGreaterThan(1);
  });
});

describe('validateSchedule', () => {
  const message = (s: Schedule) => {
    try {
      validateSchedule(s);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('accepts an interval, a cron expression, and nothing', () => {
    expect(message({ intervalSeconds: 3600, cron: '', timeZone: '', jitterSeconds: 60 })).toBe('');
    expect(message(cron('0 3 * * *', 'Europe/Berlin', 600))).toBe('');
    expect(message({ intervalSeconds: 0, cron: '', timeZone: '', jitterSeconds: 0 })).toBe('');
  });

  it('says what to fix', () => {
    expect(message(cron('61 3 * * *'))).toMatch(/not a cron expression.*e\.g\. "0 3 \* \* \*"/);
    expect(message(cron('0 3 * * *', 'Europe/Atlantis'))).toMatch(/not an IANA time zone/);
    expect(message(cron('* * * * * *'))).toMatch(/more often than every 60 s/);
    expect(message(cron('0 * * * *', '', 3600))).toMatch(/shorter than the time between two cron runs/);
    expect(message({ intervalSeconds: 3600, cron: '0 3 * * *', timeZone: '', jitterSeconds: 0 })).toMatch(
      /cannot both be set/,
    );
    expect(message({ intervalSeconds: 30, cron: '', timeZone: '', jitterSeconds: 0 })).toMatch(/at least 60/);
    expect(message({ intervalSeconds: 0, cron: '', timeZone: 'UTC', jitterSeconds: 0 })).toMatch(/give cron/);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base with each failure and stops at the cap', () => {
    const policy = { baseMs: 60_000, capMs: 3600_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 8, 1000].map((n) => backoffDelayMs(n, policy) / 60_000)).toEqual([
      1, 2, 4, 8, 16, 32, 60, 60, 60,
    ]);
    expect(backoffDelayMs(0, policy)).toBe(0);
  });
});
