// Where finished datasets go: the split files into the artifact store (@llmtwin/ports' ArtifactStore, of which
// the builder uses only `put`), the version into the registry.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { registryv1 } from '@llmtwin/contracts';
import type { ArtifactStore } from '@llmtwin/ports';

export type DatasetArtifactStore = Pick<ArtifactStore, 'put'>;

export type DatasetVersionDraft = MessageInitShape<typeof registryv1.CreateDatasetVersionRequestSchema>;

export interface DatasetRecorder {
  /** Records the version (idempotent on dataset + content hash); `created` is false when it already existed. */
  record(draft: DatasetVersionDraft, signal?: AbortSignal): Promise<{ id: string; created: boolean }>;
}
