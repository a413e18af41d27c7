// Model id → the pool of backends serving it. Models come from configuration at start-up and from registry
// events later (a model promoted to production gets backends, a retired one loses them), so the table
// changes while requests run: replacing or removing a model drains its old backends rather than cutting
// the answers they are streaming.
import { invalidArgument, notFound, unavailable } from '@llmtwin/runtime';
import type { BackendKind, LlmBackend } from '../llm.port.js';
import { BackendPool, type BackendPoolOptions, type PoolSnapshot } from './pool.js';

export interface ModelRouterOptions {
  /** The model used when a request names none. Default: the first model added. */
  defaultModel?: string;
  /** Options for every pool (timeouts, circuit breaker, health checks, listener). */
  pool?: BackendPoolOptions;
}

/** One entry of ListModels. */
export interface ModelInfo {
  id: string;
  kind: BackendKind;
  /** Smallest context window among its backends, when known. */
  contextTokens?: number;
  /** Whether some backend can take a request now. */
  healthy: boolean;
  backends: number;
  isDefault: boolean;
}

export class ModelRouter {
  private readonly pools = new Map<string, BackendPool>();
  private readonly configuredDefault: string | undefined;
  private healthChecks = false;
  private closed = false;

  constructor(private readonly options: ModelRouterOptions = {}) {
    this.configuredDefault = options.defaultModel || undefined;
  }

  get defaultModel(): string | undefined {
    return this.configuredDefault ?? this.pools.keys().next().value;
  }

  /** Requests in progress over every model (the autoscaling signal). */
  get inFlight(): number {
    let n = 0;
    for (const pool of this.pools.values()) n += pool.inFlight;
    return n;
  }

  /**
   * Serves `model` with `backends`. A new model gets a pool; a known one has its backends replaced: the new
   * ones take requests at once, the old ones finish what they stream and are closed (the promise resolves
   * then).
   */
  async upsert(model: string, backends: readonly LlmBackend[]): Promise<void> {
    if (this.closed) throw new Error('the model router is closed');
    if (model === '') throw invalidArgument('a model id must not be empty');
    if (backends.length === 0) {
      throw invalidArgument(`model "${model}" needs at least one backend; remove the model instead`);
    }
    const existing = this.pools.get(model);
    if (existing) {
      await existing.replace(backends);
      return;
    }
    const pool = new BackendPool(model, backends, this.options.pool);
    this.pools.set(model, pool);
    if (this.healthChecks) pool.start();
  }

  /**
   * Stops serving `model`: requests for it fail as not found from now on, the ones in flight finish (up to
   * the drain timeout), then its backends are closed. Resolves false when it was not served.
   */
  async removeModel(model: string): Promise<boolean> {
    const pool = this.pools.get(model);
    if (!pool) return false;
    this.pools.delete(model);
    await pool.close();
    return true;
  }

  /** The pool for `model`, or for the default model when none is named. */
  resolve(model?: string): BackendPool {
    if (this.closed) throw unavailable('the inference router is shutting down');
    const id = model || this.defaultModel;
    if (id === undefined) {
      throw notFound('no model was named and no model is configured');
    }
    const pool = this.pools.get(id);
    if (pool) return pool;
    const known = [...this.pools.keys()];
    const served = known.length > 0 ? `models served: ${known.join(', ')}` : 'no model is configured';
    throw notFound(
      model
        ? `model "${model}" is not served here (${served})`
        : `the default model "${id}" is not served here (${served})`,
    );
  }

  /**
   * A model that serves the checkpoint `baseModel` (the default model first, then in the order added), or
   * undefined: where an author's adapter trained on that checkpoint can be applied.
   */
  forBase(baseModel: string): BackendPool | undefined {
    if (this.closed) return undefined;
    const first = this.defaultModel !== undefined ? this.pools.get(this.defaultModel) : undefined;
    if (first?.baseModel === baseModel) return first;
    return [...this.pools.values()].find((pool) => pool.baseModel === baseModel);
  }

  /** Every model's backends forget a LoRA adapter (its version left production). */
  async releaseAdapter(adapterId: string): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.releaseAdapter(adapterId)));
  }

  models(): ModelInfo[] {
    const defaultModel = this.defaultModel;
    return [...this.pools.values()].map((pool) => {
      const snapshot = pool.snapshot();
      const contextTokens = pool.contextTokens;
      return {
        id: pool.model,
        kind: pool.kind,
        ...(contextTokens !== undefined ? { contextTokens } : {}),
        healthy: snapshot.healthy,
        backends: snapshot.backends.filter((b) => !b.draining).length,
        isDefault: pool.model === defaultModel,
      };
    });
  }

  snapshot(): PoolSnapshot[] {
    return [...this.pools.values()].map((pool) => pool.snapshot());
  }

  /** Starts the active health checks of every pool, including pools added later. */
  start(): void {
    this.healthChecks = true;
    for (const pool of this.pools.values()) pool.start();
  }

  async stop(): Promise<void> {
    this.healthChecks = false;
    await Promise.all([...this.pools.values()].map((pool) => pool.stop()));
  }

  /** Drains and closes every pool (graceful shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    this.healthChecks = false;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}
