// Composition root of the trainer service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadTrainerConfig } from './config.js';
import { createTrainerModule } from './module.js';

await runModuleMain({
  name: 'trainer',
  config: () => loadTrainerConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: ({ adapters }) =>
    createTrainerModule({ warehouse: adapters.warehouse!, eventBus: adapters.eventBus! }),
});
