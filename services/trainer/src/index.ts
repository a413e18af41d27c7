export {
  createTrainerModule,
  type TrainerDeps,
  type TrainerModule,
  type TrainerUpstream,
  type TrainingSetup,
} from './module.js';
export type { TrainingJobs, TrainingTrigger, StartTrainingInput } from './domain/training.js';
export type { Evaluator, EvaluationInput, HeldOutPrompt } from './domain/evaluator.port.js';
export type { JobRunner, TrainingSpec } from './domain/job-runner.port.js';
export { PRESETS, PRESET_NAMES, type PresetName } from './domain/presets.js';
export { ProcessJobRunner } from './adapters/process-job-runner.js';
export { locateTrainerPython, type TrainerPython } from './adapters/trainer-python.js';
export {
  autoTrainSettings,
  configSchema as trainerConfigSchema,
  defaultTokenizerModel,
  evaluationConfigSchema,
  evaluationConfigShape,
  evaluationSettings,
  type EvaluationConfig,
} from './config.js';
export { createTrainingEvaluator, type TrainingEvaluatorOptions } from './adapters/training-evaluator.js';
export type { AutoTrainSettings } from './domain/training-policy.js';
export { openTokenizer } from './adapters/create-tokenizer.js';
export type { ModelTable } from './adapters/router-llm.js';
export {
  validateJsonl,
  CHAT_SCHEMA_VERSION,
  PREFERENCE_SCHEMA_VERSION,
  type SchemaVersion,
} from './domain/export-format.js';
