// A pool of interchangeable backends serving one model, itself an LlmBackend so the RAG pipeline does not
// know whether it talks to one GPU server or ten. It balances by least outstanding requests, retries a
// failed call on another backend while nothing has reached the caller yet, bounds every wait with
// timeouts (next-event.ts), keeps a circuit breaker (circuit-breaker.ts) and an active health check
// (health-checker.ts) per backend, and drains a backend before closing it (in-flight-attempts.ts) so that a
// scale-down or a model swap never cuts a stream that could have finished.
import {
  isRetryable,
  LlmError,
  type BackendKind,
  type ChatEvent,
  type ChatRequest,
  type LlmBackend,
  type LlmErrorKind,
} from '../llm.port.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import { HealthChecker } from './health-checker.js';
import { InFlightAttempts } from './in-flight-attempts.js';
import { EventWaiter, isOn } from './next-event.js';

export type { CircuitState } from './circuit-breaker.js';

/** The abort reason of a backend call the pool stopped reading (every call ends so): made once. */
const NO_LONGER_READ = new LlmError('interrupted', 'the pool no longer reads this stream');

export interface AttemptFailedEvent {
  model: string;
  endpoint: string;
  /** 1 for the first backend tried for this request. */
  attempt: number;
  error: unknown;
  /** Whether text had already reached the caller (the request then ends as 'interrupted'). */
  streamed: boolean;
  /** Whether the pool will try another backend. */
  willRetry: boolean;
}

/**
 * Callbacks for logs and metrics. They run synchronously on the request path, so they should be cheap; an
 * exception thrown by one is swallowed rather than failing the request it reports on.
 */
export interface PoolListener {
  attemptFailed?(event: AttemptFailedEvent): void;
  retried?(event: { model: string; from: string; to: string; attempt: number; error: unknown }): void;
  circuitOpened?(event: { model: string; endpoint: string; failures: number; error: unknown }): void;
  circuitClosed?(event: { model: string; endpoint: string }): void;
  healthChanged?(event: { model: string; endpoint: string; healthy: boolean; error?: unknown }): void;
  backendRemoved?(event: { model: string; endpoint: string; forced: boolean }): void;
}

export interface BackendPoolOptions {
  /** Backends tried per request, each a different one. Default: the number of backends, at most 3. */
  maxAttempts?: number;
  /**
   * Longest wait for a backend's first event (queueing plus prompt processing). Default 30 s. Zero or
   * Infinity turns it off.
   */
  firstEventTimeoutMs?: number;
  /** Longest silence between two events of a stream. Default 30 s. Zero or Infinity turns it off. */
  idleTimeoutMs?: number;
  /** Consecutive failures that open a backend's circuit. Default 3. */
  failureThreshold?: number;
  /** How long an open circuit keeps a backend out before one trial request. Default 10 s. */
  cooldownMs?: number;
  /** Period of the active health checks started by start(). Default 5 s. */
  healthIntervalMs?: number;
  /** Longest wait for one health check. Default 2 s. */
  healthTimeoutMs?: number;
  /** Longest wait for a removed backend's in-flight requests before it is closed anyway. Default 30 s. */
  drainTimeoutMs?: number;
  /** Clock for the circuit breaker (tests inject one). Default Date.now. */
  now?: () => number;
  listener?: PoolListener;
}

export interface BackendStatus {
  endpoint: string;
  kind: BackendKind;
  healthy: boolean;
  circuit: CircuitState;
  consecutiveFailures: number;
  outstanding: number;
  draining: boolean;
  /** Whether a new request may be sent to it now. */
  eligible: boolean;
}

export interface PoolSnapshot {
  model: string;
  /** True when at least one backend may take a new request. */
  healthy: boolean;
  /** Requests in progress through this pool, retries counted once. */
  inFlight: number;
  backends: BackendStatus[];
}

const DEFAULTS = {
  maxAttempts: 3,
  firstEventTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  failureThreshold: 3,
  cooldownMs: 10_000,
  healthIntervalMs: 5_000,
  healthTimeoutMs: 2_000,
  drainTimeoutMs: 30_000,
};

