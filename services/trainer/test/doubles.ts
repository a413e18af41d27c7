// A test double of the dataset builder's registry port, for unit tests of its logic: a recorder that keeps
// drafts (named as a fake; the module test records into the real registry).
import type { DatasetRecorder, DatasetVersionDraft } from '../src/domain/dataset-recorder.port.js';

/** Keeps every draft; the same dataset and content hash give the same id, like the registry. */
export class FakeRecorder implements DatasetRecorder {
  readonly drafts: DatasetVersionDraft[] = [];
  async record(draft: DatasetVersionDraft) {
    const existing = this.drafts.findIndex(
      (d) => d.dataset === draft.dataset && d.contentHash === draft.contentHash,
    );
    if (existing >= 0) return { id: `dsv_${existing + 1}`, created: false };
    this.drafts.push(draft);
    return { id: `dsv_${this.drafts.length}`, created: true };
  }
}
