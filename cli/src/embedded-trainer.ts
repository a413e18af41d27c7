// The trainer's part of the embedded twin: its artifact folder, its tokenizer and its instruction model.
//
// Instructions default to "extractive" even when the router serves the in-process SmolLM2-135M-Instruct:
// that model writes poor instructions. LLMTWIN_DATASET_GENERATOR may name a model the router serves (e.g. one
// of LLMTWIN_LLM_BACKENDS), and a request's generator_model may too; the trainer then uses the router's own
// model table through the LLM port, so no model is loaded twice.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { loadConfig } from '@llmtwin/runtime';
import {
  ProcessJobRunner,
  autoTrainSettings,
  defaultTokenizerModel,
  locateTrainerPython,
  openTokenizer,
  trainerConfigSchema,
  createTrainingEvaluator,
  evaluationConfigSchema,
  type ModelTable,
  type TrainerDeps,
} from '@llmtwin/trainer';
import type { Client } from '@connectrpc/connect';
import type { inferencev1 } from '@llmtwin/contracts';
import type { Logger } from 'pino';

export async function embeddedTrainerOptions(
  dataDir: string,
  logger: Logger,
  models: ModelTable | undefined,
  /** The in-process router's client, for the evaluation's with-RAG answers (LLMTWIN_EVAL_RETRIEVAL=router). */
  router?: () => Client<typeof inferencev1.InferenceService>,
): Promise<Omit<TrainerDeps, 'warehouse' | 'eventBus' | 'directory'>> {
  const settings = loadConfig(
    trainerConfigSchema.pick({
      LLMTWIN_CACHE_DIR: true,
      LLMTWIN_DATASET_TOKENIZER: true,
      LLMTWIN_DATASET_GENERATOR: true,
      LLMTWIN_DATASET_TEMPERATURE: true,
      LLMTWIN_AUTO_TRAIN_AUTHORS: true,
      LLMTWIN_AUTO_TRAIN_DEBOUNCE_SECONDS: true,
      LLMTWIN_AUTO_TRAIN_MAX_RUNS_PER_DAY: true,
      LLMTWIN_AUTO_TRAIN_MAX_TOKENS: true,
      LLMTWIN_AUTO_TRAIN_PRESET: true,
      LLMTWIN_AUTO_TRAIN_MAX_STEPS: true,
      LLMTWIN_TRAINER_PYTHON: true,
      LLMTWIN_TRAINER_PRESET: true,
      LLMTWIN_TRAINER_CONCURRENCY: true,
      LLMTWIN_TRAINER_CANCEL_GRACE_MS: true,
    }),
  );
  const model = defaultTokenizerModel(settings.LLMTWIN_CACHE_DIR);
  let setting = settings.LLMTWIN_DATASET_TOKENIZER;
  // Unset, like the router's default model: the prepared SmolLM2 when it is there, else the word estimate
  // (which every dataset then records in stats.tokenizer).
  if (process.env.LLMTWIN_DATASET_TOKENIZER === undefined) {
    if (existsSync(model)) setting = 'gguf:default';
    else
      logger.warn(
        { model },
        'the SmolLM2 tokenizer is not prepared (npm run models:prepare): datasets count words',
      );
  }
  // Loaded on the first build, so that `llmtwin up` does not wait for it.
  let tokenizer: ReturnType<typeof openTokenizer> | undefined;
  const load = () =>
    (tokenizer ??= openTokenizer(setting, model).catch((err: unknown) => {
      tokenizer = undefined; // a later build tries again (the model may have been prepared since)
      throw err;
    }));
  const artifacts = await createArtifactStore(`file:${path.join(dataDir, 'artifacts')}`);
  // Fine-tuning runs the Python job as a child process on this machine (docs/training.md); a missing
  // environment fails each job with what to run (npm run trainer:prepare), not the twin's start.
  const python = locateTrainerPython({
    override: settings.LLMTWIN_TRAINER_PYTHON,
    cacheDir: settings.LLMTWIN_CACHE_DIR,
  });
  const runner = new ProcessJobRunner({
    python: python.python,
    pythonPath: python.pythonPath,
    concurrency: settings.LLMTWIN_TRAINER_CONCURRENCY,
    graceMs: settings.LLMTWIN_TRAINER_CANCEL_GRACE_MS,
    logger,
  });
  return {
    logger,
    upstreams: {
      clean: 'in-process',
      ingest: 'in-process',
      registry: 'in-process',
      'inference-router': 'in-process',
    },
    artifacts,
    ...(setting === 'words' || setting === ''
      ? {}
      : {
          tokenizer: async () => (await load())!,
        }),
    ...(models ? { models } : {}),
    defaultGenerator: settings.LLMTWIN_DATASET_GENERATOR,
    temperature: settings.LLMTWIN_DATASET_TEMPERATURE,
    training: {
      runner,
      dir: path.join(dataDir, 'training'),
      cacheGguf: model,
      defaultPreset: settings.LLMTWIN_TRAINER_PRESET,
      threads: availableParallelism(),
      // Judge from the router's model table (LLMTWIN_EVAL_JUDGE_MODEL), passages from its Retrieve.
      evaluator: createTrainingEvaluator({
        config: loadConfig(evaluationConfigSchema),
        python: python.python,
        pythonPath: python.pythonPath,
        threads: availableParallelism(),
        ...(models ? { models } : {}),
        ...(router ? { router } : {}),
        logger,
      }),
    },
    autoTrain: autoTrainSettings(settings),
    owned: [artifacts, { close: async () => void (await (await tokenizer)?.close()) }],
  };
}
