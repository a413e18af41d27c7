// The registry's domain, assembled over one warehouse and one event bus: dataset versions, runs, model
// versions with their stages, lineage and taint, and the outbox relay that publishes what a crash left.
import { topics } from '@llmtwin/contracts';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import type { Clock } from './common.js';
import { DatasetVersions } from './dataset-versions.js';
import { DeletedDocuments } from './deleted-documents.js';
import { Lineage } from './lineage.js';
import { ModelVersions } from './model-versions.js';
import { Runs } from './runs.js';
import { Taint } from './taint.js';

export class Registry {
  readonly deleted: DeletedDocuments;
  readonly datasets: DatasetVersions;
  readonly runs: Runs;
  readonly models: ModelVersions;
  readonly lineage: Lineage;
  readonly taint: Taint;

  constructor(
    warehouse: Warehouse,
    private readonly bus: EventBus,
    now: Clock = Date.now,
  ) {
    this.deleted = new DeletedDocuments(warehouse);
    this.datasets = new DatasetVersions(warehouse, bus, this.deleted, now);
    this.runs = new Runs(warehouse, bus, this.datasets, now);
    this.models = new ModelVersions(warehouse, bus, this.runs, this.datasets, now);
    this.lineage = new Lineage(this.datasets, this.runs, this.models, this.deleted);
    this.taint = new Taint(this.datasets, this.models, this.deleted, now);
  }

  /** Indexes and the registry topic. */
  async init(): Promise<void> {
    await this.bus.ensureTopics([topics.registry]);
    await this.datasets.init();
    await this.runs.init();
    await this.models.init();
  }

  /** Publishes every event whose change is written but not yet published; returns how many records. */
  async flushOutbox(signal?: AbortSignal): Promise<number> {
    return (
      (await this.datasets.outbox.flush(signal)) +
      (await this.runs.outbox.flush(signal)) +
      (await this.models.outbox.flush(signal))
    );
  }
}
