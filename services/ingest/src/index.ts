export { createIngestModule, type IngestDeps } from './module.js';
export { configSchema as ingestConfigSchema } from './config.js';
