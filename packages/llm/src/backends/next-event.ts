// A backend stream's events, each wait bounded: the first-event and idle timeouts abort the backend's call rather
// than only stop waiting for it, and an abort settles the wait even when the backend ignores its signal.
import { LlmError, type ChatEvent } from '../llm.port.js';

/** Whether a timeout setting is on (zero or Infinity turn it off). */
export const isOn = (ms: number): boolean => Number.isFinite(ms) && ms > 0;

/**
 * A backend stream's events, one wait at a time, each bounded: the first by `firstMs`, the others by
 * `idleMs`. When time runs out `ctl` is aborted (with an LlmError 'timeout'), and an abort settles a wait
 * even when the backend ignores its signal. One timer and one abort listener serve the whole stream: the
 * timer is pushed back at each wait (rather than a new one made per event) and does nothing while no wait
 * is open, so a slow consumer holding an event is never taken for a stalled backend.
 */
export class EventWaiter {
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private first = true;
  /** Whether the open (or last) wait is the stream's first: the timeout's message says which it was. */
  private waitIsFirst = true;
  /** The open wait's reject, while one is open. */
  private rejectOpen: ((reason: unknown) => void) | undefined;
  private readonly onAbort = (): void => {
    const reject = this.rejectOpen;
    this.rejectOpen = undefined;
    reject?.(this.ctl.signal.reason);
  };

  constructor(
    private readonly iterator: AsyncIterator<ChatEvent>,
    private readonly ctl: AbortController,
    private readonly firstMs: number,
    private readonly idleMs: number,
    private readonly endpoint: string,
  ) {
    ctl.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The next event, or a rejection when `ctl` is aborted or the wait's time runs out first (which aborts it). */
  next(): Promise<IteratorResult<ChatEvent>> {
    const { signal } = this.ctl;
    if (signal.aborted) return Promise.reject(signal.reason);
    const first = this.first;
    this.first = false;
    this.arm(first ? this.firstMs : this.idleMs, first);
    return new Promise((resolve, reject) => {
      this.rejectOpen = reject;
      let pending: Promise<IteratorResult<ChatEvent>>;
      try {
        pending = this.iterator.next();
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (r) => {
          if (this.rejectOpen !== reject) return;
          this.rejectOpen = undefined;
          resolve(r);
        },
        (err: unknown) => {
          if (this.rejectOpen !== reject) return;
          this.rejectOpen = undefined;
          reject(err);
        },
      );
    });
  }

  /** Stops the timer and the abort listener; the waiter is done. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.ctl.signal.removeEventListener('abort', this.onAbort);
  }

  private arm(ms: number, first: boolean): void {
    this.waitIsFirst = first;
    if (!isOn(ms)) {
      clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer !== undefined && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => {
      // Ran out while the consumer held an event: not the backend's silence; the next wait re-arms it.
      if (this.rejectOpen === undefined) return;
      // Aborting (rather than only rejecting) makes a well-behaved backend drop the upstream request too.
      this.ctl.abort(
        new LlmError(
          'timeout',
          this.waitIsFirst
            ? `no answer from ${this.endpoint} within ${ms} ms`
            : `the stream from ${this.endpoint} stalled for ${ms} ms`,
        ),
      );
    }, ms);
  }
}
