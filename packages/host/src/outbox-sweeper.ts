// Runs an outbox relay: once at start (events whose writes happened before a crash go out first), then every
// few seconds, never two sweeps at once; stop waits for the sweep in flight.
import type { Logger } from 'pino';

export class OutboxSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    /** Publishes pending events; returns how many. */
    private readonly flush: () => Promise<number>,
    private readonly logger: Logger,
    private readonly intervalMs = 5_000,
  ) {}

  sweep(): Promise<void> {
    this.sweeping ??= this.flush()
      .then((n) => {
        if (n > 0) this.logger.info({ published: n }, 'outbox relay published pending events');
      })
      .catch((err: unknown) => this.logger.warn({ err }, 'outbox relay failed; retrying'))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  async start(): Promise<void> {
    await this.sweep();
    this.timer ??= setInterval(() => void this.sweep(), this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }
}
