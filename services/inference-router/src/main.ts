// Composition root of the inference-router service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { loadInferenceRouterConfig } from './config.js';
import { createInferenceRouterModule, routerOptionsFromSettings } from './module.js';

await runModuleMain({
  name: 'inference-router',
  config: () => loadInferenceRouterConfig(),
  adapters: (config) => ({
    warehouse: config.LLMTWIN_WAREHOUSE_URL,
    ...(config.LLMTWIN_EVENT_BUS_URL ? { eventBus: config.LLMTWIN_EVENT_BUS_URL } : {}),
  }),
  // The directory reads LLMTWIN_EMBED_URL, which the config has already required.
  build: async ({ adapters, config, logger, directory }) =>
    createInferenceRouterModule({
      warehouse: adapters.warehouse!,
      ...(adapters.eventBus ? { eventBus: adapters.eventBus } : {}),
      logger,
      directory,
      embedAddress: config.LLMTWIN_EMBED_URL,
      ...(await routerOptionsFromSettings(config, logger)),
      ...(config.LLMTWIN_ARTIFACT_STORE_URL
        ? { artifacts: await createArtifactStore(config.LLMTWIN_ARTIFACT_STORE_URL) }
        : {}),
    }),
});
