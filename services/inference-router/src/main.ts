// Composition root of the inference-router service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadInferenceRouterConfig } from './config.js';
import { createInferenceRouterModule } from './module.js';

await runModuleMain({
  name: 'inference-router',
  config: () => loadInferenceRouterConfig(),
  adapters: (config) => ({
    warehouse: config.LLMTWIN_WAREHOUSE_URL,
    vectorStore: config.LLMTWIN_VECTOR_STORE_URL,
  }),
  build: ({ adapters }) =>
    createInferenceRouterModule({ warehouse: adapters.warehouse!, vectorStore: adapters.vectorStore! }),
});
