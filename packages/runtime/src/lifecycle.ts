// The composition root's skeleton: start telemetry, start the service, and on SIGTERM/SIGINT shut down in
// an order that loses nothing: stop reporting SERVING, stop accepting and drain RPCs, drain consumer
// batches, close adapters, flush telemetry. A second signal or the deadline ends the process with 1.
import type { Logger } from 'pino';
import { baseConfigSchema, ConfigError, loadConfig, type BaseConfig, type Env } from './config.js';
import { createLogger } from './logger.js';
import { startTelemetry, type Telemetry } from './telemetry.js';

/** Conventional steps; lower runs first, equal orders run concurrently. */
export const ShutdownOrder = {
  /** health.setShuttingDown(): load balancers and probes stop sending traffic. */
  health: 0,
  /** listening.close(timeout): stop accepting, drain in-flight RPCs. */
  server: 10,
  /** consumers: finish the batch in hand, commit, leave the group. */
  consumers: 20,
  /** producers, outbox relays, database clients, vector stores. */
  adapters: 30,
  /** telemetry flush (runService does this itself). */
  telemetry: 40,
} as const;

interface Step {
  name: string;
  order: number;
  fn: () => Promise<void> | void;
}

/**
 * Ordered shutdown steps. One failing step is logged and does not stop the others; `run` rejects at the
 * end if any failed. Reusable in embedded mode, where many services share one process and one Shutdown.
 */
export class Shutdown {
  readonly #steps: Step[] = [];
  readonly #logger: Logger | undefined;
  #running: Promise<void> | undefined;

  constructor(logger?: Logger) {
    this.#logger = logger;
  }

