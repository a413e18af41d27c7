export { createTrainerModule, type TrainerDeps } from './module.js';
export { configSchema as trainerConfigSchema } from './config.js';
