// The raw-document warehouse: versioned documents under deterministic ids, with an outbox so that no write
// exists without its `documents.raw.v1` event.
//
// Every write goes through the outbox of @llmtwin/ports (outbox-store.ts, shared with clean's cleaned
// snapshot): the record is compare-and-set at its new version WITH an outbox marker, the event is published,
// then the marker is cleared if it is still this event's. A crash in between leaves the marker; the relay
// (`flushOutbox`) publishes it at start-up and periodically. Delivery is therefore at-least-once; consumers
// drop duplicates by (document id, version).
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { commonv1, ingesteventsv1, ingestv1, topics } from '@llmtwin/contracts';
import {
  outboxMarker,
  OutboxStore,
  type Collection,
  type EventBus,
  type OutboxMarker as Marker,
  type Record as StoredRecord,
  type Warehouse,
} from '@llmtwin/ports';
import { conflict, notFound } from '@llmtwin/runtime/errors';
import { createHash } from 'node:crypto';
import type { PlatformName } from './authors.js';
import type { Category, ExtractedDocument } from './extracted-document.js';

/** Raw payloads above this size travel without `raw` in the event; consumers read them with GetDocument. */
export const MAX_EVENT_RAW_BYTES = 512 * 1024;

export type ChangeKind = 'created' | 'updated' | 'tombstoned';

export interface OutboxMarker extends Marker {
  change: ChangeKind;
  crawlJobId: string;
}

export interface RawDocumentRecord extends StoredRecord {
  _id: string;
  authorId: string;
  category: Category;
  platform: PlatformName;
  sourceId: string;
  canonicalUrl: string;
  /** The address a single-URL crawl asked for, when it stored this document: a later 404/410 there names
   * this document although its canonical URL (rel=canonical) differs. Empty otherwise. */
  requestedUrl?: string;
  title: string;
  subtitle: string;
  author: string;
  /** The first publication (see keepFirstPublication). */
  publishedAt: number | null;
  /** The latest modification or re-publish the sources stated; absent on records written before it was kept. */
  updatedAt?: number | null;
  crawledAt: number;
  contentHash: string;
  version: number;
  tombstone: boolean;
  draft: boolean;
  raw: Uint8Array;
  rawContentType: string;
  tags: string[];
  externalId: string;
  codePath: string;
  codeLanguage: string;
  codeCommit: string;
  outbox?: OutboxMarker;
}

export interface UpsertResult {
  change: ChangeKind | 'unchanged';
  document: RawDocumentRecord;
}

/** Deterministic id: one author's document at one canonical URL. */
export function documentId(authorId: string, canonicalUrl: string): string {
  return 'doc_' + createHash('sha256').update(`${authorId}\n${canonicalUrl}`).digest('hex').slice(0, 32);
}

/**
 * A publish time only moves earlier. The first publication is the date a document is known by, and sources
 * disagree about it: a Medium feed item or an older saved page may carry the time of the latest re-publish
 * where another crawl or the export had the first. So of two publish times the earlier is kept and the later
 * is taken for a re-publish (an update time), and alternating sources never flip the date back and forth.
 * Code keeps the commit time it was first seen at (see contentHash), drafts have no publish time, and a
 * tombstoned record starts afresh.
 */
export function keepFirstPublication(
  found: ExtractedDocument,
  existing: Pick<RawDocumentRecord, 'publishedAt' | 'tombstone'> | undefined,
): ExtractedDocument {
  const before = existing && !existing.tombstone ? existing.publishedAt : null;
  const now = found.publishedAt;
  if (found.category === 'code' || before === null || now === null || now === before) return found;
  // Either way the later of the two was a re-publish: the document changed then.
  if (now < before) return { ...found, updatedAt: Math.max(before, found.updatedAt ?? before) };
  return { ...found, publishedAt: before, updatedAt: Math.max(now, found.updatedAt ?? now) };
}

/**
 * What counts as a change: the payload and the metadata a reader sees, not the crawl time. The update time
 * is left out too: some sites restamp their modification time on every request, and where the content
 * changed the payload says so anyway. A code file's
 * time is the commit it was read at (a shallow fetch knows no per-file history), so it is left out: a new
 * commit must not make a new version of every file it did not touch. The stored time stays the one of the
 * commit where the content was first seen.
 */
export function contentHash(doc: ExtractedDocument): string {
  const h = createHash('sha256');
  const meta = JSON.stringify([
    doc.category,
    doc.title,
    doc.subtitle ?? '',
    doc.category === 'code' ? null : doc.publishedAt,
    doc.draft,
    doc.tags ?? [],
    doc.code?.path ?? '',
    doc.code?.language ?? '',
  ]);
  h.update(meta).update('\n').update(doc.raw);
  return h.digest('hex');
}

/** An update time that says something: later than the publish time (or the only time known). */
function laterThan(updatedAt: number | null | undefined, publishedAt: number | null): number | null {
  if (typeof updatedAt !== 'number' || !Number.isFinite(updatedAt)) return null;
  return publishedAt === null || updatedAt > publishedAt ? updatedAt : null;
}

const categories: Record<Category, commonv1.Category> = {
  article: commonv1.Category.ARTICLE,
  post: commonv1.Category.POST,
  code: commonv1.Category.CODE,
};
const platforms: Record<PlatformName, commonv1.Platform> = {
  medium: commonv1.Platform.MEDIUM,
  substack: commonv1.Platform.SUBSTACK,
  linkedin: commonv1.Platform.LINKEDIN,
  github: commonv1.Platform.GITHUB,
  web: commonv1.Platform.WEB,
};
const changes: Record<ChangeKind, ingesteventsv1.ChangeKind> = {
  created: ingesteventsv1.ChangeKind.CREATED,
  updated: ingesteventsv1.ChangeKind.UPDATED,
  tombstoned: ingesteventsv1.ChangeKind.TOMBSTONED,
};

