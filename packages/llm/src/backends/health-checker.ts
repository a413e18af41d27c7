// Active health checks for a pool's backends: periodic rounds that never overlap, each check bounded by a
// timeout, so that a backend that stopped answering leaves the rotation before a request finds out.
import { LlmError, type LlmBackend } from '../llm.port.js';

/** What the checker reads and updates: the pool's state of one backend. */
export interface HealthTarget {
  readonly backend: LlmBackend;
  healthy: boolean;
  /** A backend being removed keeps the health it had: it takes no new requests anyway. */
  readonly draining: boolean;
}

export interface HealthCheckerOptions {
  /** Period of the checks between start() and stop(). */
  healthIntervalMs: number;
  /** Longest wait for one check. */
  healthTimeoutMs: number;
}

export class HealthChecker<T extends HealthTarget> {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private generation = 0;
  private round: Promise<void> | undefined;

  constructor(
    private readonly targets: () => readonly T[],
    private readonly options: HealthCheckerOptions,
    /** Called after a target's `healthy` changed. */
    private readonly changed: (target: T, healthy: boolean, error: unknown) => void,
  ) {}

  /** One round now, then one every healthIntervalMs after it ends. */
  start(): void {
    if (this.running) return;
    this.running = true;
    // A stop() then start() while a round is still running must not leave two loops behind: the old
    // loop sees that its generation is over when its round ends.
    const generation = ++this.generation;
    const loop = (): void => {
      if (!this.running || generation !== this.generation) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.checkAll().finally(loop);
      }, this.options.healthIntervalMs);
      // Health checks alone should not keep the process alive.
      this.timer.unref();
    };
    void this.checkAll().finally(loop);
  }

  /** Stops the periodic checks and waits for a round in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }

  /**
   * Checks every target once. A call while a round is running joins that round, so that checks never
   * overlap (a slow backend would otherwise pile up checks against itself).
   */
  checkAll(): Promise<void> {
    this.round ??= this.runRound().finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private async runRound(): Promise<void> {
    await Promise.all(this.targets().map((t) => this.checkOne(t)));
  }

  private async checkOne(t: T): Promise<void> {
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let error: unknown;
    try {
      // Raced, not only signalled: a hung backend must not stall the round and so every later one.
      await Promise.race([
        t.backend.health(ctl.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new LlmError(
              'timeout',
              `health check of ${t.backend.endpoint} took over ${this.options.healthTimeoutMs} ms`,
            );
            ctl.abort(err);
            reject(err);
          }, this.options.healthTimeoutMs);
          timer.unref();
        }),
      ]);
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(timer);
    }
    const healthy = error === undefined;
    if (t.draining || healthy === t.healthy) return;
    t.healthy = healthy;
    this.changed(t, healthy, error);
  }
}
