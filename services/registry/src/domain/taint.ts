// What a deleted document taints: every dataset version built from one of its earlier versions, then every
// model version trained on such a dataset version (one in production leaves it). Idempotent: a redelivered
// tombstone finds everything already tainted and changes nothing; a tombstone handled halfway (a crash) is
// finished by the redelivery, since the dataset versions' models are looked up whether or not this call
// tainted the dataset version itself.
import type { DatasetVersions } from './dataset-versions.js';
import { deletionReason, type DeletedDocuments } from './deleted-documents.js';
import { taintedBy } from './model-records.js';
import type { ModelVersions } from './model-versions.js';

export interface DeletedDocument {
  documentId: string;
  /** The tombstone's version. */
  version: number;
  sourceId: string;
  canonicalUrl: string;
  title: string;
}

export interface TaintOutcome {
  /** Dataset versions and model versions this call tainted (already tainted ones are not listed). */
  datasetVersions: string[];
  modelVersions: string[];
}

export class Taint {
  constructor(
    private readonly datasets: DatasetVersions,
    private readonly models: ModelVersions,
    private readonly deleted: DeletedDocuments,
    private readonly now: () => number = Date.now,
  ) {}

  async documentDeleted(doc: DeletedDocument, signal?: AbortSignal): Promise<TaintOutcome> {
    // Recorded first: a dataset version being created at this moment checks it after it exists.
    const known = await this.deleted.record(
      {
        _id: doc.documentId,
        deletedVersion: doc.version,
        sourceId: doc.sourceId,
        canonicalUrl: doc.canonicalUrl,
        title: doc.title,
        deletedAt: this.now(),
      },
      signal,
    );
    const reason = deletionReason({ ...known, sourceId: doc.sourceId || known.sourceId });
    const links = await this.datasets.usingDocument(doc.documentId, known.deletedVersion, signal);
    const datasets = await this.datasets.existing(
      links.map((l) => l.datasetVersionId),
      signal,
    );
    const outcome: TaintOutcome = { datasetVersions: [], modelVersions: [] };
    const reasons = new Map<string, string>();
    for (const id of [...datasets.keys()].sort()) {
      const { record, changed } = await this.datasets.taint(id, reason, signal);
      if (changed) outcome.datasetVersions.push(id);
      reasons.set(id, record.taintReason);
    }
    const index = await this.models.using({ datasetVersionIds: [...reasons.keys()] }, signal);
    const groups = new Map<string, { name: string; datasetVersionId: string; ids: string[] }>();
    for (const i of index) {
      const key = `${i.name}\n${i.datasetVersionId}`;
      const group = groups.get(key) ?? { name: i.name, datasetVersionId: i.datasetVersionId, ids: [] };
      group.ids.push(i._id);
      groups.set(key, group);
    }
    for (const g of groups.values()) {
      const why = taintedBy(g.datasetVersionId, reasons.get(g.datasetVersionId) ?? reason);
      outcome.modelVersions.push(...(await this.models.taint(g.name, g.ids, why, signal)));
    }
    return outcome;
  }
}
