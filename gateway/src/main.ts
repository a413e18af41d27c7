// Composition root of the gateway when it runs alone (distributed mode).
import { directoryFromEnv, runModuleMain } from '@llmtwin/host';
import { loadGatewayConfig } from './config.js';
import { createGatewayModule } from './module.js';

await runModuleMain({
  name: 'gateway',
  config: () => loadGatewayConfig(),
  adapters: (config) => (config.LLMTWIN_EVENT_BUS_URL ? { eventBus: config.LLMTWIN_EVENT_BUS_URL } : {}),
  build: ({ config, adapters }) =>
    createGatewayModule({
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
    }),
});
