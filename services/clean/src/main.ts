// Composition root of the clean service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadCleanConfig } from './config.js';
import { createCleanModule } from './module.js';

await runModuleMain({
  name: 'clean',
  config: () => loadCleanConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: ({ adapters, logger, directory }) =>
    createCleanModule({ warehouse: adapters.warehouse!, eventBus: adapters.eventBus!, logger, directory }),
});
