// Composition root of the embed service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadEmbedConfig } from './config.js';
import { createEmbedModule } from './module.js';

await runModuleMain({
  name: 'embed',
  config: () => loadEmbedConfig(),
  adapters: (config) => ({
    eventBus: config.LLMTWIN_EVENT_BUS_URL,
    vectorStore: config.LLMTWIN_VECTOR_STORE_URL,
  }),
  build: ({ adapters }) =>
    createEmbedModule({ eventBus: adapters.eventBus!, vectorStore: adapters.vectorStore! }),
});
