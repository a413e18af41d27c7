// Composition root of the registry service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadRegistryConfig } from './config.js';
import { createRegistryModule } from './module.js';

await runModuleMain({
  name: 'registry',
  config: () => loadRegistryConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: ({ adapters, logger }) =>
    createRegistryModule({ warehouse: adapters.warehouse!, eventBus: adapters.eventBus!, logger }),
});
