// The inference-router service as a module: RAG over the live vector collection (searched through the embed
// service), answers from the configured language models (a pool of backends per model) or, with none,
// extractive answers with citations; every generation is stored for monitoring, traced and measured, and
// threshold alerts are raised on latency and error rate.
import { timestampFromMs, timestampMs, timestampNow } from '@bufbuild/protobuf/wkt';
import { createClient, type Client } from '@connectrpc/connect';
import { embedv1, healthv1, inferenceeventsv1, inferencev1, ingestv1, topics } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceDirectory, type ServiceModule } from '@llmtwin/host';
import {
  publishEvent,
  type ArtifactStore,
  type EventBus,
  type Subscription,
  type Warehouse,
} from '@llmtwin/ports';
import { createLogger, failedPrecondition, unavailable } from '@llmtwin/runtime';
import { randomUUID } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { subscribeModelPromotions, type PromotionTarget } from './consumers/model-promotion.consumer.js';
import { BatchedGenerationStore } from './domain/batched-generation-store.js';
import { GenerationStore } from './domain/generations.js';
import { AuthorModels } from './domain/author-models.js';
import { ArtifactAdapterFiles } from './adapters/artifact-adapter-files.js';
import { RagService, type LlmResolver, type RagDeps } from './domain/rag.js';
import { OnnxReranker, type Reranker } from './adapters/onnx-reranker.js';
import type { InferenceRouterConfig } from './config.js';
import { modelRouterFromSettings, type ModelSettings } from '@llmtwin/llm/backends';
import type { SearchFn } from './domain/retrieve.js';
import type { ModelRouter } from '@llmtwin/llm/backends';
import {
  AlertMonitor,
  DEFAULT_ALERT_THRESHOLDS,
  type Alert,
  type AlertThresholds,
} from './domain/monitoring/alerts.js';
import { countAlert } from './domain/monitoring/genai-telemetry.js';
import { registerInferenceRoutes } from './rpc/inference.routes.js';

export interface InferenceRouterDeps {
  warehouse: Warehouse;
  logger?: Logger;
  /** How to reach embed (SearchChunks); LLMTWIN_EMBED_URL in distributed mode. */
  directory?: ServiceDirectory;
  /** How embed is reached, for health: its URL, or 'embedded' when it runs in this process. */
  embedAddress?: string;
  /** Overrides for tests; default: EmbedService.SearchChunks (hybrid) through the directory. */
  search?: SearchFn;
  contextBudgetTokens?: number;
  /** The language models; none (or an empty router) means extractive answers. Closed by the module. */
  models?: ModelRouter;
  reranker?: Reranker;
  /** Model promotions in, alert events out; both optional. */
  eventBus?: EventBus;
  /** How a model promoted in the registry is served (from LLMTWIN_LLM_PROMOTION_BACKENDS); none = logged only. */
  promotion?: Omit<PromotionTarget, 'retire'>;
  alertThresholds?: Partial<AlertThresholds>;
  promptTemplate?: string;
  /** Decoding penalties, the repetition guard and the extractive fallback of model answers. */
  answers?: RagDeps['answers'];
  /** Where authors' adapter files are (the registry's artifacts); needed by an in-process model only. */
  artifacts?: ArtifactStore;
  /** The local folder adapter files are fetched into. Default: <tmpdir>/llmtwin-adapters. */
  adapterCacheDir?: string;
}

export interface InferenceRouterModule extends ServiceModule {
  readonly rag: RagService;
  /** Each author's production model version, kept from the registry's events. */
  readonly authorModels: AuthorModels;
  readonly store: GenerationStore;
  readonly alerts: AlertMonitor;
}

/** The model router as the RAG service sees it. */
export function modelResolver(models: ModelRouter): LlmResolver {
  return {
    resolve: (model) => models.resolve(model),
    forBase: (baseModel) => models.forBase(baseModel),
    hasModels: () => models.models().length > 0,
    models: () =>
      models.snapshot().map((p) => ({
        id: p.model,
        backend: p.backends[0]?.kind ?? '',
        endpoints: p.backends.filter((b) => !b.draining).map((b) => b.endpoint),
        healthy: p.healthy,
      })),
  };
}

type EmbedClient = Client<typeof embedv1.EmbedService>;

function embedClient(directory: ServiceDirectory | undefined): () => EmbedClient {
  let client: EmbedClient | undefined;
  return () => {
    if (!directory) {
      throw failedPrecondition('the inference router has no directory to reach embed (LLMTWIN_EMBED_URL)');
    }
    return (client ??= createClient(embedv1.EmbedService, directory.transport('embed')));
  };
}

