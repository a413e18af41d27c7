import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker } from './circuit-breaker.js';

function breaker(failureThreshold = 2, cooldownMs = 100) {
  const clock = { now: 1_000 };
  return { clock, b: new CircuitBreaker({ failureThreshold, cooldownMs, now: () => clock.now }) };
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures; a success in between starts the count again', () => {
    const { clock, b } = breaker(2);
    expect(b.failed(false)).toBe(false);
    expect(b.succeeded(false)).toBe(false);
    expect(b.failures).toBe(0);
    expect(b.failed(false)).toBe(false);
    expect(b.failed(false)).toBe(true);
    expect(b.stateAt(clock.now)).toBe('open');
    expect(b.admits(clock.now)).toBe(false);
    expect(b.failures).toBe(2);
  });

  it('half-opens after the cooldown and admits exactly one trial', () => {
    const { clock, b } = breaker(1, 100);
    b.failed(false);
    clock.now += 40;
    expect(b.cooldownLeft(clock.now)).toBe(60);
    clock.now += 60;
    expect(b.stateAt(clock.now)).toBe('half-open');
    expect(b.admits(clock.now)).toBe(true);
    expect(b.take()).toBe(true);
    expect(b.trialInFlight).toBe(true);
    expect(b.admits(clock.now)).toBe(false);
  });

  it("moves only on the trial's verdict while open or half-open", () => {
    const { clock, b } = breaker(1, 100);
    b.failed(false);
    // A request that was already in flight when the circuit opened says nothing.
    expect(b.failed(false)).toBe(false);
    expect(b.succeeded(false)).toBe(false);
    expect(b.stateAt(clock.now)).toBe('open');

    clock.now += 100;
    b.admits(clock.now);
    const trial = b.take();
    expect(b.failed(trial)).toBe(true);
    expect(b.stateAt(clock.now)).toBe('open');
    expect(b.trialInFlight).toBe(false);
    expect(b.cooldownLeft(clock.now)).toBe(100);

    clock.now += 100;
    b.admits(clock.now);
    expect(b.succeeded(b.take())).toBe(true);
    expect(b.stateAt(clock.now)).toBe('closed');
    expect(b.failures).toBe(0);
  });

  it('frees the trial slot when the trial is abandoned without a verdict', () => {
    const { clock, b } = breaker(1, 0);
    b.failed(false);
    b.admits(clock.now);
    const trial = b.take();
    b.abandon(trial);
    expect(b.stateAt(clock.now)).toBe('half-open');
    expect(b.admits(clock.now)).toBe(true);
  });

  it('takes no trial slot while closed', () => {
    const { clock, b } = breaker();
    expect(b.admits(clock.now)).toBe(true);
    expect(b.take()).toBe(false);
    expect(b.trialInFlight).toBe(false);
  });
});
