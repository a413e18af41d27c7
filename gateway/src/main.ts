// Composition root of the gateway when it runs alone (distributed mode).
import { directoryFromEnv, runModuleMain } from '@llmtwin/host';
import { loadGatewayConfig, securitySettings } from './config.js';
import { openaiHttpRoutes } from './http/openai.routes.js';
import { createGatewayModule } from './module.js';

await runModuleMain({
  name: 'gateway',
  config: () => loadGatewayConfig(),
  adapters: (config) => ({
    warehouse: config.LLMTWIN_WAREHOUSE_URL,
    ...(config.LLMTWIN_EVENT_BUS_URL ? { eventBus: config.LLMTWIN_EVENT_BUS_URL } : {}),
  }),
  build: ({ config, adapters, logger }) =>
    createGatewayModule({
      warehouse: adapters.warehouse!,
      ...(adapters.eventBus ? { eventBus: adapters.eventBus } : {}),
      directory: directoryFromEnv(),
      addresses: {
        ingest: config.LLMTWIN_INGEST_URL,
        clean: config.LLMTWIN_CLEAN_URL,
        chunk: config.LLMTWIN_CHUNK_URL,
        embed: config.LLMTWIN_EMBED_URL,
        registry: config.LLMTWIN_REGISTRY_URL,
        trainer: config.LLMTWIN_TRAINER_URL,
        'inference-router': config.LLMTWIN_INFERENCE_ROUTER_URL,
      },
      mode: 'distributed',
      version: process.env['npm_package_version'] ?? '0.1.0',
      dataDir: '',
      security: securitySettings(config),
      httpRoutes: openaiHttpRoutes,
      logger,
    }),
});