/** The author's display name, from ingest; the id when ingest cannot say. */
function authorNames(
  directory: ServiceDirectory,
): (authorId: string, signal?: AbortSignal) => Promise<string> {
  let client: Client<typeof ingestv1.IngestService> | undefined;
  const cache = new Map<string, { name: string; at: number }>();
  return async (authorId, signal) => {
    const hit = cache.get(authorId);
    if (hit && Date.now() - hit.at < 60_000) return hit.name;
    let name = authorId;
    try {
      client ??= createClient(ingestv1.IngestService, directory.transport('ingest'));
      const res = await client.getAuthor(
        { id: authorId },
        signal ? { signal, timeoutMs: 2_000 } : { timeoutMs: 2_000 },
      );
      name = res.author?.displayName || authorId;
    } catch (err) {
      if (signal?.aborted) throw err;
      // Remembered like a success: while ingest is down, answers use the id instead of waiting on every call.
    }
    cache.set(authorId, { name, at: Date.now() });
    return name;
  };
}

export function embedSearch(embed: () => EmbedClient): SearchFn {
  return async (query, filters, limit, signal) => {
    const res = await embed().searchChunks(
      {
        query,
        mode: embedv1.SearchMode.HYBRID,
        limit,
        filter: {
          authorId: filters.authorId,
          categories: filters.categories,
          platforms: filters.platforms,
          ...(filters.publishedAfter !== undefined
            ? { publishedAfter: timestampFromMs(filters.publishedAfter) }
            : {}),
          ...(filters.publishedBefore !== undefined
            ? { publishedBefore: timestampFromMs(filters.publishedBefore) }
            : {}),
        },
      },
      signal ? { signal } : {},
    );
    return res.chunks.map((c) => ({
      chunkId: c.chunkId,
      documentId: c.ref?.documentId ?? '',
      text: c.text,
      score: c.score,
      title: c.title,
      url: c.canonicalUrl,
      ...(c.publishTime ? { publishedAt: timestampMs(c.publishTime) } : {}),
      category: c.category,
      platform: c.platform,
    }));
  };
}

export async function createInferenceRouterModule(deps: InferenceRouterDeps): Promise<InferenceRouterModule> {
  const logger = deps.logger ?? createLogger('inference-router');
  // Records are written in batches off the answer's path (batched-generation-store.ts says what a crash
  // may lose); stop() writes the last one.
  const store = new BatchedGenerationStore(deps.warehouse, logger);
  await store.init();
  const embed = embedClient(deps.directory);
  const bus = deps.eventBus;
  if (bus) await bus.ensureTopics([topics.alerts]);
  const source = `inference-router@${hostname()}`;
  const publishAlert = (alert: Alert) => {
    countAlert(alert.rule, alert.resolved);
    if (!bus) return;
    // Fire and forget: an alert must never fail or slow the generation that tripped it.
    publishEvent(bus, topics.alerts, inferenceeventsv1.AlertRaisedSchema, alert.rule, {
      eventId: randomUUID(),
      eventTime: timestampNow(),
      rule: alert.rule,
      value: alert.value,
      threshold: alert.threshold,
      windowSize: BigInt(alert.windowSize),
      resolved: alert.resolved,
      source,
      message: alert.message,
    }).catch((err: unknown) => logger.warn({ err, alert }, 'could not publish an alert event'));
  };
  const alerts = new AlertMonitor(
    { ...DEFAULT_ALERT_THRESHOLDS, ...deps.alertThresholds },
    logger,
    publishAlert,
  );
  const ingest = deps.directory ? authorNames(deps.directory) : undefined;
  // A version that stops answering for its author frees what its adapter holds on the backends.
  const authorModels = new AuthorModels(async (m) => deps.models?.releaseAdapter(m.modelVersionId));
  const adapterFiles = new ArtifactAdapterFiles({
    ...(deps.artifacts ? { artifacts: deps.artifacts } : {}),
    cacheDir: deps.adapterCacheDir ?? path.join(tmpdir(), 'llmtwin-adapters'),
  });
  const rag = new RagService({
    authorModels,
    adapterFiles,
    search: deps.search ?? embedSearch(embed),
    store,
    logger,
    alerts,
    ...(deps.contextBudgetTokens !== undefined ? { contextBudgetTokens: deps.contextBudgetTokens } : {}),
    ...(deps.models ? { llm: modelResolver(deps.models) } : {}),
    ...(deps.reranker ? { reranker: deps.reranker } : {}),
    ...(ingest ? { authorName: ingest } : {}),
    ...(deps.promptTemplate ? { promptTemplate: deps.promptTemplate } : {}),
    ...(deps.answers ? { answers: deps.answers } : {}),
  });
  let promotions: Subscription | undefined;
  return {
    name: 'inference-router',
    services: [inferencev1.InferenceService],
    rag,
    authorModels,
    store,
    alerts,
    register: (router) => registerInferenceRoutes(router, { rag, store }),
    async start() {
      deps.models?.start();
      if (bus && deps.models) {
        const models = deps.models;
        const promotion = deps.promotion;
        promotions = await subscribeModelPromotions({
          eventBus: bus,
          logger,
          target: {
            serve: async (model, servingModelId) => {
              if (!promotion) {
                logger.warn(
                  { model },
                  'a model was promoted but LLMTWIN_LLM_PROMOTION_BACKENDS is empty: not served',
                );
                return;
              }
              await promotion.serve(model, servingModelId);
            },
            retire: async (model) => void (await models.removeModel(model)),
            serveAuthor: (m) => authorModels.serve(m),
            retireAuthor: async (m) => void (await authorModels.retire(m.authorId, m.modelVersionId)),
          },
        });
      }
    },
    async stop() {
      await promotions?.stop();
      await deps.models?.close();
      await (deps.reranker as { close?: () => Promise<void> } | undefined)?.close?.();
      await store.close();
    },
    dependencies: [
      ...adapterDependencies(deps),
      ...(deps.search
        ? []
        : [
            {
              name: 'embed',
              adapter: deps.embedAddress ?? (deps.directory ? 'service-directory' : 'none'),
              // Retrieval is only as healthy as embed: its own health covers its vector store and model.
              check: async (signal: AbortSignal) => {
                const res = await createClient(healthv1.Health, deps.directory!.transport('embed')).check(
                  { service: '' },
                  { signal },
                );
                if (res.status !== healthv1.HealthCheckResponse_ServingStatus.SERVING) {
                  throw unavailable('the embed service is not serving');
                }
              },
            },
          ]),
    ],
  };
}

