// Consumes documents.raw.v1 (group 'clean'): cleans each new version into the cleaned snapshot and emits
// documents.cleaned.v1. Idempotent: versions at or below the stored one are dropped; a tombstone becomes a
// tombstoned cleaned record (and event). Large payloads travel without `raw`; they are fetched with
// IngestService.GetDocument.
import { ingesteventsv1, topics } from '@llmtwin/contracts';
import { eventHandler, type EventBus, type Subscription } from '@llmtwin/ports';
import { invalidArgument } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { cleanRawDocument, type RawDocumentCleaner } from '../domain/clean-document.js';

/** Documents cleaned at once per partition by default; each document's versions still one after another. */
export const CLEAN_CONCURRENCY = 4;

export async function subscribeRawDocuments(
  bus: EventBus,
  deps: RawDocumentCleaner & {
    logger: Logger;
    maxAttempts?: number;
    retryBackoffMs?: number;
    concurrency?: number;
  },
): Promise<Subscription> {
  return bus.subscribe({
    group: 'clean',
    topics: [topics.documentsRaw],
    // Events are keyed by document id, so different documents are independent: their per-document state,
    // snapshot rows and events never meet.
    concurrency: deps.concurrency ?? CLEAN_CONCURRENCY,
    ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.retryBackoffMs !== undefined ? { retryBackoffMs: deps.retryBackoffMs } : {}),
    handler: eventHandler(ingesteventsv1.RawDocumentChangedSchema, async (event, message, signal) => {
      const doc = event.document;
      if (!doc || !doc.id) {
        throw invalidArgument(
          `raw document event ${event.eventId} at offset ${message.offset} has no document`,
        );
      }
      const outcome = await cleanRawDocument(deps, doc, { signal });
      deps.logger.debug(
        { documentId: doc.id, version: Number(doc.version), outcome, attempt: message.attempt },
        'raw document handled',
      );
    }),
  });
}
