// grpc.health.v1 that tells the truth: NOT_SERVING while any dependency check fails (or has not passed
// yet), SERVING when all pass, NOT_SERVING for good once shutdown begins. Kubernetes probes, load balancers
// and the CLI's status page all read it.
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { healthv1 } from '@llmtwin/contracts';
import type { Logger } from 'pino';

export const ServingStatus = healthv1.HealthCheckResponse_ServingStatus;
export type ServingStatus = healthv1.HealthCheckResponse_ServingStatus;

/** Resolves when the dependency is usable; rejects (or times out) when it is not. Honour the signal. */
export type DependencyCheck = (signal: AbortSignal) => Promise<void>;

export interface DependencyOptions {
  /** Pause between the end of one check and the start of the next. Default 1000. */
  intervalMs?: number;
  /** A check slower than this counts as failed. Default 2000. */
  timeoutMs?: number;
}

export interface DependencySnapshot {
  name: string;
  up: boolean;
  /** Why it is down ("not checked yet", the error message), or "ok". */
  detail: string;
  /** ISO time of the last completed check; null before the first. */
  lastCheck: string | null;
}

export interface HealthSnapshot {
  status: 'SERVING' | 'NOT_SERVING';
  shuttingDown: boolean;
  /** Effective status per service name; "" is the whole server. */
  services: Record<string, 'SERVING' | 'NOT_SERVING'>;
  dependencies: DependencySnapshot[];
}

interface Dependency {
  readonly name: string;
  readonly check: DependencyCheck;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  up: boolean | undefined;
  detail: string;
  lastCheck: Date | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The check in flight (checks of one dependency never overlap). */
  running: Promise<void> | undefined;
}

type StatusListener = (service: string, status: ServingStatus) => void;

