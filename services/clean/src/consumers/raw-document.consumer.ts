// Consumes documents.raw.v1 (group 'clean'): cleans each new version into the cleaned snapshot and emits
// documents.cleaned.v1. Idempotent: versions at or below the stored one are dropped; a tombstone becomes a
// tombstoned cleaned record (and event). Large payloads travel without `raw`; they are fetched with
// IngestService.GetDocument.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { ingesteventsv1, type ingestv1, topics } from '@llmtwin/contracts';
import { eventHandler, type EventBus, type Subscription } from '@llmtwin/ports';
import { invalidArgument } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { CLEANER_VERSION, type CleanRawFn } from '../domain/clean-raw.js';
import {
  categoryName,
  platformName,
  type CleanedFields,
  type CleanedDocumentStore,
  type StoreOutcome,
} from '../domain/cleaned-documents.js';

export type FetchRawFn = (id: string, signal?: AbortSignal) => Promise<ingestv1.RawDocument>;

export interface RawDocumentCleaner {
  store: CleanedDocumentStore;
  cleanRaw: CleanRawFn;
  fetchRaw: FetchRawFn;
}

/** Cleans one raw document (as carried by an event or read from ingest) into the snapshot. */
export async function cleanRawDocument(
  deps: RawDocumentCleaner,
  event: ingestv1.RawDocument,
  options: { backfillId?: string; signal?: AbortSignal } = {},
): Promise<StoreOutcome> {
  const category = categoryName(event.category);
  if (!category) throw invalidArgument(`document ${event.id} has no known category (${event.category})`);
  return deps.store.store(
    { id: event.id, version: Number(event.version) },
    async (): Promise<CleanedFields> => {
      let doc = event;
      if (!doc.tombstone && doc.raw.byteLength === 0) {
        doc = await deps.fetchRaw(event.id, options.signal);
        // Ingest may hold a newer version by now; this event's version is cleaned from whatever it holds,
        // and the later event will then be a duplicate. A different version cannot be stored under this one.
        if (doc.version !== event.version) doc = { ...doc, version: event.version } as typeof doc;
      }
      const base = {
        authorId: doc.authorId,
        category,
        platform: platformName(doc.platform),
        canonicalUrl: doc.canonicalUrl,
        publishedAt: doc.publishTime ? timestampMs(doc.publishTime) : null,
        codePath: doc.codePath,
        cleanerVersion: CLEANER_VERSION,
        draft: doc.draft,
      };
      if (doc.tombstone) return { ...base, title: doc.title, text: '', language: '', tombstone: true };
      const cleaned = deps.cleanRaw({
        category,
        raw: doc.raw,
        rawContentType: doc.rawContentType,
        url: doc.canonicalUrl,
        title: doc.title,
        codeLanguage: doc.codeLanguage,
        codePath: doc.codePath,
      });
      return { ...base, ...cleaned, tombstone: false };
    },
    options,
  );
}

export async function subscribeRawDocuments(
  bus: EventBus,
  deps: RawDocumentCleaner & { logger: Logger; maxAttempts?: number; retryBackoffMs?: number },
): Promise<Subscription> {
  return bus.subscribe({
    group: 'clean',
    topics: [topics.documentsRaw],
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
