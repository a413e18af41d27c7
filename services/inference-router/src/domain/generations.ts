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
  constructor(warehouse: Warehouse) {
    this.records = warehouse.collection<GenerationRecord>(GENERATIONS);
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

  /** Newest first; `before` is the last id of the previous page. */
  list(
    q: { authorId?: string; since?: number; before?: string; limit: number },
    signal?: AbortSignal,
  ): Promise<GenerationRecord[]> {
    const filter: Record<string, unknown> = {};
    if (q.authorId) filter['authorId'] = q.authorId;
    if (q.since !== undefined) filter['createdAt'] = { $gte: q.since };
    if (q.before) filter['_id'] = { $lt: q.before };
    return this.records.find(
      filter as never,
      { sort: [{ field: '_id', direction: 'desc' }], limit: q.limit },
      signal,
    );
  }
}
