// Composition root of the trainer service when it runs alone: config → adapters → server → shutdown.
import { createClient } from '@connectrpc/connect';
import { inferencev1 } from '@llmtwin/contracts';
import { runModuleMain } from '@llmtwin/host';
import type { Logger } from 'pino';
import { modelRouterFromSettings } from '@llmtwin/llm/backends';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { failedPrecondition } from '@llmtwin/runtime';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { openTokenizer } from './adapters/create-tokenizer.js';
import { KubernetesJobRunner } from './adapters/k8s-job-runner.js';
import { ProcessJobRunner } from './adapters/process-job-runner.js';
import { createTrainingEvaluator } from './adapters/training-evaluator.js';
import { locateTrainerPython } from './adapters/trainer-python.js';
import {
  artifactStoreUrl,
  autoTrainSettings,
  defaultTokenizerModel,
  loadTrainerConfig,
  type TrainerConfig,
} from './config.js';
import { EXTRACTIVE } from './domain/example-generators.js';
import { createTrainerModule } from './module.js';

function processRunner(config: TrainerConfig, logger: Logger): ProcessJobRunner {
  const py = locateTrainerPython({
    override: config.LLMTWIN_TRAINER_PYTHON,
    cacheDir: config.LLMTWIN_CACHE_DIR,
  });
  if (!py.prepared) logger.warn({ python: py.python, problem: py.problem }, 'training jobs will fail');
  return new ProcessJobRunner({
    python: py.python,
    pythonPath: py.pythonPath,
    concurrency: config.LLMTWIN_TRAINER_CONCURRENCY,
    graceMs: config.LLMTWIN_TRAINER_CANCEL_GRACE_MS,
    logger,
  });
}

await runModuleMain({
  name: 'trainer',
  config: () => loadTrainerConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: async ({ config, adapters, logger, directory }) => {
    // The trainer's own models (LLMTWIN_LLM_BACKENDS, as the router's) write instructions and rejected
    // answers; without any, only the extractive generator can.
    const generator = config.LLMTWIN_DATASET_GENERATOR;
    if (generator !== EXTRACTIVE && config.LLMTWIN_LLM_BACKENDS.trim() === '') {
      throw failedPrecondition(
        `LLMTWIN_DATASET_GENERATOR is "${generator}" but LLMTWIN_LLM_BACKENDS names no model: ` +
          `set LLMTWIN_LLM_BACKENDS (e.g. ${generator}=openai+http://vllm:8000/v1) or use extractive`,
      );
    }
    const models =
      config.LLMTWIN_LLM_BACKENDS.trim() === ''
        ? undefined
        : modelRouterFromSettings({ ...config, LLMTWIN_LLM_PROMOTION_BACKENDS: '' }, logger).models;
    const artifacts = await createArtifactStore(artifactStoreUrl(config));
    const tokenizer = await openTokenizer(
      config.LLMTWIN_DATASET_TOKENIZER,
      defaultTokenizerModel(config.LLMTWIN_CACHE_DIR),
    );
    const evalPython = locateTrainerPython({
      override: config.LLMTWIN_TRAINER_PYTHON,
      cacheDir: config.LLMTWIN_CACHE_DIR,
    });
    return createTrainerModule({
      warehouse: adapters.warehouse!,
      eventBus: adapters.eventBus!,
      logger,
      directory,
      upstreams: {
        clean: config.LLMTWIN_CLEAN_URL,
        ingest: config.LLMTWIN_INGEST_URL,
        registry: config.LLMTWIN_REGISTRY_URL,
        ...(config.LLMTWIN_INFERENCE_ROUTER_URL
          ? { 'inference-router': config.LLMTWIN_INFERENCE_ROUTER_URL }
          : {}),
      },
      artifacts,
      ...(tokenizer ? { tokenizer } : {}),
      ...(models ? { models } : {}),
      defaultGenerator: generator,
      temperature: config.LLMTWIN_DATASET_TEMPERATURE,
      autoTrain: autoTrainSettings(config),
      training: {
        // Chosen by LLMTWIN_TRAINER_RUNNER only: a cluster is never guessed from the environment.
        runner:
          config.LLMTWIN_TRAINER_RUNNER === 'kubernetes'
            ? await KubernetesJobRunner.fromConfig(
                { ...config, LLMTWIN_ARTIFACT_STORE_URL: artifactStoreUrl(config) },
                logger,
              )
            : processRunner(config, logger),
        dir: path.resolve(config.LLMTWIN_DATA_DIR, 'training'),
        cacheGguf: defaultTokenizerModel(config.LLMTWIN_CACHE_DIR),
        defaultPreset: config.LLMTWIN_TRAINER_PRESET,
        threads: availableParallelism(),
        // The evaluation runs here, in the trainer's process, with the job's Python (LLMTWIN_EVAL_*).
        evaluator: createTrainingEvaluator({
          config,
          python: evalPython.python,
          pythonPath: evalPython.pythonPath,
          threads: availableParallelism(),
          ...(models ? { models } : {}),
          ...(config.LLMTWIN_INFERENCE_ROUTER_URL
            ? {
                router: () =>
                  createClient(inferencev1.InferenceService, directory.transport('inference-router')),
              }
            : {}),
          logger,
        }),
      },
      owned: [artifacts, ...(tokenizer ? [tokenizer] : []), ...(models ? [models] : [])],
    });
  },
});
