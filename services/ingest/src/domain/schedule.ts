// When a source is crawled: a fixed interval, or a cron expression read in an IANA time zone (croner: no
// dependencies, time zones through Intl, and DST handled as the Open Cron Pattern Specification says — a
// wall-clock time skipped by the spring change fires at the first valid moment after it, one repeated by the
// autumn change fires once). Jitter spreads sources that share an expression over a window after each due
// time; it is derived from the source and the due time, so every replica computes the same instant and the
// compare-and-set claim on it still admits exactly one of them.
import { invalidArgument } from '@llmtwin/runtime/errors';
import { Cron } from 'croner';
import { createHash } from 'node:crypto';

export interface Schedule {
  /** Seconds between crawls; 0 when a cron expression (or nothing) schedules the source. */
  intervalSeconds: number;
  /** A 5- or 6-field cron expression; '' for none. */
  cron: string;
  /** IANA time zone the expression is read in; '' for UTC. */
  timeZone: string;
  /** Each due time moves by up to this many seconds. */
  jitterSeconds: number;
}

export const MIN_INTERVAL_SECONDS = 60;
const MAX_JITTER_SECONDS = 6 * 3600;

export const isScheduled = (s: Schedule) => s.intervalSeconds > 0 || s.cron !== '';

function cronOf(s: Schedule): Cron {
  return new Cron(s.cron, { timezone: s.timeZone || 'UTC', paused: true });
}

/** Throws invalid-argument, naming the field to fix, when a schedule cannot be used. */
export function validateSchedule(s: Schedule): void {
  const bad = (field: string, message: string, detail: string) => {
    throw invalidArgument(`${field} ${message}`, [{ field, message: detail }]);
  };
  if (s.intervalSeconds !== 0 && s.intervalSeconds < MIN_INTERVAL_SECONDS)
    bad(
      'schedule_interval_seconds',
      `must be 0 (no schedule) or at least ${MIN_INTERVAL_SECONDS}`,
      `0 or >= ${MIN_INTERVAL_SECONDS}`,
    );
  if (s.cron !== '' && s.intervalSeconds > 0)
    bad('cron', 'and schedule_interval_seconds cannot both be set: choose one', 'cron or interval, not both');
  if (s.timeZone !== '') {
    try {
      new Intl.DateTimeFormat('en', { timeZone: s.timeZone });
    } catch {
      bad('time_zone', `"${s.timeZone}" is not an IANA time zone (e.g. Europe/Berlin)`, 'an IANA time zone');
    }
  }
  if (s.timeZone !== '' && s.cron === '')
    bad('time_zone', 'only applies to a cron schedule: give cron too', 'needs cron');
  if (!Number.isInteger(s.jitterSeconds) || s.jitterSeconds < 0 || s.jitterSeconds > MAX_JITTER_SECONDS)
    bad('jitter_seconds', `must be 0 to ${MAX_JITTER_SECONDS}`, `0..${MAX_JITTER_SECONDS}`);
  if (s.cron === '') {
    if (s.jitterSeconds > 0 && s.jitterSeconds >= s.intervalSeconds)
      bad('jitter_seconds', 'must be shorter than the interval', '< interval');
    return;
  }
  let first: Date | null;
  let second: Date | null;
  try {
    const cron = cronOf(s);
    first = cron.nextRun(new Date());
    second = first && cron.nextRun(first);
  } catch (err) {
    bad(
      'cron',
      `"${s.cron}" is not a cron expression: ${err instanceof Error ? err.message : String(err)} ` +
        '(five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *")',
      'a cron expression',
    );
    return;
  }
  if (!first || !second) bad('cron', `"${s.cron}" never fires`, 'must fire');
  const gapMs = second!.getTime() - first!.getTime();
  if (gapMs < MIN_INTERVAL_SECONDS * 1000)
    bad('cron', `"${s.cron}" fires more often than every ${MIN_INTERVAL_SECONDS} s`, 'at most once a minute');
  if (s.jitterSeconds * 1000 >= gapMs)
    bad('jitter_seconds', 'must be shorter than the time between two cron runs', '< the cron period');
}

/** A stable offset in [0, jitterSeconds) for one source and one base due time. */
export function jitterMs(sourceId: string, baseMs: number, jitterSeconds: number): number {
  if (jitterSeconds <= 0) return 0;
  const digest = createHash('sha256').update(`${sourceId}\n${baseMs}`).digest();
  return digest.readUInt32BE(0) % (jitterSeconds * 1000);
}

/**
 * The first due time after `afterMs` (jitter included), or null for an unscheduled source. Interval
 * schedules count from `afterMs`; cron schedules take the expression's next instant in its time zone.
 */
export function nextDue(s: Schedule, sourceId: string, afterMs: number): number | null {
  if (s.cron !== '') {
    const next = cronOf(s).nextRun(new Date(afterMs));
    if (!next) return null;
    return next.getTime() + jitterMs(sourceId, next.getTime(), s.jitterSeconds);
  }
  if (s.intervalSeconds > 0) {
    const base = afterMs + s.intervalSeconds * 1000;
    return base + jitterMs(sourceId, base, s.jitterSeconds);
  }
  return null;
}

export interface BackoffPolicy {
  /** The delay after the first failure; doubles with each further one. */
  baseMs: number;
  /** No delay grows past this. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, capMs: 24 * 3600_000 };

/** How long after the n-th consecutive failure (n >= 1) the source is tried again, at the earliest. */
export function backoffDelayMs(failures: number, policy: BackoffPolicy): number {
  if (failures < 1) return 0;
  // 2^(n-1) overflows to Infinity long after the cap is reached; Math.min keeps the cap.
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(failures - 1, 52));
}