/** Pool-side state of one backend. */
class Member {
  healthy = true;
  draining = false;
  /** The in-flight attempts, so that a drain can wait for them and abort them when it runs out of time. */
  readonly inFlight = new InFlightAttempts();
  drained: Promise<void> | undefined;

  constructor(
    readonly backend: LlmBackend,
    readonly breaker: CircuitBreaker,
  ) {}
}

/** What one attempt ended with, when it did not end the request itself. */
type AttemptOutcome = { ok: true } | { ok: false; error: unknown };

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class BackendPool implements LlmBackend {
  readonly model: string;
  private members: Member[] = [];
  private readonly options: Required<Omit<BackendPoolOptions, 'maxAttempts' | 'listener'>> & {
    maxAttempts: number | undefined;
  };
  private readonly listener: PoolListener | undefined;
  private lastKind: BackendKind;
  /** Rotates the starting point of the least-outstanding scan, so that ties go round-robin. */
  private cursor = 0;
  private active = 0;
  private closed = false;
  private readonly healthChecks: HealthChecker<Member>;

  constructor(model: string, backends: readonly LlmBackend[], options: BackendPoolOptions = {}) {
    if (backends.length === 0) {
      throw new Error(`the pool for model "${model}" needs at least one backend`);
    }
    this.model = model;
    this.lastKind = backends[0]!.kind;
    this.listener = options.listener;
    this.options = {
      maxAttempts: options.maxAttempts,
      firstEventTimeoutMs: options.firstEventTimeoutMs ?? DEFAULTS.firstEventTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      failureThreshold: Math.max(1, options.failureThreshold ?? DEFAULTS.failureThreshold),
      cooldownMs: options.cooldownMs ?? DEFAULTS.cooldownMs,
      healthIntervalMs: options.healthIntervalMs ?? DEFAULTS.healthIntervalMs,
      healthTimeoutMs: options.healthTimeoutMs ?? DEFAULTS.healthTimeoutMs,
      drainTimeoutMs: options.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
      now: options.now ?? Date.now,
    };
    this.healthChecks = new HealthChecker(
      () => this.serving(),
      this.options,
      (m, healthy, error) =>
        this.emit((l) =>
          l.healthChanged?.({
            model: this.model,
            endpoint: m.backend.endpoint,
            healthy,
            ...(healthy ? {} : { error }),
          }),
        ),
    );
    for (const b of backends) this.add(b);
  }

  /** The kind of the backends (the first serving one's, when a pool mixes kinds). */
  get kind(): BackendKind {
    return this.serving()[0]?.backend.kind ?? this.lastKind;
  }

  get endpoint(): string {
    return this.serving()
      .map((m) => m.backend.endpoint)
      .join(', ');
  }

  /** The smallest known context window: any backend may serve a request, so the prompt must fit them all. */
  get contextTokens(): number | undefined {
    const known = this.serving()
      .map((m) => m.backend.contextTokens)
      .filter((t): t is number => t !== undefined);
    return known.length > 0 ? Math.min(...known) : undefined;
  }

  /** The checkpoint the pool serves, when its backends agree on a known one (a pool is one model). */
  get baseModel(): string | undefined {
    const bases = new Set(this.serving().map((m) => m.backend.baseModel));
    const [only] = bases;
    return bases.size === 1 ? only : undefined;
  }

  /** Requests in progress through this pool (the autoscaling signal). */
  get inFlight(): number {
    return this.active;
  }

  add(backend: LlmBackend): void {
    this.check([backend], this.serving());
    this.members.push(new Member(backend, new CircuitBreaker(this.options)));
    this.lastKind = backend.kind;
  }

  /**
   * Stops sending new requests to the backend at `endpoint`, waits for its in-flight ones (at most
   * drainTimeoutMs, after which they are aborted), then closes it. Resolves false when there is none.
   */
  async remove(endpoint: string): Promise<boolean> {
    const member = this.serving().find((m) => m.backend.endpoint === endpoint);
    if (!member) return false;
    await this.drain(member);
    return true;
  }

  /**
   * Puts `backends` in place of the current ones: the new ones take requests at once, the old ones drain.
   * The swap happens in one step, so no request finds the pool empty in between.
   */
  async replace(backends: readonly LlmBackend[]): Promise<void> {
    if (backends.length === 0)
      throw new Error(`the pool for model "${this.model}" needs at least one backend`);
    this.check(backends, []);
    const old = this.serving();
    for (const m of old) m.draining = true;
    for (const b of backends) this.add(b);
    await Promise.all(old.map((m) => this.drain(m)));
  }

  async *chat(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatEvent, void, undefined> {
    if (this.closed) throw new LlmError('unavailable', `the pool for model "${this.model}" is closed`);
    signal?.throwIfAborted();
    this.active++;
    try {
      const limit = Math.max(
        1,
        this.options.maxAttempts ?? Math.min(this.serving().length, DEFAULTS.maxAttempts),
      );
      const tried = new Set<Member>();
      let last: { member: Member; error: unknown } | undefined;
      for (let attempt = 1; ; attempt++) {
        // Each attempt goes to a backend not tried yet for this request: the one that just failed is
        // likely to fail again, and its failure already counts toward its circuit.
        const picked = attempt <= limit ? this.pick(tried) : undefined;
        if (!picked) throw this.exhausted(tried, last?.error);
        if (last) {
          const { member, error } = last;
          this.emit((l) =>
            l.retried?.({
              model: this.model,
              from: member.backend.endpoint,
              to: picked.member.backend.endpoint,
              attempt,
              error,
            }),
          );
        }
        tried.add(picked.member);
        const outcome = yield* this.attempt(picked.member, picked.trial, request, signal, attempt, limit);
        if (outcome.ok) return;
        last = { member: picked.member, error: outcome.error };
      }
    } finally {
      this.active--;
    }
  }

  /** Resolves while some backend may take a request: the active checks keep that state current. */
  health(): Promise<void> {
    const now = this.options.now();
    if (this.members.some((m) => this.eligible(m, now))) return Promise.resolve();
    return Promise.reject(this.noBackend());
  }

  /** Starts the periodic health checks: one round now, then one every healthIntervalMs after it ends. */
  start(): void {
    if (this.closed) return;
    this.healthChecks.start();
  }

  /** Stops the periodic checks and waits for a round in progress. */
  stop(): Promise<void> {
    return this.healthChecks.stop();
  }

  /**
   * Checks every serving backend once. A call while a round is running joins that round, so that checks
   * never overlap (a slow backend would otherwise pile up checks against itself).
   */
  checkHealth(): Promise<void> {
    return this.healthChecks.checkAll();
  }

  snapshot(): PoolSnapshot {
    const now = this.options.now();
    const backends = this.members.map((m) => ({
      endpoint: m.backend.endpoint,
      kind: m.backend.kind,
      healthy: m.healthy,
      circuit: m.breaker.stateAt(now),
      consecutiveFailures: m.breaker.failures,
      outstanding: m.inFlight.count,
      draining: m.draining,
      eligible: this.eligible(m, now),
    }));
    return { model: this.model, healthy: backends.some((b) => b.eligible), inFlight: this.active, backends };
  }

  /**
   * Every backend forgets the adapter. A backend that fails to (a vLLM server that is down) is left as it
   * is: the adapter is not asked for again, and a restarted server has forgotten it anyway.
   */
  async releaseAdapter(adapterId: string): Promise<void> {
    await Promise.all(this.members.map((m) => m.backend.releaseAdapter?.(adapterId).catch(() => undefined)));
  }

  /** Refuses new requests, stops the health checks and drains every backend. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
    await Promise.all(this.members.map((m) => this.drain(m)));
  }

  /** Throws before anything changes when `backends` cannot join a pool whose live members are `live`. */
  private check(backends: readonly LlmBackend[], live: readonly Member[]): void {
    if (this.closed) throw new Error(`the pool for model "${this.model}" is closed`);
    const endpoints = new Set(live.map((m) => m.backend.endpoint));
    for (const backend of backends) {
      if (backend.model !== this.model) {
        throw new Error(
          `backend ${backend.endpoint} serves model "${backend.model}", not "${this.model}" as its pool does`,
        );
      }
      // The endpoint names a backend in remove() and in snapshots, so two live ones may not share it; a
      // draining one may, which is what lets replace() swap a backend for a new one at the same address.
      if (endpoints.has(backend.endpoint)) {
        throw new Error(`backend ${backend.endpoint} is already in the pool for model "${this.model}"`);
      }
      endpoints.add(backend.endpoint);
    }
  }

  /** Backends that take part in balancing decisions (not being removed). */
  private serving(): Member[] {
    return this.members.filter((m) => !m.draining);
  }

  private eligible(m: Member, now: number): boolean {
    if (!m.healthy || m.draining) return false;
    return m.breaker.admits(now);
  }

  private pick(tried: ReadonlySet<Member>): { member: Member; trial: boolean } | undefined {
    const now = this.options.now();
    const candidates = this.members.filter((m) => !tried.has(m) && this.eligible(m, now));
    if (candidates.length === 0) return undefined;
    const start = this.cursor++ % candidates.length;
    let best = candidates[start]!;
    for (let i = 1; i < candidates.length; i++) {
      const m = candidates[(start + i) % candidates.length]!;
      if (m.inFlight.count < best.inFlight.count) best = m;
    }
    return { member: best, trial: best.breaker.take() };
  }

  /**
   * One try on one backend. Yields its events to the caller; returns a failure the pool may retry
   * elsewhere; throws what ends the request (caller's abort, a rejection, a broken stream).
   */
  private async *attempt(
    member: Member,
    trial: boolean,
    request: ChatRequest,
    signal: AbortSignal | undefined,
    attempt: number,
    limit: number,
  ): AsyncGenerator<ChatEvent, AttemptOutcome, undefined> {
    const { backend } = member;
    // The backend gets its own signal: the pool aborts it on a timeout, a forced drain or when the
    // caller goes away, without touching the caller's signal.
    const ctl = new AbortController();
    const onCallerAbort = (): void => ctl.abort(signal?.reason);
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    member.inFlight.enter(ctl);
    let settled = false;
    let finished = false;
    let streamed = false;
    let iterator: AsyncIterator<ChatEvent> | undefined;
    let waiter: EventWaiter | undefined;
    try {
      for (;;) {
        let result: IteratorResult<ChatEvent>;
        try {
          if (!waiter) {
            iterator = backend.chat(request, ctl.signal)[Symbol.asyncIterator]();
            waiter = new EventWaiter(
              iterator,
              ctl,
              this.options.firstEventTimeoutMs,
              this.options.idleTimeoutMs,
              backend.endpoint,
            );
          }
          result = await waiter.next();
          if (result.done) {
            finished = true;
            throw new LlmError('interrupted', `${backend.endpoint} ended the stream without finishing it`);
          }
        } catch (thrown) {
          // The caller's abort wins over whatever the backend made of it: no retry, no circuit verdict.
          if (signal?.aborted) throw signal.reason;
          // When the pool aborted the call (timeout, forced drain), its reason says why, not the backend's
          // reaction to the abort.
          const error: unknown = ctl.signal.aborted ? ctl.signal.reason : thrown;
          // A refusal proves the backend is up (the request is at fault); anything else counts against it.
          if (error instanceof LlmError && error.kind === 'rejected') this.succeeded(member, trial);
          else this.failed(member, trial, error);
          settled = true;
          // Before the first delta nothing reached the caller, so a broken stream is as safe to retry as
          // a refused connection; after it, a retry would repeat or garble text already shown.
          const retryable =
            !streamed && (isRetryable(error) || (error instanceof LlmError && error.kind === 'interrupted'));
          this.emit((l) =>
            l.attemptFailed?.({
              model: this.model,
              endpoint: backend.endpoint,
              attempt,
              error,
              streamed,
              willRetry: retryable && attempt < limit,
            }),
          );
          if (streamed) {
            throw new LlmError(
              'interrupted',
              `the answer from model "${this.model}" broke off at ${backend.endpoint}: ${errorMessage(error)}`,
              { cause: error },
            );
          }
          if (retryable) return { ok: false, error };
          throw error;
        }
        const event = result.value;
        if (event.type === 'end') {
          this.succeeded(member, trial);
          settled = true;
          yield event;
          return { ok: true };
        }
        streamed = true;
        yield event;
      }
    } finally {
      waiter?.dispose();
      signal?.removeEventListener('abort', onCallerAbort);
      // The caller left (break, abort) or the stream was judged: the backend's call is of no more use.
      if (!ctl.signal.aborted) ctl.abort(NO_LONGER_READ);
      if (iterator?.return && !finished) {
        // Not awaited: a backend that ignores its abort signal must not hold the caller up.
        void Promise.resolve()
          .then(() => iterator?.return?.())
          .catch(() => undefined);
      }
      // A trial that reached no verdict (the caller left) gives the next request the chance to be one.
      if (!settled) member.breaker.abandon(trial);
      member.inFlight.leave(ctl);
    }
  }

  private succeeded(m: Member, trial: boolean): void {
    if (m.breaker.succeeded(trial)) {
      this.emit((l) => l.circuitClosed?.({ model: this.model, endpoint: m.backend.endpoint }));
    }
  }

  private failed(m: Member, trial: boolean, error: unknown): void {
    if (m.breaker.failed(trial)) {
      this.emit((l) =>
        l.circuitOpened?.({
          model: this.model,
          endpoint: m.backend.endpoint,
          failures: m.breaker.failures,
          error,
        }),
      );
    }
  }

  private drain(m: Member): Promise<void> {
    m.draining = true;
    m.drained ??= (async () => {
      // The in-flight attempts that outlive the timeout fail as 'unavailable': those that streamed nothing
      // yet are retried on the remaining backends, the others end as 'interrupted'.
      const forced =
        m.inFlight.count > 0 &&
        (await m.inFlight.drain(
          isOn(this.options.drainTimeoutMs) ? this.options.drainTimeoutMs : undefined,
          () =>
            new LlmError(
              'unavailable',
              `${m.backend.endpoint} was removed from the pool for model "${this.model}"`,
            ),
        ));
      this.members = this.members.filter((x) => x !== m);
      this.emit((l) => l.backendRemoved?.({ model: this.model, endpoint: m.backend.endpoint, forced }));
      await m.backend.close();
    })();
    return m.drained;
  }

  /** The error for a request that found no backend to try (first attempt) or ran out of them (retries). */
  private exhausted(tried: ReadonlySet<Member>, lastError: unknown): LlmError {
    if (tried.size === 0) return this.noBackend();
    const endpoints = [...tried].map((m) => m.backend.endpoint).join(', ');
    const kind: LlmErrorKind =
      lastError instanceof LlmError && lastError.kind === 'timeout' ? 'timeout' : 'unavailable';
    return new LlmError(
      kind,
      `model "${this.model}" failed on ${tried.size} backend(s) (${endpoints}); last error: ${errorMessage(lastError)}`,
      { cause: lastError },
    );
  }

  private noBackend(): LlmError {
    if (this.members.length === 0) {
      return new LlmError('unavailable', `model "${this.model}" has no backends`);
    }
    const now = this.options.now();
    const why = this.members.map((m) => {
      const reasons: string[] = [];
      if (m.draining) reasons.push('draining');
      if (!m.healthy) reasons.push('unhealthy');
      const circuit = m.breaker.stateAt(now);
      if (circuit === 'open') {
        const left = m.breaker.cooldownLeft(now);
        reasons.push(`circuit open for another ${Math.ceil(left / 1000)} s`);
      } else if (circuit === 'half-open' && m.breaker.trialInFlight) {
        reasons.push('circuit half-open, trial request in flight');
      }
      return `${m.backend.endpoint} (${reasons.join(', ') || 'busy'})`;
    });
    return new LlmError('unavailable', `no backend can serve model "${this.model}" now: ${why.join('; ')}`);
  }

  private emit(call: (listener: PoolListener) => void): void {
    if (!this.listener) return;
    try {
      call(this.listener);
    } catch {
      // An observer's bug must not fail the request it observes.
    }
  }
}
