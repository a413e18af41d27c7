// Composition root of the ingest service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { archiveSettings, crawlSettings, loadIngestConfig, sourceHealthSettings } from './config.js';
import { createIngestModule } from './module.js';

await runModuleMain({
  name: 'ingest',
  config: () => loadIngestConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: ({ adapters, config, logger }) =>
    createIngestModule({
      warehouse: adapters.warehouse!,
      eventBus: adapters.eventBus!,
      logger,
      dataDir: config.LLMTWIN_DATA_DIR,
      crawl: crawlSettings(config),
      archives: archiveSettings(config),
      sourceHealth: sourceHealthSettings(config),
    }),
});
