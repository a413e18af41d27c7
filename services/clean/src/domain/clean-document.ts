// Cleaning one raw document version into the snapshot: the step shared by the raw-document consumer and
// Reprocess.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { ingestv1 } from '@llmtwin/contracts';
import { invalidArgument } from '@llmtwin/runtime/errors';
import { CLEANER_VERSION, type CleanRawFn } from './clean-raw.js';
import {
  categoryName,
  platformName,
  type CleanedFields,
  type CleanedDocumentStore,
  type StoreOutcome,
} from './cleaned-documents.js';

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
