// Consumes chunks.v1 (group 'embed'): embeds one document version's chunks in a batch, upserts them into the
// live collection (and into the collection a running reindex is filling), removes the document's chunks of
// older versions (all of them for a tombstone) and emits chunks.embedded.v1. Stale and duplicate versions
// are dropped by the per-document state.
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { chunkeventsv1, embedeventsv1, topics } from '@llmtwin/contracts';
import {
  eventHandler,
  publishEvent,
  type EventBus,
  type Subscription,
  type VectorStore,
  type Warehouse,
} from '@llmtwin/ports';
import { invalidArgument } from '@llmtwin/runtime';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { LIVE_ALIAS } from '../domain/collections.js';
import { activeReindexTarget, embedStateCollection } from '../domain/embed-state.js';
import { applyDocument, type DocumentChunks } from '../domain/vector-records.js';
import type { Embedder } from '@llmtwin/ports';

export interface EmbedConsumerDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
  vectorStore: VectorStore;
  embedder: Embedder;
  logger: Logger;
  now?: () => number;
}

export type EmbedOutcome = 'applied' | 'stale' | 'duplicate';

export async function handleDocumentChunked(
  deps: EmbedConsumerDeps,
  event: chunkeventsv1.DocumentChunked,
  signal?: AbortSignal,
): Promise<EmbedOutcome> {
  const ref = event.ref;
  if (!ref?.documentId) throw invalidArgument(`chunks event ${event.eventId} has no document ref`);
  const id = ref.documentId;
  const version = Number(ref.version);
  const now = deps.now ?? Date.now;
  const state = embedStateCollection(deps.warehouse);
  const stored = await state.get(id, signal);
  if (stored && stored.version > version) return 'stale';
  if (stored && stored.version === version && !stored.pending && !event.backfillId) return 'duplicate';

  const chunkIds = event.tombstone ? [] : event.chunks.map((c) => c.id);
  // Recorded before the vectors: a reindex copying an older version checks this afterwards.
  await state.put(
    { _id: id, version, tombstone: event.tombstone, pending: true, chunkIds, updatedAt: now() },
    signal,
  );
  const doc: DocumentChunks = {
    documentId: id,
    version,
    authorId: ref.authorId,
    category: event.category,
    platform: event.platform,
    canonicalUrl: event.canonicalUrl,
    title: event.title,
    publishTime: event.publishTime,
    chunks: event.tombstone ? [] : event.chunks,
  };
  const vectors =
    doc.chunks.length > 0
      ? await deps.embedder.embed(
          doc.chunks.map((c) => c.text),
          'passage',
          signal,
        )
      : [];
  const live = await deps.vectorStore.resolveAlias(LIVE_ALIAS);
  if (!live)
    throw invalidArgument(
      `the vector store has no "${LIVE_ALIAS}" alias; the embed module creates it at start`,
    );
  const removed = await applyDocument(deps.vectorStore, live, doc, vectors, event.tombstone, signal);
  const rebuilding = await activeReindexTarget(deps.warehouse, signal);
  if (rebuilding && rebuilding !== live) {
    await applyDocument(deps.vectorStore, rebuilding, doc, vectors, event.tombstone, signal);
  }
  await publishEvent(
    deps.eventBus,
    topics.chunksEmbedded,
    embedeventsv1.ChunksEmbeddedSchema,
    id,
    {
      eventId: randomUUID(),
      ref,
      chunkIds,
      chunksRemoved: BigInt(removed),
      collection: live,
      model: deps.embedder.model,
      tombstone: event.tombstone,
      eventTime: timestampNow(),
    },
    undefined,
    signal,
  );
  await state.update(id, { set: { pending: false, updatedAt: now() } }, { where: { version } }, signal);
  return 'applied';
}

/**
 * Documents embedded at once per partition by default; each document's versions still one after another.
 * An in-process embedder runs one forward pass at a time anyway (the calls queue there); a remote one
 * (text-embeddings-inference, an OpenAI-compatible API) and the vector store's round trips overlap.
 */
export const EMBED_CONCURRENCY = 4;

export async function subscribeDocumentChunks(
  deps: EmbedConsumerDeps & { maxAttempts?: number; retryBackoffMs?: number; concurrency?: number },
): Promise<Subscription> {
  await deps.eventBus.ensureTopics([topics.chunks, topics.chunksEmbedded]);
  return deps.eventBus.subscribe({
    group: 'embed',
    topics: [topics.chunks],
    // Keyed by document id, and the state, vectors and events are per document: different documents never
    // meet (the reindexer already runs beside this consumer).
    concurrency: deps.concurrency ?? EMBED_CONCURRENCY,
    ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.retryBackoffMs !== undefined ? { retryBackoffMs: deps.retryBackoffMs } : {}),
    handler: eventHandler(chunkeventsv1.DocumentChunkedSchema, async (event, message, signal) => {
      const outcome = await handleDocumentChunked(deps, event, signal);
      deps.logger.debug(
        { documentId: event.ref?.documentId, outcome, attempt: message.attempt },
        'chunks handled',
      );
    }),
  });
}
