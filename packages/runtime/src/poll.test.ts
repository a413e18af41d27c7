import { describe, expect, it } from '@jest/globals';
import { poll, PollTimeoutError } from './poll.fixture.js';

/** A probe that answers from a script, one entry per attempt, then repeats the last entry. */
function scripted<T>(answers: (T | Error)[]): { probe: () => T; calls: () => number } {
  let calls = 0;
  return {
    probe: () => {
      const answer = answers[Math.min(calls, answers.length - 1)]!;
      calls += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    calls: () => calls,
  };
}

const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );

describe('poll', () => {
  it('returns the first value that is not undefined, null or false, after as many attempts as it took', async () => {
    const s = scripted<{ id: string } | undefined | null | false>([undefined, null, false, { id: 'job_1' }]);
    const job = await poll(s.probe, { what: 'the job', intervalMs: 1 });
    expect(job).toEqual({ id: 'job_1' });
    expect(s.calls()).toBe(4);
  });

  it('waits for a condition: a probe that returns a boolean', async () => {
    let ready = false;
    let attempts = 0;
    const done = poll(
      () => {
        attempts += 1;
        if (attempts === 3) ready = true;
        return ready;
      },
      { what: 'ready', intervalMs: 1 },
    );
    await expect(done).resolves.toBe(true);
    expect(attempts).toBe(3);
  });

  it('accepts 0 and the empty string by default, and takes what `until` accepts when given', async () => {
    await expect(poll(() => 0, { what: 'zero' })).resolves.toBe(0);
    await expect(poll(() => '', { what: 'empty' })).resolves.toBe('');
    const lags = scripted([3, 1, 0]);
    await expect(poll(lags.probe, { what: 'no lag', intervalMs: 1, until: (n) => n === 0 })).resolves.toBe(0);
    expect(lags.calls()).toBe(3);
  });

  it('tries again after a probe throws, and returns the later answer', async () => {
    const s = scripted<string>([new Error('connection refused'), new Error('connection refused'), 'SERVING']);
    await expect(poll(s.probe, { what: 'health', intervalMs: 1 })).resolves.toBe('SERVING');
    expect(s.calls()).toBe(3);
  });

  it('throws past the deadline, naming what it waited for and the last value the probe returned', async () => {
    const s = scripted([{ state: 'RUNNING', done: 2 }]);
    const error = await rejection(
      poll(s.probe, {
        what: 'the crawl to finish',
        timeoutMs: 30,
        intervalMs: 1,
        until: (j) => j.done === 5,
      }),
    );
    expect(error).toBeInstanceOf(PollTimeoutError);
    const timeout = error as PollTimeoutError;
    expect(timeout.message).toMatch(
      /^timed out after 30 ms \(\d+ attempts?\) waiting for the crawl to finish; last value: \{ state: 'RUNNING', done: 2 \}$/,
    );
    expect(timeout.what).toBe('the crawl to finish');
    expect(timeout.lastValue).toEqual({ state: 'RUNNING', done: 2 });
    expect(timeout.attempts).toBe(s.calls());
    expect(timeout.cause).toBeUndefined();
  });

  it('reports the last error, as message and cause, when the last attempt threw', async () => {
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:9092');
    const s = scripted<boolean>([false, refused]);
    const error = (await rejection(
      poll(s.probe, { what: 'kafka', timeoutMs: 30, intervalMs: 1 }),
    )) as PollTimeoutError;
    expect(error).toBeInstanceOf(PollTimeoutError);
    expect(error.message).toMatch(/waiting for kafka; last error: connect ECONNREFUSED 127\.0\.0\.1:9092$/);
    expect(error.cause).toBe(refused);
    expect(error.lastError).toBe(refused);
  });

  it('is bounded even when a probe never settles, and aborts the signal that probe was given', async () => {
    let seen: AbortSignal | undefined;
    const error = await rejection(
      poll(
        (signal) => {
          seen = signal;
          return new Promise<boolean>(() => undefined);
        },
        { what: 'an answer', timeoutMs: 20 },
      ),
    );
    expect(error).toBeInstanceOf(PollTimeoutError);
    expect((error as Error).message).toMatch(/\(1 attempt\) waiting for an answer; no attempt finished$/);
    expect(seen?.aborted).toBe(true);
  });

  it('rejects with the reason of an already aborted signal without calling the probe', async () => {
    const controller = new AbortController();
    const reason = new Error('test over');
    controller.abort(reason);
    const s = scripted([true]);
    await expect(poll(s.probe, { what: 'x', signal: controller.signal })).rejects.toBe(reason);
    expect(s.calls()).toBe(0);
  });

  it('stops waiting when the signal aborts, with its reason rather than a timeout', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    let attempts = 0;
    const waiting = poll(
      () => {
        attempts += 1;
        if (attempts === 2) controller.abort(reason);
        return false;
      },
      { what: 'never', timeoutMs: 600_000, intervalMs: 1, signal: controller.signal },
    );
    await expect(waiting).rejects.toBe(reason);
    expect(attempts).toBe(2);
  });
});
