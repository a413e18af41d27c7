// Per document, the latest version the embed service applied to the index, written BEFORE the vectors
// (with `pending`) so that a reindex running beside the consumer can tell that a newer version (or a
// tombstone) arrived while it copied an older one. `pending` is cleared once chunks.embedded is published;
// a redelivered event of a pending version is applied again (upserts by deterministic ids are idempotent).
import type { Collection, Record as StoredRecord, Warehouse } from '@llmtwin/ports';

export interface EmbedStateRecord extends StoredRecord {
  _id: string;
  version: number;
  tombstone: boolean;
  pending: boolean;
  chunkIds: string[];
  updatedAt: number;
}

export const embedStateCollection = (warehouse: Warehouse): Collection<EmbedStateRecord> =>
  warehouse.collection<EmbedStateRecord>('embed_documents');

export interface ReindexRecord extends StoredRecord {
  _id: string;
  state: 'running' | 'swapped' | 'failed';
  target: string;
  previous: string;
  authorId: string;
  documentsTotal: number;
  documentsDone: number;
  chunksEmbedded: number;
  error: string;
  startedAt: number;
  endedAt: number | null;
}

export const reindexCollection = (warehouse: Warehouse): Collection<ReindexRecord> =>
  warehouse.collection<ReindexRecord>('embed_reindexes');

/** The collection a running reindex is filling, which live changes must also reach. */
export async function activeReindexTarget(
  warehouse: Warehouse,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const [running] = await reindexCollection(warehouse).find({ state: 'running' }, { limit: 1 }, signal);
  return running?.target;
}