function statusName(status: ServingStatus): 'SERVING' | 'NOT_SERVING' {
  return status === ServingStatus.SERVING ? 'SERVING' : 'NOT_SERVING';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

export class HealthService {
  readonly #logger: Logger | undefined;
  readonly #dependencies = new Map<string, Dependency>();
  /** Registered service names; the value is an explicit override, or undefined to follow the overall status. */
  readonly #services = new Map<string, ServingStatus | undefined>([['', undefined]]);
  readonly #listeners = new Set<StatusListener>();
  readonly #shutdownWaiters = new Set<() => void>();
  #published = new Map<string, ServingStatus>();
  #shuttingDown = false;
  #started = false;

  constructor(options: { logger?: Logger } = {}) {
    this.#logger = options.logger;
    this.#publish();
  }

  /** Adds a dependency whose failure makes the server NOT_SERVING. Checked periodically once started. */
  addDependency(name: string, check: DependencyCheck, options: DependencyOptions = {}): this {
    if (this.#dependencies.has(name)) throw new Error(`health dependency "${name}" is already registered`);
    const dependency: Dependency = {
      name,
      check,
      intervalMs: options.intervalMs ?? 1000,
      timeoutMs: options.timeoutMs ?? 2000,
      up: undefined,
      detail: 'not checked yet',
      lastCheck: undefined,
      timer: undefined,
      running: undefined,
    };
    this.#dependencies.set(name, dependency);
    this.#publish();
    if (this.#started) this.#poll(dependency);
    return this;
  }

  /** Makes `name` (a fully-qualified gRPC service name) known to Check/Watch/List. */
  registerService(...names: string[]): this {
    for (const name of names) if (!this.#services.has(name)) this.#services.set(name, undefined);
    this.#publish();
    return this;
  }

  /** Pins one service's status (e.g. a feature whose backend is switched off); `undefined` unpins it. */
  setServiceStatus(name: string, status: ServingStatus | undefined): this {
    this.#services.set(name, status);
    this.#publish();
    return this;
  }

  /** From now on everything reports NOT_SERVING, and Watch streams end after saying so. */
  setShuttingDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.stop();
    this.#publish();
    // Watchers whose status was already NOT_SERVING saw no change; they still have to end.
    for (const waiter of [...this.#shutdownWaiters]) waiter();
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** The effective status of `service` ("" = overall), or undefined when the name is not registered. */
  status(service = ''): ServingStatus | undefined {
    if (!this.#services.has(service)) return undefined;
    if (this.#shuttingDown) return ServingStatus.NOT_SERVING;
    return this.#services.get(service) ?? this.#overall();
  }

  services(): string[] {
    return [...this.#services.keys()];
  }

  /** Starts polling every dependency (first checks run immediately). */
  start(): void {
    if (this.#started || this.#shuttingDown) return;
    this.#started = true;
    for (const dependency of this.#dependencies.values()) this.#poll(dependency);
  }

  /** Stops polling; a check in flight finishes but is not rescheduled. */
  stop(): void {
    this.#started = false;
    for (const dependency of this.#dependencies.values()) {
      clearTimeout(dependency.timer);
      dependency.timer = undefined;
    }
  }

  /** Runs every dependency check once, now (start-up gates, tests). */
  async checkNow(): Promise<void> {
    await Promise.all([...this.#dependencies.values()].map((d) => this.#check(d)));
  }

  snapshot(): HealthSnapshot {
    const services: Record<string, 'SERVING' | 'NOT_SERVING'> = {};
    for (const name of this.#services.keys()) services[name] = statusName(this.status(name)!);
    return {
      status: statusName(this.status('')!),
      shuttingDown: this.#shuttingDown,
      services,
      dependencies: [...this.#dependencies.values()].map((d) => ({
        name: d.name,
        up: d.up === true,
        detail: d.detail,
        lastCheck: d.lastCheck?.toISOString() ?? null,
      })),
    };
  }

  /** Called with (service, status) whenever a service's effective status changes. Returns unsubscribe. */
  onChange(listener: StatusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The status of `service` now, then every change, until `signal` aborts or shutdown has been announced.
   * An unregistered service reads SERVICE_UNKNOWN (and changes if it gets registered), as the protocol says.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus, void, undefined> {
    const queue: ServingStatus[] = [this.status(service) ?? ServingStatus.SERVICE_UNKNOWN];
    let wake: (() => void) | undefined;
    const unsubscribe = this.onChange((name, status) => {
      if (name !== service) return;
      queue.push(status);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    this.#shutdownWaiters.add(onAbort);
    try {
      let last: ServingStatus | undefined;
      while (!signal.aborted) {
        const next = queue.shift();
        if (next === undefined) {
          if (this.#shuttingDown) return;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (next === last) continue;
        last = next;
        yield next;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      this.#shutdownWaiters.delete(onAbort);
    }
  }

  #overall(): ServingStatus {
    if (this.#shuttingDown) return ServingStatus.NOT_SERVING;
    for (const dependency of this.#dependencies.values()) {
      if (dependency.up !== true) return ServingStatus.NOT_SERVING;
    }
    return ServingStatus.SERVING;
  }

  #publish(): void {
    const next = new Map<string, ServingStatus>();
    for (const name of this.#services.keys()) next.set(name, this.status(name)!);
    const previous = this.#published;
    this.#published = next;
    for (const [name, status] of next) {
      if (previous.get(name) === status) continue;
      for (const listener of [...this.#listeners]) listener(name, status);
    }
  }

  #poll(dependency: Dependency): void {
    void this.#check(dependency).then(() => {
      if (!this.#started || this.#dependencies.get(dependency.name) !== dependency) return;
      clearTimeout(dependency.timer);
      dependency.timer = setTimeout(() => this.#poll(dependency), dependency.intervalMs);
      // Polling alone must not keep a process alive that is otherwise done.
      dependency.timer.unref();
    });
  }

  #check(dependency: Dependency): Promise<void> {
    const run = (dependency.running ?? Promise.resolve()).then(() => this.#runCheck(dependency));
    dependency.running = run;
    return run;
  }

  async #runCheck(dependency: Dependency): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // Raced rather than trusted: a check that ignores its signal must still count as failed in time.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`check timed out after ${dependency.timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, dependency.timeoutMs);
    });
    let up: boolean;
    let detail: string;
    try {
      await Promise.race([dependency.check(controller.signal), timeout]);
      up = true;
      detail = 'ok';
    } catch (err) {
      up = false;
      detail = describe(err);
    } finally {
      clearTimeout(timer);
    }
    const was = dependency.up;
    dependency.up = up;
    dependency.detail = detail;
    dependency.lastCheck = new Date();
    if (was !== up) {
      if (up) this.#logger?.info({ dependency: dependency.name }, 'dependency is up');
      else this.#logger?.warn({ dependency: dependency.name, detail }, 'dependency is down');
    }
    this.#publish();
  }
}

/** Serves grpc.health.v1.Health (Check, List, Watch) from `health`. */
export function registerHealthRoutes(router: ConnectRouter, health: HealthService): void {
  router.service(healthv1.Health, {
    check(request) {
      const status = health.status(request.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return { status };
    },
    list() {
      const statuses: Record<string, { status: ServingStatus }> = {};
      for (const name of health.services()) statuses[name] = { status: health.status(name)! };
      return { statuses };
    },
    async *watch(request, context) {
      for await (const status of health.watch(request.service, context.signal)) yield { status };
    },
  });
}