  add(name: string, fn: () => Promise<void> | void, order: number = ShutdownOrder.adapters): this {
    if (this.#running !== undefined)
      throw new Error(`cannot add shutdown step "${name}": shutdown has begun`);
    this.#steps.push({ name, order, fn });
    return this;
  }

  get started(): boolean {
    return this.#running !== undefined;
  }

  /** Runs the steps once; later calls return the same promise. */
  run(): Promise<void> {
    this.#running ??= this.#runSteps();
    return this.#running;
  }

  async #runSteps(): Promise<void> {
    const orders = [...new Set(this.#steps.map((s) => s.order))].sort((a, b) => a - b);
    const failures: Error[] = [];
    for (const order of orders) {
      const steps = this.#steps.filter((s) => s.order === order);
      await Promise.all(
        steps.map(async (step) => {
          const started = Date.now();
          try {
            await step.fn();
            this.#logger?.debug({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
          } catch (err) {
            this.#logger?.error({ step: step.name, err }, 'shutdown step failed');
            failures.push(new Error(`shutdown step "${step.name}" failed`, { cause: err }));
          }
        }),
      );
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} shutdown step(s) failed`);
  }
}

/** The bits of `process` runService touches; tests pass a fake. */
export interface ProcessLike {
  on(
    event: 'SIGTERM' | 'SIGINT' | 'uncaughtException' | 'unhandledRejection',
    listener: (arg: unknown) => void,
  ): unknown;
  off(
    event: 'SIGTERM' | 'SIGINT' | 'uncaughtException' | 'unhandledRejection',
    listener: (arg: unknown) => void,
  ): unknown;
  exit(code: number): void;
}

export interface ServiceContext<C extends BaseConfig = BaseConfig> {
  config: C;
  logger: Logger;
  /** Aborted when shutdown begins: pass it to long-running loops and start-up retries. */
  signal: AbortSignal;
  /** Register shutdown steps here (alternatively, return `stop`). */
  shutdown: Shutdown;
  telemetry: Telemetry;
}

export interface RunServiceOptions<C extends BaseConfig = BaseConfig> {
  name: string;
  version?: string;
  /**
   * The service's parsed configuration, or a function that parses it (so that a ConfigError is reported as
   * one clean log line). Default: the base variables from the environment.
   */
  config?: C | (() => C);
  start: (ctx: ServiceContext<C>) => Promise<{ stop?: () => Promise<void> } | void>;
  /** Defaults to a JSON logger on stdout at config.LOG_LEVEL. */
  logger?: Logger;
  /** Defaults to the real process. */
  process?: ProcessLike;
  env?: Env;
}

export interface RunningService {
  /** Begins the same shutdown as SIGTERM; resolves with the exit code passed to `exit`. */
  shutdown(reason?: string): Promise<number>;
}

/** Runs a service until SIGTERM/SIGINT, then shuts it down gracefully and exits. */
export async function runService<C extends BaseConfig = BaseConfig>(
  options: RunServiceOptions<C>,
): Promise<RunningService> {
  const proc: ProcessLike = options.process ?? process;
  let config: C;
  try {
    config =
      typeof options.config === 'function'
        ? options.config()
        : (options.config ?? (loadConfig(baseConfigSchema, options.env) as C));
  } catch (err) {
    const logger = options.logger ?? createLogger(options.name);
    if (err instanceof ConfigError) logger.fatal({ problems: err.problems }, err.message);
    else logger.fatal({ err }, 'could not load configuration');
    proc.exit(1);
    return { shutdown: () => Promise.resolve(1) };
  }

  const telemetry = startTelemetry({
    serviceName: options.name,
    ...(options.version === undefined ? {} : { serviceVersion: options.version }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const logger = options.logger ?? createLogger(options.name, { level: config.LOG_LEVEL });
  const controller = new AbortController();
  const shutdown = new Shutdown(logger);
  let stop: (() => Promise<void>) | undefined;
  let exiting: Promise<number> | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;

  const exit = (code: number) => {
    clearTimeout(deadlineTimer);
    proc.off('SIGTERM', onSignal);
    proc.off('SIGINT', onSignal);
    proc.off('uncaughtException', onUncaught);
    proc.off('unhandledRejection', onUnhandled);
    proc.exit(code);
    return code;
  };

  const beginShutdown = (reason: string, failed: boolean): Promise<number> => {
    exiting ??= (async () => {
      logger.info({ reason, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down');
      controller.abort(new Error(`shutting down: ${reason}`));
      const deadline = new Promise<'timeout'>((resolve) => {
        deadlineTimer = setTimeout(() => resolve('timeout'), config.SHUTDOWN_TIMEOUT_MS);
      });
      const graceful = (async () => {
        let ok = true;
        try {
          await stop?.();
        } catch (err) {
          ok = false;
          logger.error({ err }, 'stop failed');
        }
        try {
          await shutdown.run();
        } catch {
          ok = false; // each failed step is already logged
        }
        return ok ? 'done' : 'failed';
      })();
      const outcome = await Promise.race([graceful, deadline]);
      clearTimeout(deadlineTimer);
      if (outcome === 'timeout')
        logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
      // Flush even after a timeout: the spans that explain the timeout are worth a last attempt.
      await Promise.race([telemetry.shutdown().catch(() => undefined), delay(1000)]);
      const code = failed || outcome !== 'done' ? 1 : 0;
      logger.info({ code }, 'exiting');
      return exit(code);
    })();
    return exiting;
  };

  let signals = 0;
  function onSignal(signal?: unknown) {
    signals++;
    if (signals > 1) {
      logger.warn('second signal: exiting now');
      exit(1);
      return;
    }
    void beginShutdown(typeof signal === 'string' ? signal : 'signal', false);
  }
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);
  const onUncaught = (err: unknown) => {
    logger.fatal({ err }, 'uncaught exception');
    void beginShutdown('uncaught exception', true);
  };
  const onUnhandled = (err: unknown) => {
    logger.fatal({ err }, 'unhandled promise rejection');
    void beginShutdown('unhandled rejection', true);
  };
  proc.on('uncaughtException', onUncaught);
  proc.on('unhandledRejection', onUnhandled);

  try {
    const started = await options.start({ config, logger, signal: controller.signal, shutdown, telemetry });
    if (started && started.stop) stop = started.stop;
    logger.info('started');
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    await beginShutdown('start failed', true);
  }
  return { shutdown: (reason = 'requested') => beginShutdown(reason, false) };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
