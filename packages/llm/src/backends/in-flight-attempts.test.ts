import { describe, expect, it } from '@jest/globals';
import { InFlightAttempts } from './in-flight-attempts.js';

describe('InFlightAttempts', () => {
  it('drains at once when nothing is in flight', async () => {
    await expect(new InFlightAttempts().drain(10, () => new Error('late'))).resolves.toBe(false);
  });

  it('waits for the last attempt to leave', async () => {
    const inFlight = new InFlightAttempts();
    const a = new AbortController();
    const b = new AbortController();
    inFlight.enter(a);
    inFlight.enter(b);
    expect(inFlight.count).toBe(2);
    let drained = false;
    const drain = inFlight
      .drain(undefined, () => new Error('never'))
      .then((forced) => {
        drained = true;
        return forced;
      });
    inFlight.leave(a);
    await Promise.resolve();
    expect(drained).toBe(false);
    inFlight.leave(b);
    await expect(drain).resolves.toBe(false);
    expect(a.signal.aborted || b.signal.aborted).toBe(false);
  });

  it('aborts what is still in flight when the timeout runs out', async () => {
    const inFlight = new InFlightAttempts();
    const done = new AbortController();
    const stuck = new AbortController();
    inFlight.enter(done);
    inFlight.enter(stuck);
    inFlight.leave(done);
    const reason = new Error('removed');
    await expect(inFlight.drain(5, () => reason)).resolves.toBe(true);
    expect(stuck.signal.reason).toBe(reason);
    expect(done.signal.aborted).toBe(false);
  });
});
