// The inference-router service as a module: RAG over the live vector collection (searched through the embed
// service) and, in this slice, extractive answers with citations; every generation is stored for monitoring.
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Client } from '@connectrpc/connect';
import { embedv1, healthv1, inferencev1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceDirectory, type ServiceModule } from '@llmtwin/host';
import type { Warehouse } from '@llmtwin/ports';
import { createLogger, failedPrecondition, unavailable } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { GenerationStore } from './domain/generations.js';
import { RagService } from './domain/rag.js';
import type { SearchFn } from './domain/retrieve.js';
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
}

export interface InferenceRouterModule extends ServiceModule {
  readonly rag: RagService;
  readonly store: GenerationStore;
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
  const store = new GenerationStore(deps.warehouse);
  await store.init();
  const embed = embedClient(deps.directory);
  const rag = new RagService({
    search: deps.search ?? embedSearch(embed),
    store,
    logger,
    ...(deps.contextBudgetTokens !== undefined ? { contextBudgetTokens: deps.contextBudgetTokens } : {}),
  });
  return {
    name: 'inference-router',
    services: [inferencev1.InferenceService],
    rag,
    store,
    register: (router) => registerInferenceRoutes(router, { rag, store }),
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
