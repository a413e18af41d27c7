// Builds the router's models from configuration: one pool per model over the backends LLMTWIN_LLM_BACKENDS
// lists, pool events logged, and the function that serves a model promoted in the registry on the backends
// LLMTWIN_LLM_PROMOTION_BACKENDS lists.
import type { Logger } from 'pino';
import { createBackend, parseBackendSpecs, type CreateBackendOptions } from './backend-spec.js';
import { ModelRouter } from './model-router.js';
import type { BackendPoolOptions, PoolListener } from './pool.js';

export interface ModelSetup {
  /** LLMTWIN_LLM_BACKENDS. */
  backends: string;
  defaultModel?: string;
  /** LLMTWIN_LLM_PROMOTION_BACKENDS: `<kind>+<url>` entries. */
  promotionBackends?: string;
  backendOptions?: CreateBackendOptions;
  pool?: Omit<BackendPoolOptions, 'listener'>;
  logger: Logger;
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function poolLogger(logger: Logger): PoolListener {
  return {
    attemptFailed: (e) =>
      logger.warn(
        {
          model: e.model,
          endpoint: e.endpoint,
          attempt: e.attempt,
          willRetry: e.willRetry,
          streamed: e.streamed,
        },
        `model backend failed: ${errText(e.error)}`,
      ),
    circuitOpened: (e) =>
      logger.warn(
        { model: e.model, endpoint: e.endpoint, failures: e.failures },
        'circuit opened: backend taken out',
      ),
    circuitClosed: (e) =>
      logger.info({ model: e.model, endpoint: e.endpoint }, 'circuit closed: backend back'),
    healthChanged: (e) =>
      e.healthy
        ? logger.info({ model: e.model, endpoint: e.endpoint }, 'model backend healthy')
        : logger.warn(
            { model: e.model, endpoint: e.endpoint, err: errText(e.error) },
            'model backend unhealthy',
          ),
    backendRemoved: (e) => logger.info(e, 'model backend removed'),
  };
}

export function buildModelRouter(setup: ModelSetup): {
  models: ModelRouter;
  serve?: (model: string, servingModelId: string) => Promise<void>;
} {
  const specs = parseBackendSpecs(setup.backends);
  const models = new ModelRouter({
    ...(setup.defaultModel ? { defaultModel: setup.defaultModel } : {}),
    pool: { ...setup.pool, listener: poolLogger(setup.logger) },
  });
  for (const { model, backends } of specs) {
    // upsert of a new model is synchronous in effect: the pool exists when the promise is created.
    void models.upsert(
      model,
      backends.map((b) => createBackend(b, setup.backendOptions)),
    );
  }
  const targets = (setup.promotionBackends ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (targets.length === 0) return { models };
  // Validated now, so that a typo fails the start rather than the first promotion.
  parseBackendSpecs(targets.map((t) => `promoted=${t}`).join(','));
  return {
    models,
    serve: async (model, servingModelId) => {
      const specs = parseBackendSpecs(
        targets
          .map((t) =>
            t.startsWith('openai+') ? `${model}=${t};upstream=${servingModelId}` : `${model}=${t}`,
          )
          .join(','),
      );
      await models.upsert(
        model,
        specs.flatMap((s) => s.backends).map((b) => createBackend(b, setup.backendOptions)),
      );
    },
  };
}

/** The settings of config.ts that shape the models (also read by the embedded twin). */
export interface ModelSettings {
  LLMTWIN_LLM_BACKENDS: string;
  LLMTWIN_LLM_DEFAULT_MODEL: string;
  LLMTWIN_LLM_API_KEY: string;
  LLMTWIN_LLM_THREADS: number;
  LLMTWIN_LLM_FIRST_TOKEN_TIMEOUT_MS: number;
  LLMTWIN_LLM_IDLE_TIMEOUT_MS: number;
  LLMTWIN_LLM_PROMOTION_BACKENDS: string;
}

export function modelRouterFromSettings(settings: ModelSettings, logger: Logger) {
  return buildModelRouter({
    backends: settings.LLMTWIN_LLM_BACKENDS,
    defaultModel: settings.LLMTWIN_LLM_DEFAULT_MODEL,
    promotionBackends: settings.LLMTWIN_LLM_PROMOTION_BACKENDS,
    backendOptions: {
      ...(settings.LLMTWIN_LLM_API_KEY ? { apiKey: settings.LLMTWIN_LLM_API_KEY } : {}),
      firstTokenTimeoutMs: settings.LLMTWIN_LLM_FIRST_TOKEN_TIMEOUT_MS,
      idleTimeoutMs: settings.LLMTWIN_LLM_IDLE_TIMEOUT_MS,
      localThreads: settings.LLMTWIN_LLM_THREADS,
    },
    pool: {
      firstEventTimeoutMs: settings.LLMTWIN_LLM_FIRST_TOKEN_TIMEOUT_MS,
      idleTimeoutMs: settings.LLMTWIN_LLM_IDLE_TIMEOUT_MS,
    },
    logger,
  });
}
