// The stored monitoring record of every generation (warehouse collection `generations`): what was asked, what
// was retrieved, which template and model answered, how long it took and what it said. Ids sort by creation
// time, so that listing newest first is an `_id` descending scan that pages with the same cursor as every
// other List RPC.
import type { Collection, Record as StoredRecord, Warehouse } from '@llmtwin/ports';
import { notFound } from '@llmtwin/runtime/errors';
import { randomBytes } from 'node:crypto';

export const GENERATIONS = 'generations';

export interface RetrievedRef {
  [key: string]: string | number | null;
  /** The answer's [n] for this chunk's document; missing (read as 0) in records made before citations were grouped. */
  citation: number;
  chunkId: string;
  documentId: string;
  score: number;
  title: string;
  url: string;
  publishedAt: number | null;
  category: number;
  platform: number;
}

export interface GenerationRecord extends StoredRecord {
  _id: string;
  authorId: string;
  query: string;
  expandedQueries: string[];
  filters: {
    authorId: string;
    categories: number[];
    platforms: number[];
    publishedAfter: number | null;
    publishedBefore: number | null;
  };
  retrieved: RetrievedRef[];
  promptTemplateVersion: string;
  model: string;
  /** The author's model version that answered ("<name>/<version>") and its id; absent in older records. */
  modelVersion?: string;
  modelVersionId?: string;
  promptTokens: number;
  completionTokens: number;
  timeToFirstTokenMs: number;
  totalLatencyMs: number;
  answer: string;
  finishReason: string;
  /** Why the model's answer was replaced by quotes, and that answer; absent when it was not. */
  fallback?: string;
  modelAnswer?: string;
  /** The answer's [n] were named by the router, not written by the model (attribution.ts). */
  citationsAttributed?: boolean;
  error: string;
  traceId: string;
  createdAt: number;
}

/** Time-ordered: 9 base-36 digits of milliseconds (good until 5188) then randomness for same-ms ties. */
export function newGenerationId(now = Date.now()): string {
  return `gen_${now.toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

export class GenerationStore {
  readonly records: Collection<GenerationRecord>;
  private readonly maxScanned: number;
  private readonly scanBatch: number;
  /** `scan` bounds the text search (tests make it small). */
  constructor(warehouse: Warehouse, scan: { maxScanned?: number; batch?: number } = {}) {
    this.records = warehouse.collection<GenerationRecord>(GENERATIONS);
    this.maxScanned = scan.maxScanned ?? MAX_SCANNED_PER_PAGE;
    this.scanBatch = scan.batch ?? SCAN_BATCH;
  }

  async init(): Promise<void> {
    await this.records.ensureIndex({
      name: 'generations_by_author',
      // `_id` is the implicit tie-breaker of every index, so listing by author pages along this one.
      fields: [{ field: 'authorId', direction: 'asc' }],
    });
  }

  save(record: GenerationRecord, signal?: AbortSignal): Promise<void> {
    return this.records.put(record, signal);
  }

  async get(id: string, signal?: AbortSignal): Promise<GenerationRecord> {
    const found = id ? await this.records.get(id, signal) : undefined;
    if (!found) throw notFound(`no generation ${id || '(empty id)'}: ListGenerations lists the stored ones`);
    return found;
  }

  /**
   * One page, newest first; `before` is the id to go on from (the previous page's `next`). `model`,
   * `since` and `until` (exclusive) filter in the warehouse. `queryContains` is matched here (the warehouse
   * has no substring search): the filtered records are read newest first in batches, at most
   * MAX_SCANNED_PER_PAGE (5,000) per call, so a page may hold fewer than `limit` records while `next` is set.
   * `next` is the id to pass as `before` for the next page, or '' when none is left to read (as with
   * every List RPC, a full page also sets it, even if nothing older exists).
   */
  async list(q: GenerationQuery, signal?: AbortSignal): Promise<GenerationPage> {
    const filter: Record<string, unknown> = {};
    if (q.authorId) filter['authorId'] = q.authorId;
    if (q.model) filter['model'] = q.model;
    if (q.since !== undefined || q.until !== undefined) {
      filter['createdAt'] = {
        ...(q.since !== undefined ? { $gte: q.since } : {}),
        ...(q.until !== undefined ? { $lt: q.until } : {}),
      };
    }
    const find = (before: string | undefined, limit: number) =>
      this.records.find(
        (before ? { ...filter, _id: { $lt: before } } : filter) as never,
        { sort: [{ field: '_id', direction: 'desc' }], limit },
        signal,
      );

    const needle = q.queryContains?.toLowerCase();
    if (!needle) {
      const records = await find(q.before, q.limit);
      return { records, next: records.length === q.limit ? records[records.length - 1]!._id : '' };
    }
    const records: GenerationRecord[] = [];
    let before = q.before;
    let scanned = 0;
    while (scanned < this.maxScanned) {
      const want = Math.min(this.scanBatch, this.maxScanned - scanned);
      const batch = await find(before, want);
      for (const record of batch) {
        scanned++;
        before = record._id;
        if (!matchesText(record, needle)) continue;
        records.push(record);
        if (records.length === q.limit) return { records, next: record._id };
      }
      if (batch.length < want) return { records, next: '' };
    }
    // The bound was hit before the page filled: go on after the last record read, matched or not.
    return { records, next: before ?? '' };
  }
}

/** Records read per ListGenerations call when matching `query_contains`; more pages go on from there. */
export const MAX_SCANNED_PER_PAGE = 5_000;
/** Records fetched from the warehouse at a time while matching text. */
const SCAN_BATCH = 500;
/** The longest `query_contains` accepted. */
export const MAX_QUERY_CONTAINS = 200;

export interface GenerationQuery {
  authorId?: string;
  model?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Case-insensitive substring of the question or the answer. */
  queryContains?: string;
  /** The id to go on from (exclusive). */
  before?: string;
  limit: number;
}

export interface GenerationPage {
  records: GenerationRecord[];
  /** The id to pass as `before` for the next page; '' when nothing is left to read. */
  next: string;
}

/** `needle` is already lower-case. */
function matchesText(record: GenerationRecord, needle: string): boolean {
  return (
    (record.query ?? '').toLowerCase().includes(needle) ||
    (record.answer ?? '').toLowerCase().includes(needle)
  );
}
