// Consumes documents.cleaned.v1 (group 'chunk'): chunks each new version with the live policy and emits one
// DocumentChunked event with all its chunks (keyed by document id); a tombstone emits tombstone=true and no
// chunks, a draft no chunks. Stale and duplicate versions are dropped by the small per-document state.
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { chunkeventsv1, cleaneventsv1, commonv1, topics } from '@llmtwin/contracts';
import { eventHandler, publishEvent, type EventBus, type Subscription, type Warehouse } from '@llmtwin/ports';
import { invalidArgument } from '@llmtwin/runtime';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CategoryName, Chunker } from '@llmtwin/chunking';
import { chunkStateCollection, freshness, type Freshness } from '../domain/chunk-state.js';

const categoryNames: Partial<Record<commonv1.Category, CategoryName>> = {
  [commonv1.Category.ARTICLE]: 'article',
  [commonv1.Category.POST]: 'post',
  [commonv1.Category.CODE]: 'code',
};

export interface ChunkConsumerDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
  chunker: Chunker;
  logger: Logger;
  now?: () => number;
}

export async function handleDocumentCleaned(
  deps: ChunkConsumerDeps,
  event: cleaneventsv1.DocumentCleaned,
  signal?: AbortSignal,
): Promise<Freshness> {
  const doc = event.document;
  const ref = doc?.ref;
  if (!doc || !ref?.documentId) throw invalidArgument(`cleaned event ${event.eventId} has no document`);
  const category = categoryNames[doc.category];
  if (!category) throw invalidArgument(`document ${ref.documentId} has no known category`);
  const id = ref.documentId;
  const version = Number(ref.version);
  const state = chunkStateCollection(deps.warehouse);
  const stored = await state.get(id, signal);
  const fresh = freshness(stored, version, event.backfillId !== '');
  if (fresh !== 'new') return fresh;

  const now = deps.now ?? Date.now;
  await state.put(
    { _id: id, version, tombstone: doc.tombstone, pending: true, chunks: 0, updatedAt: now() },
    signal,
  );
  // A draft is not published writing: it gets no chunks, so it is never retrieved, and a document that went
  // back to draft loses the chunks its published version had (embed drops versions below this one).
  const pieces =
    doc.tombstone || doc.draft
      ? []
      : await deps.chunker.chunk({
          documentId: id,
          version,
          authorId: ref.authorId,
          category,
          text: doc.text,
          language: doc.language,
          title: doc.title,
        });
  await publishEvent(
    deps.eventBus,
    topics.chunks,
    chunkeventsv1.DocumentChunkedSchema,
    id,
    {
      eventId: randomUUID(),
      ref,
      category: doc.category,
      platform: doc.platform,
      canonicalUrl: doc.canonicalUrl,
      title: doc.title,
      ...(doc.publishTime ? { publishTime: doc.publishTime } : {}),
      chunks: pieces.map((p) => ({ ...p, ref })),
      tombstone: doc.tombstone,
      eventTime: timestampNow(),
      backfillId: event.backfillId,
    },
    undefined,
    signal,
  );
  await state.update(
    id,
    { set: { pending: false, chunks: pieces.length, updatedAt: now() } },
    { where: { version } },
    signal,
  );
  return 'new';
}

/** Documents chunked at once per partition by default; each document's versions still one after another. */
export const CHUNK_CONCURRENCY = 4;

export async function subscribeCleanedDocuments(
  deps: ChunkConsumerDeps & { maxAttempts?: number; retryBackoffMs?: number; concurrency?: number },
): Promise<Subscription> {
  await deps.eventBus.ensureTopics([topics.documentsCleaned, topics.chunks]);
  return deps.eventBus.subscribe({
    group: 'chunk',
    topics: [topics.documentsCleaned],
    // Keyed by document id, and the state is per document: different documents never meet.
    concurrency: deps.concurrency ?? CHUNK_CONCURRENCY,
    ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.retryBackoffMs !== undefined ? { retryBackoffMs: deps.retryBackoffMs } : {}),
    handler: eventHandler(cleaneventsv1.DocumentCleanedSchema, async (event, message, signal) => {
      const outcome = await handleDocumentCleaned(deps, event, signal);
      deps.logger.debug(
        { documentId: event.document?.ref?.documentId, outcome, attempt: message.attempt },
        'cleaned document handled',
      );
    }),
  });
}
