// Records dataset versions through the registry's Connect client (RegistryService.CreateDatasetVersion).
import type { Client } from '@connectrpc/connect';
import type { registryv1 } from '@llmtwin/contracts';
import { DomainError } from '@llmtwin/runtime';
import type { DatasetRecorder, DatasetVersionDraft } from '../domain/dataset-recorder.port.js';

export class RegistryRecorder implements DatasetRecorder {
  constructor(private readonly registry: () => Client<typeof registryv1.RegistryService>) {}

  async record(draft: DatasetVersionDraft, signal?: AbortSignal) {
    const res = await this.registry().createDatasetVersion(draft, signal ? { signal } : {});
    const id = res.datasetVersion?.id;
    if (!id)
      throw new DomainError('internal', 'the registry recorded the dataset version but returned no id');
    return { id, created: res.created };
  }
}