export function toProtoDocument(r: RawDocumentRecord, options: { includeRaw: boolean }) {
  return create(ingestv1.RawDocumentSchema, {
    id: r._id,
    authorId: r.authorId,
    category: categories[r.category],
    platform: platforms[r.platform],
    sourceId: r.sourceId,
    canonicalUrl: r.canonicalUrl,
    title: r.title,
    subtitle: r.subtitle,
    ...(r.publishedAt !== null ? { publishTime: timestampFromMs(r.publishedAt) } : {}),
    ...(typeof r.updatedAt === 'number' ? { updateTime: timestampFromMs(r.updatedAt) } : {}),
    crawlTime: timestampFromMs(r.crawledAt),
    contentHash: r.contentHash,
    version: BigInt(r.version),
    tombstone: r.tombstone,
    draft: r.draft,
    raw: options.includeRaw ? r.raw : new Uint8Array(),
    rawContentType: r.rawContentType,
    codePath: r.codePath,
    codeLanguage: r.codeLanguage,
    codeCommit: r.codeCommit,
    tags: r.tags,
  });
}

export class RawDocumentStore {
  readonly documents: Collection<RawDocumentRecord>;
  private readonly outbox: OutboxStore<
    OutboxMarker,
    RawDocumentRecord,
    typeof ingesteventsv1.RawDocumentChangedSchema
  >;

  constructor(
    warehouse: Warehouse,
    bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.documents = warehouse.collection<RawDocumentRecord>('raw_documents');
    this.outbox = new OutboxStore(this.documents, bus, {
      topic: topics.documentsRaw,
      schema: ingesteventsv1.RawDocumentChangedSchema,
      build: (record, marker) => ({
        eventId: marker.eventId,
        change: changes[marker.change],
        document: toProtoDocument(record, { includeRaw: record.raw.byteLength <= MAX_EVENT_RAW_BYTES }),
        eventTime: timestampFromMs(marker.at),
        crawlJobId: marker.crawlJobId,
      }),
    });
  }

  async init(): Promise<void> {
    await this.outbox.init();
    await this.documents.ensureIndex({ fields: [{ field: 'authorId', direction: 'asc' }] });
    await this.documents.ensureIndex({ fields: [{ field: 'sourceId', direction: 'asc' }] });
  }

  async get(id: string): Promise<RawDocumentRecord> {
    const doc = id ? await this.documents.get(id) : undefined;
    if (!doc) throw notFound(`document "${id}" does not exist`);
    return doc;
  }

  /** Stores what a crawler found. Unchanged content is a no-op: nothing written, nothing emitted. */
  async upsert(
    extracted: ExtractedDocument,
    ctx: { authorId: string; sourceId: string; crawlJobId: string; requestedUrl?: string },
    signal?: AbortSignal,
  ): Promise<UpsertResult> {
    const id = documentId(ctx.authorId, extracted.canonicalUrl);
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.documents.get(id, signal);
      const found = keepFirstPublication(extracted, existing);
      const hash = contentHash(found);
      if (existing && !existing.tombstone && existing.contentHash === hash) {
        return { change: 'unchanged', document: existing };
      }
      const change: ChangeKind = existing && !existing.tombstone ? 'updated' : 'created';
      const record: RawDocumentRecord = {
        _id: id,
        authorId: ctx.authorId,
        category: found.category,
        platform: found.platform,
        sourceId: ctx.sourceId,
        canonicalUrl: found.canonicalUrl,
        requestedUrl: ctx.requestedUrl ?? existing?.requestedUrl ?? '',
        title: found.title,
        subtitle: found.subtitle ?? '',
        author: found.author,
        publishedAt: found.publishedAt,
        updatedAt: laterThan(found.updatedAt, found.publishedAt),
        crawledAt: this.now(),
        contentHash: hash,
        version: (existing?.version ?? 0) + 1,
        tombstone: false,
        draft: found.draft,
        raw: found.raw,
        rawContentType: found.rawContentType,
        tags: found.tags ?? [],
        externalId: found.externalId ?? '',
        codePath: found.code?.path ?? '',
        codeLanguage: found.code?.language ?? '',
        codeCommit: found.code?.commit ?? '',
        outbox: this.marker(change, ctx.crawlJobId),
      };
      if (await this.outbox.write(record, existing ? { version: existing.version } : null, signal)) {
        return { change, document: record };
      }
    }
    throw conflict(`document ${id} kept changing while it was being stored; try again`);
  }

  /** Marks a document gone from its source. Already-tombstoned documents are left alone. */
  async tombstone(id: string, crawlJobId: string, signal?: AbortSignal): Promise<UpsertResult> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.get(id);
      if (existing.tombstone) return { change: 'unchanged', document: existing };
      const record: RawDocumentRecord = {
        ...existing,
        version: existing.version + 1,
        tombstone: true,
        raw: new Uint8Array(),
        contentHash: '',
        crawledAt: this.now(),
        outbox: this.marker('tombstoned', crawlJobId),
      };
      if (await this.outbox.write(record, { version: existing.version }, signal)) {
        return { change: 'tombstoned', document: record };
      }
    }
    throw conflict(`document ${id} kept changing while it was being deleted; try again`);
  }

  /** Publishes every event whose record is written but whose marker is still set. Returns how many. */
  flushOutbox(signal?: AbortSignal): Promise<number> {
    return this.outbox.flush(signal);
  }

  private marker(change: ChangeKind, crawlJobId: string): OutboxMarker {
    return outboxMarker(this.now(), { change, crawlJobId });
  }
}
