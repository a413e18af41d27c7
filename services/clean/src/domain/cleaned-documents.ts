// The cleaned snapshot: one record per document id holding the cleaned text of its latest version, written
// with the same outbox protocol as ingest's raw-document warehouse (services/ingest/src/domain/
// raw-documents.ts): the record is compare-and-set WITH an outbox marker, the documents.cleaned.v1 event is
// published, then the marker is cleared if it is still this event's. A crash in between leaves the marker;
// the relay (`flushOutbox`) publishes it at start-up and periodically, and a redelivered raw event of the same
// version re-emits it at once. Consumers downstream drop duplicates by (document id, version).
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { cleaneventsv1, cleanv1, commonv1, topics } from '@llmtwin/contracts';
import {
  publishEvent,
  type Collection,
  type EventBus,
  type Record as StoredRecord,
  type Warehouse,
} from '@llmtwin/ports';
import { conflict, notFound } from '@llmtwin/runtime/errors';
import { randomUUID } from 'node:crypto';
import type { CategoryName } from './clean-raw.js';

export interface CleanedOutbox {
  [key: string]: string | number | boolean;
  eventId: string;
  pending: true;
  at: number;
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

  constructor(
    warehouse: Warehouse,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.documents = warehouse.collection<CleanedDocumentRecord>('cleaned_documents');
  }

  async init(): Promise<void> {
    await this.bus.ensureTopics([topics.documentsCleaned]);
    await this.documents.ensureIndex({ fields: [{ field: 'authorId', direction: 'asc' }] });
    await this.documents.ensureIndex({ fields: [{ field: 'outbox.pending', direction: 'asc' }] });
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
        if (existing.outbox) await this.emit(existing, signal);
        return 'duplicate';
      }
      const cleaned = await clean();
      const at = this.now();
      const record: CleanedDocumentRecord = {
        ...cleaned,
        _id: base.id,
        version: base.version,
        cleanedAt: at,
        outbox: { eventId: randomUUID(), pending: true, at, backfillId },
      };
      const written = await this.documents.replaceIf(
        record,
        existing ? { version: existing.version, cleanedAt: existing.cleanedAt } : null,
        signal,
      );
      if (written) {
        await this.emit(record, signal);
        return 'stored';
      }
    }
    throw conflict(`cleaned document ${base.id} kept changing while it was being stored; try again`);
  }

  /** Publishes every event whose record is written but whose marker is still set. Returns how many. */
  async flushOutbox(signal?: AbortSignal): Promise<number> {
    let published = 0;
    for await (const record of this.documents.scan({ 'outbox.pending': true }, { batchSize: 100 }, signal)) {
      await this.emit(record, signal);
      published++;
    }
    return published;
  }

  private async emit(record: CleanedDocumentRecord, signal?: AbortSignal): Promise<void> {
    const marker = record.outbox;
    if (!marker) return;
    await publishEvent(
      this.bus,
      topics.documentsCleaned,
      cleaneventsv1.DocumentCleanedSchema,
      record._id,
      {
        eventId: marker.eventId,
        document: toProtoCleaned(record),
        eventTime: timestampFromMs(marker.at),
        backfillId: marker.backfillId,
      },
      undefined,
      signal,
    );
    await this.documents.update(
      record._id,
      { unset: ['outbox'] },
      { where: { 'outbox.eventId': marker.eventId } },
    );
  }
}
