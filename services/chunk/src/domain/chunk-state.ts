// The chunk service's only state: per document, the latest version it chunked, so stale events (a replayed
// dead letter, a duplicate) are dropped. `pending` is set before the chunks event is published and cleared
// after: a redelivered event of a pending version is processed again (chunking is deterministic).
import type { Collection, Record as StoredRecord, Warehouse } from '@llmtwin/ports';

export interface ChunkStateRecord extends StoredRecord {
  _id: string;
  version: number;
  tombstone: boolean;
  pending: boolean;
  chunks: number;
  updatedAt: number;
}

export const chunkStateCollection = (warehouse: Warehouse): Collection<ChunkStateRecord> =>
  warehouse.collection<ChunkStateRecord>('chunk_documents');

export type Freshness = 'new' | 'stale' | 'duplicate';

/** Live events need a newer version (or an unfinished one); backfill events may redo the same version. */
export function freshness(
  stored: ChunkStateRecord | undefined,
  version: number,
  backfill: boolean,
): Freshness {
  if (!stored) return 'new';
  if (stored.version > version) return 'stale';
  if (stored.version === version && !stored.pending && !backfill) return 'duplicate';
  return 'new';
}
