// Composition root of the inference-router service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadInferenceRouterConfig } from './config.js';
import { createInferenceRouterModule } from './module.js';

await runModuleMain({
  name: 'inference-router',
  config: () => loadInferenceRouterConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL }),
  // The directory reads LLMTWIN_EMBED_URL, which the config has already required.
  build: ({ adapters, config, logger, directory }) =>
    createInferenceRouterModule({
      warehouse: adapters.warehouse!,
      logger,
      directory,
      embedAddress: config.LLMTWIN_EMBED_URL,
      contextBudgetTokens: config.LLMTWIN_CONTEXT_BUDGET_TOKENS,
    }),
});
