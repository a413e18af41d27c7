// BuildDataset as a job: the request is checked and its generator resolved at once (so a typo fails the RPC,
// not the job), then the build runs in the background on the local runner.
import type { trainerv1 } from '@llmtwin/contracts';
import { failedPrecondition } from '@llmtwin/runtime/errors';
import type { DatasetBuilder } from './dataset-builder.js';
import { resolveDatasetRequest } from './dataset-request.js';
import {
  EXTRACTIVE,
  ExtractiveGenerator,
  LlmGenerator,
  type ExampleGenerator,
} from './example-generators.js';
import type { GeneratorModels } from './generator-llm.port.js';
import type { JobRecord, JobStore, LocalJobRunner } from './jobs.js';
import type { SplitStrategy } from './splits.js';

export type GeneratorFactory = (model: string, seed: bigint) => ExampleGenerator;

/** "extractive" needs nothing; any other name must be a model the router's LLM port serves. */
export function generatorFactory(models: GeneratorModels | undefined, temperature: number): GeneratorFactory {
  return (model, seed) => {
    if (model === EXTRACTIVE) return new ExtractiveGenerator(seed);
    if (!models) {
      throw failedPrecondition(
        `no language model is configured here, so generator_model "${model}" cannot write instructions: ` +
          'use "extractive", or configure LLMTWIN_LLM_BACKENDS',
      );
    }
    return new LlmGenerator(models.resolve(model), { temperature, seed });
  };
}

export interface DatasetJobsDeps {
  store: JobStore;
  runner: LocalJobRunner;
  builder: DatasetBuilder;
  generators: GeneratorFactory;
  /** What an empty generator_model means: "extractive" or a model id. */
  defaultGenerator: string;
  splitBy?: SplitStrategy;
}

export class DatasetJobs {
  constructor(private readonly deps: DatasetJobsDeps) {}

  async buildDataset(message: trainerv1.BuildDatasetRequest): Promise<JobRecord> {
    const req = resolveDatasetRequest(message, this.deps.defaultGenerator, this.deps.splitBy);
    const generator = this.deps.generators(req.generatorModel, req.seed);
    const job = await this.deps.store.create('build-dataset', req.authorId);
    this.deps.runner.submit(job._id, async (signal, progress) => {
      const result = await this.deps.builder.build(
        req,
        generator,
        (p) => progress(p.done, p.total, p.message),
        signal,
      );
      const stats = result.draft.stats!;
      const splits = (result.draft.splits ?? []).map((s) => `${String(s.examples)} ${s.name}`).join(', ');
      return {
        datasetVersionId: result.datasetVersionId,
        reused: !result.created,
        message: `${result.created ? 'recorded' : 'already recorded'} ${req.dataset}: ${splits} examples from ${String(stats.passagesConsidered)} passages`,
      };
    });
    return job;
  }
}
