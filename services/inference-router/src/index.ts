export { createInferenceRouterModule, type InferenceRouterDeps } from './module.js';
export { configSchema as inferenceConfigSchema } from './config.js';
