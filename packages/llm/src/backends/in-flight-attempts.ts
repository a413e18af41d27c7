// A backend's in-flight attempts, counted and abortable, so that removing the backend can wait for the streams
// it is serving (a scale-down never cuts an answer that could finish) and still end by a deadline.

export class InFlightAttempts {
  private readonly controllers = new Set<AbortController>();
  private outstanding = 0;
  private onIdle: (() => void) | undefined;

  /** Attempts in progress (the balancing signal). */
  get count(): number {
    return this.outstanding;
  }

  enter(ctl: AbortController): void {
    this.outstanding++;
    this.controllers.add(ctl);
  }

  leave(ctl: AbortController): void {
    this.controllers.delete(ctl);
    this.outstanding--;
    if (this.outstanding === 0) this.onIdle?.();
  }

  /**
   * Resolves once no attempt is in flight, or after `timeoutMs` (undefined: no limit), when the remaining ones
   * are aborted with `reason()`. Resolves true when it had to abort.
   */
  async drain(timeoutMs: number | undefined, reason: () => unknown): Promise<boolean> {
    let forced = false;
    if (this.outstanding > 0) {
      await new Promise<void>((resolve) => {
        const timer =
          timeoutMs !== undefined
            ? setTimeout(() => {
                forced = true;
                const why = reason();
                for (const ctl of this.controllers) ctl.abort(why);
                resolve();
              }, timeoutMs)
            : undefined;
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.onIdle = undefined;
    return forced;
  }
}
