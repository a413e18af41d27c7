// The cleaned snapshot: one record per document id holding the cleaned text of its latest version, written
// through the outbox of @llmtwin/ports (outbox-store.ts, shared with ingest's raw-document warehouse): the
// record is compare-and-set WITH an outbox marker, the documents.cleaned.v1 event is published, then the
// marker is cleared if it is still this event's. A crash in between leaves the marker;
// the relay (`flushOutbox`) publishes it at start-up and periodically, and a redelivered raw event of the same
// version re-emits it at once. Consumers downstream drop duplicates by (document id, version).
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { cleaneventsv1, cleanv1, commonv1, topics } from '@llmtwin/contracts';
import {
  outboxMarker,
  OutboxStore,
  type Collection,
  type EventBus,
  type OutboxMarker,
  type Record as StoredRecord,
  type Warehouse,
} from '@llmtwin/ports';
import { conflict, notFound } from '@llmtwin/runtime/errors';
import type { CategoryName } from './clean-raw.js';

export interface CleanedOutbox extends OutboxMarker {
  /** Set when the write belongs to a Reprocess run rather than a live change. */
  backfillId: string;
}

/** What cleaning produces for one version; the store adds id, version, time and outbox. */
export interface CleanedFields {
  authorId: string;
  category: CategoryName;
  platform: string;
  canonicalUrl: string;
  title: string;
  publishedAt: number | null;
  text: string;
  language: string;
  codePath: string;
  cleanerVersion: string;
  tombstone: boolean;
  draft: boolean;
}

export interface CleanedDocumentRecord extends StoredRecord, CleanedFields {
  _id: string;
  cleanedAt: number;
  /** The raw document's version this text was cleaned from. */
  version: number;
  outbox?: CleanedOutbox;
}

export const categoryEnum: Record<CategoryName, commonv1.Category> = {
  article: commonv1.Category.ARTICLE,
  post: commonv1.Category.POST,
  code: commonv1.Category.CODE,
};
export const platformEnum: Record<string, commonv1.Platform> = {
  medium: commonv1.Platform.MEDIUM,
  substack: commonv1.Platform.SUBSTACK,
  linkedin: commonv1.Platform.LINKEDIN,
  github: commonv1.Platform.GITHUB,
  web: commonv1.Platform.WEB,
};
export const categoryName = (c: commonv1.Category): CategoryName | undefined =>
  (Object.keys(categoryEnum) as CategoryName[]).find((k) => categoryEnum[k] === c);
export const platformName = (p: commonv1.Platform): string =>
  Object.keys(platformEnum).find((k) => platformEnum[k] === p) ?? '';

export function toProtoCleaned(r: CleanedDocumentRecord) {
  return create(cleanv1.CleanedDocumentSchema, {
    ref: { documentId: r._id, version: BigInt(r.version), authorId: r.authorId },
    category: categoryEnum[r.category],
    platform: platformEnum[r.platform] ?? commonv1.Platform.UNSPECIFIED,
    canonicalUrl: r.canonicalUrl,
    title: r.title,
    ...(r.publishedAt !== null ? { publishTime: timestampFromMs(r.publishedAt) } : {}),
    text: r.text,
    language: r.language,
    codePath: r.codePath,
    cleanTime: timestampFromMs(r.cleanedAt),
    cleanerVersion: r.cleanerVersion,
    tombstone: r.tombstone,
    draft: r.draft,
  });
}

export type StoreOutcome = 'stored' | 'stale' | 'duplicate';

export class CleanedDocumentStore {
  readonly documents: Collection<CleanedDocumentRecord>;
  private readonly outbox: OutboxStore<
    CleanedOutbox,
    CleanedDocumentRecord,
    typeof cleaneventsv1.DocumentCleanedSchema
  >;

  constructor(
    warehouse: Warehouse,
    bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.documents = warehouse.collection<CleanedDocumentRecord>('cleaned_documents');
    this.outbox = new OutboxStore(this.documents, bus, {
      topic: topics.documentsCleaned,
      schema: cleaneventsv1.DocumentCleanedSchema,
      build: (record, marker) => ({
        eventId: marker.eventId,
        document: toProtoCleaned(record),
        eventTime: timestampFromMs(marker.at),
        backfillId: marker.backfillId,
      }),
    });
  }

  async init(): Promise<void> {
    await this.outbox.init();
    await this.documents.ensureIndex({ fields: [{ field: 'authorId', direction: 'asc' }] });
  }

  async get(id: string, signal?: AbortSignal): Promise<CleanedDocumentRecord> {
    const doc = id ? await this.documents.get(id, signal) : undefined;
    if (!doc) throw notFound(`cleaned document "${id}" does not exist`);
    return doc;
  }

  /**
   * Stores a cleaned version unless a newer (or, for live changes, the same) version is stored already.
   * `backfillId` marks a Reprocess write: it may replace the same version (new cleaning rules).
   * `clean` runs only when the write will happen, so stale events cost no cleaning.
   */
  async store(
    base: { id: string; version: number },
    clean: () => Promise<CleanedFields>,
    options: { backfillId?: string; signal?: AbortSignal } = {},
  ): Promise<StoreOutcome> {
    const { signal } = options;
    const backfillId = options.backfillId ?? '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.documents.get(base.id, signal);
      if (existing && existing.version > base.version) return 'stale';
      if (existing && existing.version === base.version && !backfillId) {
        // A redelivery: the write happened, maybe not its event.
        if (existing.outbox) await this.outbox.publish(existing, signal);
        return 'duplicate';
      }
      const cleaned = await clean();
      const at = this.now();
      const record: CleanedDocumentRecord = {
        ...cleaned,
        _id: base.id,
        version: base.version,
        cleanedAt: at,
        outbox: outboxMarker(at, { backfillId }),
      };
      const expected = existing ? { version: existing.version, cleanedAt: existing.cleanedAt } : null;
      if (await this.outbox.write(record, expected, signal)) return 'stored';
    }
    throw conflict(`cleaned document ${base.id} kept changing while it was being stored; try again`);
  }

  /** Publishes every event whose record is written but whose marker is still set. Returns how many. */
  flushOutbox(signal?: AbortSignal): Promise<number> {
    return this.outbox.flush(signal);
  }
}
