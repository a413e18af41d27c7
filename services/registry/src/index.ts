export { createRegistryModule, type RegistryDeps } from './module.js';
export { configSchema as registryConfigSchema } from './config.js';
export { Registry } from './domain/registry.js';
