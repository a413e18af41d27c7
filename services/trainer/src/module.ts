// The trainer service as a module: dataset versions built from an author's cleaned snapshot, as jobs run in
// this process, recorded in the registry. It reads clean, ingest and (for answer edits) the inference router,
// and records into the registry, all through the service directory; its health follows theirs.
import { createClient } from '@connectrpc/connect';
import { cleanv1, healthv1, inferencev1, ingestv1, registryv1, trainerv1 } from '@llmtwin/contracts';
import {
  adapterDependencies,
  type Dependency,
  type ServiceDirectory,
  type ServiceModule,
  type ServiceName,
} from '@llmtwin/host';
import type { ArtifactStore, EventBus, Warehouse } from '@llmtwin/ports';
import { createLogger, unavailable } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { ConnectAnswerEditReader, ConnectSnapshotReader } from './adapters/connect-snapshot-reader.js';
import { RegistryRecorder } from './adapters/registry-recorder.js';
import { routerModels, type ModelTable } from './adapters/router-llm.js';
import { DatasetBuilder } from './domain/dataset-builder.js';
import { DatasetJobs, generatorFactory } from './domain/dataset-jobs.js';
import type { DatasetRecorder } from './domain/dataset-recorder.port.js';
import { EXTRACTIVE } from './domain/example-generators.js';
import { JOBS_COLLECTION, JobStore, LocalJobRunner, type JobRecord } from './domain/jobs.js';
import type { AnswerEditReader, SnapshotReader } from './domain/snapshot-reader.port.js';
import { wordEstimateTokenizer, type Tokenizer } from './domain/tokenizer.port.js';
import { registerTrainerRoutes } from './rpc/trainer.routes.js';

/** The services the trainer calls; inference-router only for the answer edits of preference datasets. */
export type TrainerUpstream = Extract<ServiceName, 'clean' | 'ingest' | 'registry' | 'inference-router'>;

export interface TrainerDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
  logger?: Logger;
  directory: ServiceDirectory;
  /**
   * The upstream services and where they are ('in-process' or a URL), for health; inference-router, when
   * listed, is also where answer edits are read. Default: clean, ingest and registry, in-process.
   */
  upstreams?: Partial<Record<TrainerUpstream, string>>;
  /** Where the split files go. */
  artifacts: ArtifactStore;
  /**
   * The target model's tokenizer, or how to load it on the first build; none means the word-based estimate
   * (recorded in stats.tokenizer).
   */
  tokenizer?: Tokenizer | (() => Promise<Tokenizer>);
  /** The router's model table (LLM port); none means only "extractive" can write instructions. */
  models?: ModelTable;
  /** What an empty generator_model means: "extractive" (default) or a model id the models serve. */
  defaultGenerator?: string;
  /** Sampling temperature of the instruction model (default 0: greedy, reproducible where backends allow). */
  temperature?: number;
  /** Closed when the module stops (the tokenizer, a model table the trainer built for itself). */
  owned?: readonly { close(): Promise<void> }[];
  /** Overrides for tests; default: the Connect clients through the directory. */
  snapshot?: SnapshotReader;
  recorder?: DatasetRecorder;
  answerEdits?: AnswerEditReader;
}

export interface TrainerModule extends ServiceModule {
  readonly jobs: JobStore;
  readonly runner: LocalJobRunner;
  readonly datasets: DatasetJobs;
}

function client<S extends Parameters<typeof createClient>[0]>(
  directory: ServiceDirectory,
  service: S,
  name: ServiceName,
) {
  let c: ReturnType<typeof createClient<S>> | undefined;
  return () => (c ??= createClient(service, directory.transport(name)));
}

function upstreamHealth(directory: ServiceDirectory, name: TrainerUpstream, adapter: string): Dependency {
  const health = client(directory, healthv1.Health, name);
  return {
    name,
    adapter,
    check: async (signal) => {
      const res = await health().check({ service: '' }, { signal });
      if (res.status !== healthv1.HealthCheckResponse_ServingStatus.SERVING) {
        throw unavailable(`the ${name} service is not serving`);
      }
    },
  };
}

export async function createTrainerModule(deps: TrainerDeps): Promise<TrainerModule> {
  const logger = deps.logger ?? createLogger('trainer');
  const upstreams = deps.upstreams ?? { clean: 'in-process', ingest: 'in-process', registry: 'in-process' };
  const { directory } = deps;
  const store = new JobStore(deps.warehouse.collection<JobRecord>(JOBS_COLLECTION));
  await store.init();
  const interrupted = await store.failInterrupted();
  if (interrupted > 0)
    logger.warn({ jobs: interrupted }, 'jobs left unfinished by a previous process marked failed');

  const runner = new LocalJobRunner(store, {
    onError: (jobId, err) => logger.warn({ jobId, err }, 'trainer job failed'),
  });
  const tokenizer = deps.tokenizer ?? wordEstimateTokenizer;
  if (!deps.tokenizer) {
    logger.warn(
      'no tokenizer configured: passage bounds use the word-based estimate (stats.tokenizer says so)',
    );
  }
  const builder = new DatasetBuilder({
    snapshot:
      deps.snapshot ??
      new ConnectSnapshotReader(
        client(directory, cleanv1.CleanService, 'clean'),
        client(directory, ingestv1.IngestService, 'ingest'),
      ),
    ...(deps.answerEdits
      ? { answerEdits: deps.answerEdits }
      : upstreams['inference-router']
        ? {
            answerEdits: new ConnectAnswerEditReader(
              client(directory, inferencev1.InferenceService, 'inference-router'),
            ),
          }
        : {}),
    tokenizer,
    artifacts: deps.artifacts,
    recorder:
      deps.recorder ?? new RegistryRecorder(client(directory, registryv1.RegistryService, 'registry')),
  });
  const datasets = new DatasetJobs({
    store,
    runner,
    builder,
    generators: generatorFactory(deps.models ? routerModels(deps.models) : undefined, deps.temperature ?? 0),
    defaultGenerator: deps.defaultGenerator || EXTRACTIVE,
  });

  const artifacts = deps.artifacts;
  return {
    name: 'trainer',
    services: [trainerv1.TrainerService],
    jobs: store,
    runner,
    datasets,
    register: (router) => registerTrainerRoutes(router, { datasets, store, runner }),
    dependencies: [
      ...adapterDependencies(deps),
      {
        name: 'artifact-store',
        adapter: artifacts.adapter,
        check: (signal: AbortSignal) => artifacts.ping(signal),
      },
      ...(Object.entries(upstreams) as [TrainerUpstream, string][]).map(([name, adapter]) =>
        upstreamHealth(directory, name, adapter),
      ),
    ],
    async stop() {
      await runner.stop();
      for (const o of deps.owned ?? [])
        await o.close().catch((err: unknown) => logger.warn({ err }, 'close failed'));
    },
  };
}
