export { createTrainerModule, type TrainerDeps, type TrainerModule, type TrainerUpstream } from './module.js';
export { configSchema as trainerConfigSchema, defaultTokenizerModel } from './config.js';
export { openTokenizer } from './adapters/create-tokenizer.js';
export type { ModelTable } from './adapters/router-llm.js';
export {
  validateJsonl,
  CHAT_SCHEMA_VERSION,
  PREFERENCE_SCHEMA_VERSION,
  type SchemaVersion,
} from './domain/export-format.js';
