// The chunk service as a module: chunking policies, fed by documents.cleaned events, emitting chunks events.
import { chunkv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { EventBus, Subscription, Warehouse } from '@llmtwin/ports';
import { createLogger } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import type { Chunker } from '@llmtwin/chunking';
import { chunkStateCollection } from './domain/chunk-state.js';
import { subscribeCleanedDocuments } from './consumers/cleaned-document.consumer.js';
import { registerChunkRoutes } from './rpc/chunk.routes.js';

export interface ChunkDeps {
  /** Holds the small per-document state (latest version chunked). */
  warehouse: Warehouse;
  eventBus: EventBus;
  chunker: Chunker;
  logger?: Logger;
  maxAttempts?: number;
  retryBackoffMs?: number;
  /** Cleaned documents handled at once per partition (never two of one document). Default CHUNK_CONCURRENCY. */
  concurrency?: number;
}

export async function createChunkModule(deps: ChunkDeps): Promise<ServiceModule> {
  const logger = deps.logger ?? createLogger('chunk');
  let subscription: Subscription | undefined;
  await chunkStateCollection(deps.warehouse).ensureIndex({
    fields: [{ field: 'pending', direction: 'asc' }],
  });
  return {
    name: 'chunk',
    services: [chunkv1.ChunkService],
    register: (router) => registerChunkRoutes(router, { chunker: deps.chunker }),
    dependencies: adapterDependencies(deps),
    async start() {
      subscription = await subscribeCleanedDocuments({ ...deps, logger });
    },
    async stop() {
      await subscription?.stop();
    },
  };
}
