// One backend's circuit breaker: consecutive failures take it out for a cooldown, then a single trial request
// decides whether it comes back. A state machine of its own so that the pool's retry loop only asks "may I?"
// and reports verdicts.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (at least 1). */
  failureThreshold: number;
  /** How long an open circuit keeps the backend out before one trial request. */
  cooldownMs: number;
  now: () => number;
}

export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private openedAt = 0;
  private consecutiveFailures = 0;
  /** A half-open circuit lets exactly one request through; this marks it taken. */
  private trialTaken = false;

  constructor(private readonly options: CircuitBreakerOptions) {}

  get failures(): number {
    return this.consecutiveFailures;
  }

  get trialInFlight(): boolean {
    return this.trialTaken;
  }

  /** The circuit as it stands at `now`: an open one whose cooldown ran out lets a trial through. */
  stateAt(now: number): CircuitState {
    if (this.state === 'open' && now - this.openedAt >= this.options.cooldownMs) this.state = 'half-open';
    return this.state;
  }

  /** Whether a new request may go through at `now`. */
  admits(now: number): boolean {
    const state = this.stateAt(now);
    return state === 'closed' || (state === 'half-open' && !this.trialTaken);
  }

  /** Called for a request that admits() let through: true when it is the half-open circuit's trial. */
  take(): boolean {
    const trial = this.state === 'half-open';
    if (trial) this.trialTaken = true;
    return trial;
  }

  /** A trial that reached no verdict (the caller left) gives the next request the chance to be one. */
  abandon(trial: boolean): void {
    if (trial) this.trialTaken = false;
  }

  /** How long an open circuit stays open after `now`. */
  cooldownLeft(now: number): number {
    return Math.max(0, this.options.cooldownMs - (now - this.openedAt));
  }

  // While the circuit is open or half-open only the trial's verdict moves it: requests that were already
  // in flight when it opened say nothing about the backend's state after the cooldown.

  /** Records a success; true when it closed the circuit. */
  succeeded(trial: boolean): boolean {
    if (this.state === 'closed') {
      this.consecutiveFailures = 0;
      return false;
    }
    if (!trial) return false;
    this.consecutiveFailures = 0;
    this.state = 'closed';
    this.trialTaken = false;
    return true;
  }

  /** Records a failure; true when it opened the circuit. */
  failed(trial: boolean): boolean {
    if (this.state === 'closed') {
      this.consecutiveFailures++;
      if (this.consecutiveFailures < this.options.failureThreshold) return false;
    } else if (trial) {
      this.consecutiveFailures++;
      this.trialTaken = false;
    } else {
      return false;
    }
    this.state = 'open';
    this.openedAt = this.options.now();
    return true;
  }
}
