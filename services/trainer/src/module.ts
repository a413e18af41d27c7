// The trainer service as a module: dataset versions built from an author's cleaned snapshot, as jobs run in
// this process, recorded in the registry. It reads clean, ingest and (for answer edits) the inference router,
// and records into the registry, all through the service directory; its health follows theirs.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { cleanv1, healthv1, inferencev1, ingestv1, registryv1, trainerv1 } from '@llmtwin/contracts';
import {
  adapterDependencies,
  type Dependency,
  type ServiceDirectory,
  type ServiceModule,
  type ServiceName,
} from '@llmtwin/host';
import type { ArtifactStore, EventBus, Warehouse } from '@llmtwin/ports';
import { createLogger, failedPrecondition, unavailable } from '@llmtwin/runtime';
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
import { FsTrainingWorkspace } from './adapters/fs-training-workspace.js';
import type { Evaluator } from './domain/evaluator.port.js';
import type { JobRunner } from './domain/job-runner.port.js';
import type { PresetName } from './domain/presets.js';
import { TrainingJobs } from './domain/training.js';
import type { TrainingRegistry } from './domain/training-registry.port.js';
import { startContinuousTraining, type ContinuousTraining } from './consumers/dataset-version.consumer.js';
import {
  AUTO_RUNS_COLLECTION,
  autoTrainEnabled,
  TrainingPolicy,
  type AutoRunRecord,
  type AutoTrainSettings,
} from './domain/training-policy.js';
import type { TrainingStarter } from './domain/training-starter.port.js';

/** Continuous training starts runs through TrainingJobs; a registry out of reach means "try again later". */
function trainingStarter(training: TrainingJobs): TrainingStarter {
  return {
    start: async (request, options) => {
      try {
        return { jobId: (await training.start(request, options))._id };
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.Unavailable)
          throw unavailable(`the registry is out of reach: ${err.rawMessage}`, err);
        throw err;
      }
    },
  };
}

/** The registry client, made on the first call (the directory may not know the registry yet at start). */
function lazyRegistry(get: () => TrainingRegistry): TrainingRegistry {
  return {
    getDatasetVersion: (r, o) => get().getDatasetVersion(r, o),
    createRun: (r, o) => get().createRun(r, o),
    updateRun: (r, o) => get().updateRun(r, o),
    getRun: (r, o) => get().getRun(r, o),
    getModelVersion: (r, o) => get().getModelVersion(r, o),
    registerModelVersion: (r, o) => get().registerModelVersion(r, o),
    requestStageTransition: (r, o) => get().requestStageTransition(r, o),
  };
}

/** Fails the runs of interrupted training jobs; the registry may start after the trainer, so it retries. */
async function failRunsWhenReachable(training: TrainingJobs, jobs: JobRecord[], logger: Logger) {
  for (let attempt = 1; attempt <= 20; attempt++) {
    try {
      await training.failInterruptedRuns(jobs);
      logger.warn({ runs: jobs.map((j) => j.runId) }, 'runs of interrupted training jobs marked failed');
      return;
    } catch (err) {
      if (attempt === 20)
        logger.warn({ err }, 'runs of interrupted training jobs could not be marked failed');
      else await new Promise((r) => setTimeout(r, 3000).unref());
    }
  }
}

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
  /** Fine-tuning jobs; none means StartTraining is refused (FAILED_PRECONDITION, saying why). */
  training?: TrainingSetup;
  /** Continuous training (runs on new dataset versions, by policy); none or no authors: off. */
  autoTrain?: AutoTrainSettings;
}

/** What fine-tuning needs (docs/training.md). */
export interface TrainingSetup {
  /** Where the Python job runs (process or kubernetes). */
  runner: JobRunner;
  /** Judges each trained adapter; none means StartTraining is refused. */
  evaluator?: Evaluator;
  /** The folder holding each run's work dir (<LLMTWIN_DATA_DIR>/training). */
  dir: string;
  /** The SmolLM2 GGUF cpu-tiny trains from. */
  cacheGguf: string;
  defaultPreset: PresetName;
  /** CPU threads a job may use. */
  threads: number;
  env?: Record<string, string>;
  /** Least time between two metric batches to the registry (default 2000 ms). */
  metricsIntervalMs?: number;
  /** Overrides for tests; default: the registry's Connect client through the directory. */
  registry?: TrainingRegistry;
}

/** A runner for a module built without training: every start says how to turn training on. */
const noRunner: JobRunner = {
  kind: 'none',
  start: () =>
    Promise.reject(
      failedPrecondition(
        'training is not configured here: no job runner (LLMTWIN_TRAINER_RUNNER) was set up',
      ),
    ),
  close: () => Promise.resolve(),
};

export interface TrainerModule extends ServiceModule {
  readonly jobs: JobStore;
  readonly runner: LocalJobRunner;
  readonly datasets: DatasetJobs;
  /**
   * Fine-tuning jobs: `training.start(request, { trigger })` (continuous training calls it with trigger
   * 'dataset-version'), `cancel(id)`, `settled(id)`.
   */
  readonly training: TrainingJobs;
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
  // The training jobs a previous process left running: their runs are failed too, once the registry answers.
  const unfinishedTraining = [
    ...(await store.list({ kind: 'train', state: 'running' })),
    ...(await store.list({ kind: 'train', state: 'queued' })),
  ];
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

  const t = deps.training;
  const training = new TrainingJobs({
    store,
    registry: t?.registry ?? lazyRegistry(client(directory, registryv1.RegistryService, 'registry')),
    workspace: new FsTrainingWorkspace(t?.dir ?? 'training', deps.artifacts),
    runner: t?.runner ?? noRunner,
    evaluator: t ? t.evaluator : undefined,
    defaultPreset: t?.defaultPreset ?? 'cpu-tiny',
    cacheGguf: t?.cacheGguf ?? '',
    threads: t?.threads ?? 1,
    ...(t?.env ? { env: t.env } : {}),
    ...(t?.metricsIntervalMs !== undefined ? { metricsIntervalMs: t.metricsIntervalMs } : {}),
    logger,
  });
  if (unfinishedTraining.length > 0) void failRunsWhenReachable(training, unfinishedTraining, logger);

  const artifacts = deps.artifacts;
  let continuous: ContinuousTraining | undefined;
  return {
    name: 'trainer',
    services: [trainerv1.TrainerService],
    jobs: store,
    runner,
    datasets,
    training,
    register: (router) => registerTrainerRoutes(router, { datasets, store, runner, training }),
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
    async start() {
      if (!deps.autoTrain || !autoTrainEnabled(deps.autoTrain)) return;
      const policy = new TrainingPolicy({
        runs: deps.warehouse.collection<AutoRunRecord>(AUTO_RUNS_COLLECTION),
        starter: trainingStarter(training),
        settings: deps.autoTrain,
        logger,
      });
      continuous = await startContinuousTraining({ eventBus: deps.eventBus, policy, logger });
      logger.info(
        { authors: deps.autoTrain.authors, preset: deps.autoTrain.preset },
        'continuous training on: new instruct dataset versions of these authors start runs',
      );
    },
    async stop() {
      await continuous?.stop();
      await training.stop();
      await runner.stop();
      await t?.runner.close();
      for (const o of deps.owned ?? [])
        await o.close().catch((err: unknown) => logger.warn({ err }, 'close failed'));
    },
  };
}
