// Composition root of the embed service when it runs alone: config → adapters → server → shutdown.
import { policyChunker } from '@llmtwin/chunking';
import { runModuleMain } from '@llmtwin/host';
import { embedderAdapterOf, loadEmbedConfig } from './config.js';
import { createEmbedder } from '@llmtwin/ports/adapters';
import { createEmbedModule } from './module.js';

await runModuleMain({
  name: 'embed',
  config: () => loadEmbedConfig(),
  adapters: (config) => ({
    warehouse: config.LLMTWIN_WAREHOUSE_URL,
    eventBus: config.LLMTWIN_EVENT_BUS_URL,
    vectorStore: config.LLMTWIN_VECTOR_STORE_URL,
  }),
  build: async ({ adapters, config, logger, directory }) => {
    const embedder = await createEmbedder(config.LLMTWIN_EMBEDDER_URL, config.embedder);
    return createEmbedModule({
      warehouse: adapters.warehouse!,
      eventBus: adapters.eventBus!,
      vectorStore: adapters.vectorStore!,
      embedder,
      embedderAdapter: embedderAdapterOf(config.LLMTWIN_EMBEDDER_URL),
      chunker: policyChunker(embedder),
      logger,
      directory,
    });
  },
});
