// Documents ingest has deleted (tombstoned), as the registry learnt from documents.raw.v1: what a dataset
// version built from one of their earlier versions is tainted by. Kept so that a dataset version created
// after (or while) the tombstone arrived is tainted too.
import type { Collection, Record as StoredRecord, Warehouse } from '@llmtwin/ports';
import { MAX_CAS_ATTEMPTS } from './outbox.js';

export interface DeletedDocumentRecord extends StoredRecord {
  /** The document id. */
  _id: string;
  /** The tombstone's version: every version below it was deleted. */
  deletedVersion: number;
  sourceId: string;
  canonicalUrl: string;
  title: string;
  deletedAt: number;
}

/** Why anything built from this document is tainted. */
export function deletionReason(d: Pick<DeletedDocumentRecord, '_id' | 'canonicalUrl' | 'sourceId'>): string {
  const where = d.canonicalUrl ? ` (${d.canonicalUrl})` : '';
  const source = d.sourceId ? `, source ${d.sourceId}` : '';
  return `document ${d._id}${where}${source} was deleted`;
}

export class DeletedDocuments {
  readonly records: Collection<DeletedDocumentRecord>;

  constructor(warehouse: Warehouse) {
    this.records = warehouse.collection<DeletedDocumentRecord>('registry_deleted_documents');
  }

  /** Records a tombstone; an older one than already known changes nothing. */
  async record(d: DeletedDocumentRecord, signal?: AbortSignal): Promise<DeletedDocumentRecord> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const stored = await this.records.get(d._id, signal);
      if (stored && stored.deletedVersion >= d.deletedVersion) return stored;
      const expected = stored ? { deletedVersion: stored.deletedVersion } : null;
      if (await this.records.replaceIf(d, expected, signal)) return d;
    }
    return (await this.records.get(d._id, signal)) ?? d;
  }

  /** The deletions that cover one of these (document, version) pairs. */
  async covering(
    sources: readonly { documentId: string; version: number }[],
    signal?: AbortSignal,
  ): Promise<{ documentId: string; version: number; deleted: DeletedDocumentRecord }[]> {
    const ids = [...new Set(sources.map((s) => s.documentId))];
    const deleted = new Map<string, DeletedDocumentRecord>();
    for (let i = 0; i < ids.length; i += 500) {
      for (const d of await this.records.getMany(ids.slice(i, i + 500), signal)) deleted.set(d._id, d);
    }
    const hits = [];
    for (const s of sources) {
      const d = deleted.get(s.documentId);
      if (d && s.version < d.deletedVersion) hits.push({ ...s, deleted: d });
    }
    return hits;
  }
}
