// Composition root of the chunk service when it runs alone: config → adapters → server → shutdown.
import { createEmbedder } from '@llmtwin/ports/adapters';
import { runModuleMain } from '@llmtwin/host';
import { loadChunkConfig } from './config.js';
import { createChunkModule } from './module.js';
import { policyChunker } from '@llmtwin/chunking';

await runModuleMain({
  name: 'chunk',
  config: () => loadChunkConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: async ({ adapters, config, logger }) => {
    // Loads the embedder only for its tokenizer and limit (a remote URL loads no model).
    const counter = await createEmbedder(config.LLMTWIN_EMBEDDER_URL, {
      ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
      allowModelDownload: config.allowModelDownload,
    });
    return createChunkModule({
      warehouse: adapters.warehouse!,
      eventBus: adapters.eventBus!,
      chunker: policyChunker(counter),
      logger,
    });
  },
});
