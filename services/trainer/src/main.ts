// Composition root of the trainer service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { failedPrecondition } from '@llmtwin/runtime';
import { openTokenizer } from './adapters/create-tokenizer.js';
import { artifactStoreUrl, defaultTokenizerModel, loadTrainerConfig } from './config.js';
import { EXTRACTIVE } from './domain/example-generators.js';
import { createTrainerModule } from './module.js';

await runModuleMain({
  name: 'trainer',
  config: () => loadTrainerConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: async ({ config, adapters, logger, directory }) => {
    // The LLM backends live in the inference router; alone, the trainer has none to give the LLM port yet.
    if (config.LLMTWIN_DATASET_GENERATOR !== EXTRACTIVE) {
      throw failedPrecondition(
        `LLMTWIN_DATASET_GENERATOR is "${config.LLMTWIN_DATASET_GENERATOR}", but the trainer running alone has ` +
          'no language model yet: use extractive (the embedded twin can use the router models)',
      );
    }
    const artifacts = await createArtifactStore(artifactStoreUrl(config));
    const tokenizer = await openTokenizer(
      config.LLMTWIN_DATASET_TOKENIZER,
      defaultTokenizerModel(config.LLMTWIN_CACHE_DIR),
    );
    return createTrainerModule({
      warehouse: adapters.warehouse!,
      eventBus: adapters.eventBus!,
      logger,
      directory,
      upstreams: {
        clean: config.LLMTWIN_CLEAN_URL,
        ingest: config.LLMTWIN_INGEST_URL,
        registry: config.LLMTWIN_REGISTRY_URL,
        ...(config.LLMTWIN_INFERENCE_ROUTER_URL
          ? { 'inference-router': config.LLMTWIN_INFERENCE_ROUTER_URL }
          : {}),
      },
      artifacts,
      ...(tokenizer ? { tokenizer } : {}),
      defaultGenerator: EXTRACTIVE,
      temperature: config.LLMTWIN_DATASET_TEMPERATURE,
      owned: [artifacts, ...(tokenizer ? [tokenizer] : [])],
    });
  },
});
