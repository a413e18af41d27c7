// The embed service as a module: the embedder and the vector collections, fed by chunks events; the live
// collection is the alias `chunks`, swapped atomically by a reindex.
import { createClient } from '@connectrpc/connect';
import { cleanv1, embedv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceDirectory, type ServiceModule } from '@llmtwin/host';
import type { EventBus, Subscription, VectorStore, Warehouse } from '@llmtwin/ports';
import { createLogger, failedPrecondition } from '@llmtwin/runtime';
import type { Chunker } from '@llmtwin/chunking';
import type { Logger } from 'pino';
import { subscribeDocumentChunks } from './consumers/document-chunked.consumer.js';
import { ensureLiveCollection } from './domain/collections.js';
import { embedStateCollection, reindexCollection } from './domain/embed-state.js';
import { Reindexer, type ListCleanedFn } from './domain/reindex.js';
import type { Embedder } from '@llmtwin/ports';
import { registerEmbedRoutes } from './rpc/embed.routes.js';

export interface EmbedDeps {
  /** Holds the per-document state (latest version applied) and the reindex records. */
  warehouse: Warehouse;
  eventBus: EventBus;
  vectorStore: VectorStore;
  embedder: Embedder;
  /** 'onnx', 'tei', 'openai' or 'fake': reported by GetEmbedderInfo. */
  embedderAdapter?: string;
  /** The same chunker the chunk service uses, so a reindex yields the same chunk ids. */
  chunker: Chunker;
  logger?: Logger;
  /** How to reach the clean service (the reindex reads the cleaned snapshot there). */
  directory?: ServiceDirectory;
  listCleaned?: ListCleanedFn;
  maxAttempts?: number;
  retryBackoffMs?: number;
  /** Chunk events handled at once per partition (never two of one document). Default EMBED_CONCURRENCY. */
  concurrency?: number;
}

export interface EmbedModule extends ServiceModule {
  readonly reindexer: Reindexer;
}

export async function createEmbedModule(deps: EmbedDeps): Promise<EmbedModule> {
  const logger = deps.logger ?? createLogger('embed');
  const directory = deps.directory;
  const listCleaned: ListCleanedFn =
    deps.listCleaned ??
    async function* (signal) {
      if (!directory)
        throw failedPrecondition('the embed service has no directory to reach clean (LLMTWIN_CLEAN_URL)');
      const clean = createClient(cleanv1.CleanService, directory.transport('clean'));
      let pageToken = '';
      do {
        const res = await clean.listCleanedDocuments(
          { page: { pageSize: 200, pageToken } },
          signal ? { signal } : {},
        );
        yield* res.documents;
        pageToken = res.page?.nextPageToken ?? '';
      } while (pageToken);
    };
  const reindexer = new Reindexer({
    warehouse: deps.warehouse,
    vectorStore: deps.vectorStore,
    embedder: deps.embedder,
    chunker: deps.chunker,
    listCleaned,
    logger,
  });
  await reindexCollection(deps.warehouse).ensureIndex({ fields: [{ field: 'state', direction: 'asc' }] });
  await embedStateCollection(deps.warehouse).ensureIndex({
    fields: [{ field: 'pending', direction: 'asc' }],
  });
  let subscription: Subscription | undefined;
  const embedder = deps.embedder;

  return {
    name: 'embed',
    services: [embedv1.EmbedService],
    reindexer,
    register: (router) =>
      registerEmbedRoutes(router, {
        embedder,
        embedderAdapter: deps.embedderAdapter ?? 'unknown',
        vectorStore: deps.vectorStore,
        reindexer,
      }),
    dependencies: [
      ...adapterDependencies(deps),
      { name: 'embedder', adapter: deps.embedderAdapter ?? 'unknown', check: (s) => embedder.ping(s) },
    ],
    async start() {
      const live = await ensureLiveCollection(deps.vectorStore, embedder);
      logger.info({ collection: live, model: embedder.model }, 'live collection');
      await reindexer.recover();
      subscription = await subscribeDocumentChunks({ ...deps, logger });
    },
    async stop() {
      await subscription?.stop();
      await reindexer.stop();
    },
  };
}
