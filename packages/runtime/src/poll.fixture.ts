// The one polling helper for tests: ask `probe` again and again until its answer is good enough, boundedly.
// Tests import it as `@llmtwin/testkit/poll`; it lives here, in the runtime's test fixtures, because the
// ports' contract suites need it too and @llmtwin/testkit depends on @llmtwin/ports: a helper in testkit
// would make the two packages depend on each other. It imports nothing, so every package may load it.
import { inspect } from 'node:util';

export interface PollOptions {
  /** What is awaited, for the error: "timed out … waiting for <what>". */
  readonly what: string;
  /** The deadline, from the call: past it, poll throws, even while a probe is still running. Default 10 s. */
  readonly timeoutMs?: number;
  /** The pause after an attempt that was not good enough. Default 20 ms. */
  readonly intervalMs?: number;
  /** Stops the wait at once: poll rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** One attempt. The signal aborts when poll gives up (deadline or caller's signal), so a probe can stop too. */
export type Probe<T> = (signal: AbortSignal) => T | Promise<T>;

/** Thrown when the deadline passes: says what was awaited and what the probe last answered or threw. */
export class PollTimeoutError extends Error {
  override readonly name = 'PollTimeoutError';

  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    /** What the last finished attempt returned (undefined when it threw or none finished). */
    readonly lastValue: unknown,
    /** What the last finished attempt threw, also the `cause`. */
    readonly lastError: unknown,
    finished: boolean,
  ) {
    const last = !finished
      ? 'no attempt finished'
      : lastError !== undefined
        ? `last error: ${lastError instanceof Error ? lastError.message : inspect(lastError)}`
        : `last value: ${inspect(lastValue, { depth: 4, breakLength: Infinity, maxStringLength: 500 })}`;
    super(
      `timed out after ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}) waiting for ${what}; ${last}`,
      lastError !== undefined ? { cause: lastError } : undefined,
    );
  }
}

/** The default acceptance: an answer at all (not undefined or null) that is not `false`. */
const answered = (value: unknown): boolean => value !== undefined && value !== null && value !== false;

/**
 * Calls `probe` until its value is accepted, and returns that value. An attempt that throws is tried
 * again; its error is reported if the deadline passes. Without `until`, a value is accepted when it is
 * neither undefined, null nor false, so a probe returns a boolean or "the thing, or undefined while not yet".
 *
 *   await poll(() => bus.lag('clean', topic).then((n) => n === 0), { what: 'clean to catch up' });
 *   const job = await poll(() => jobs.get(id), { what: `job ${id}`, until: (j) => j.state === 'done' });
 */
export function poll<T>(probe: Probe<T>, options: PollOptions & { until: (value: T) => boolean }): Promise<T>;
export function poll<T>(probe: Probe<T | undefined | null | false>, options: PollOptions): Promise<T>;
export async function poll<T>(
  probe: Probe<T>,
  options: PollOptions & { until?: (value: T) => boolean },
): Promise<T> {
  const { what, timeoutMs = 10_000, intervalMs = 20, signal } = options;
  const accept = options.until ?? answered;
  signal?.throwIfAborted();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const stop = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal]);
  let attempts = 0;
  let finished = false;
  let lastValue: unknown;
  let lastError: unknown;
  try {
    while (!stop.aborted) {
      attempts += 1;
      try {
        const value = await unlessAborted(probe, stop);
        if (accept(value)) return value;
        [finished, lastValue, lastError] = [true, value, undefined];
      } catch (error) {
        if (stop.aborted) break;
        [finished, lastValue, lastError] = [true, undefined, error];
      }
      await pause(intervalMs, stop);
    }
  } finally {
    clearTimeout(timer);
  }
  if (signal?.aborted) throw signal.reason;
  throw new PollTimeoutError(what, timeoutMs, attempts, lastValue, lastError, finished);
}

/** Runs one attempt, but settles (rejecting) as soon as `stop` aborts: a hung probe cannot outlive the deadline. */
function unlessAborted<T>(probe: Probe<T>, stop: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(stop.reason);
    stop.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => stop.removeEventListener('abort', onAbort);
    Promise.resolve()
      .then(() => probe(stop))
      .then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
  });
}

/** Waits `ms`, or less when `stop` aborts first; never rejects. */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done, { once: true });
  });
}