/** The settings of config.ts that shape the module beyond its adapters (also read by the embedded twin). */
export type RouterSettings = ModelSettings &
  Pick<
    InferenceRouterConfig,
    | 'LLMTWIN_RERANKER'
    | 'LLMTWIN_PROMPT_TEMPLATE'
    | 'LLMTWIN_CONTEXT_BUDGET_TOKENS'
    | 'LLMTWIN_ALERT_LATENCY_P95_MS'
    | 'LLMTWIN_ALERT_ERROR_RATE'
    | 'LLMTWIN_ADAPTER_CACHE_DIR'
    | 'LLMTWIN_LLM_REPEAT_PENALTY'
    | 'LLMTWIN_LLM_FREQUENCY_PENALTY'
    | 'LLMTWIN_LLM_PRESENCE_PENALTY'
    | 'LLMTWIN_LLM_DRY_MULTIPLIER'
    | 'LLMTWIN_REPEAT_GUARD_WORDS'
    | 'LLMTWIN_ANSWER_FALLBACK'
    | 'LLMTWIN_ANSWER_ATTRIBUTION'
  >;

/** Models, promotions, reranker, template, budget and alert thresholds, as both composition roots build them. */
export async function routerOptionsFromSettings(
  settings: RouterSettings,
  logger: Logger,
): Promise<
  Pick<
    InferenceRouterDeps,
    | 'models'
    | 'promotion'
    | 'reranker'
    | 'promptTemplate'
    | 'contextBudgetTokens'
    | 'alertThresholds'
    | 'adapterCacheDir'
    | 'answers'
  >
> {
  const { models, serve } = modelRouterFromSettings(settings, logger);
  const reranker = settings.LLMTWIN_RERANKER ? await OnnxReranker.load(settings.LLMTWIN_RERANKER) : undefined;
  return {
    models,
    ...(serve ? { promotion: { serve } } : {}),
    ...(reranker ? { reranker } : {}),
    ...(settings.LLMTWIN_PROMPT_TEMPLATE ? { promptTemplate: settings.LLMTWIN_PROMPT_TEMPLATE } : {}),
    contextBudgetTokens: settings.LLMTWIN_CONTEXT_BUDGET_TOKENS,
    adapterCacheDir: settings.LLMTWIN_ADAPTER_CACHE_DIR,
    answers: answerSettings(settings),
    alertThresholds: {
      latencyP95Ms: settings.LLMTWIN_ALERT_LATENCY_P95_MS,
      errorRate: settings.LLMTWIN_ALERT_ERROR_RATE,
    },
  };
}

/** The answer settings of config.ts: penalties only where set, so that each backend keeps its default. */
export function answerSettings(settings: RouterSettings): NonNullable<RagDeps['answers']> {
  const penalties = {
    ...(settings.LLMTWIN_LLM_REPEAT_PENALTY !== undefined
      ? { repeat: settings.LLMTWIN_LLM_REPEAT_PENALTY }
      : {}),
    ...(settings.LLMTWIN_LLM_FREQUENCY_PENALTY !== undefined
      ? { frequency: settings.LLMTWIN_LLM_FREQUENCY_PENALTY }
      : {}),
    ...(settings.LLMTWIN_LLM_PRESENCE_PENALTY !== undefined
      ? { presence: settings.LLMTWIN_LLM_PRESENCE_PENALTY }
      : {}),
    ...(settings.LLMTWIN_LLM_DRY_MULTIPLIER !== undefined
      ? { dry: settings.LLMTWIN_LLM_DRY_MULTIPLIER }
      : {}),
  };
  return {
    ...(Object.keys(penalties).length > 0 ? { penalties } : {}),
    repeatSpanWords: settings.LLMTWIN_REPEAT_GUARD_WORDS,
    fallback: settings.LLMTWIN_ANSWER_FALLBACK === 'on',
    attribution: settings.LLMTWIN_ANSWER_ATTRIBUTION === 'on',
  };
}
