// Composition root of the chunk service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadChunkConfig } from './config.js';
import { createChunkModule } from './module.js';

await runModuleMain({
  name: 'chunk',
  config: () => loadChunkConfig(),
  adapters: (config) => ({ eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: ({ adapters }) => createChunkModule({ eventBus: adapters.eventBus! }),
});
