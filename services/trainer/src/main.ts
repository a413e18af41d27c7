// Composition root of the trainer service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { modelRouterFromSettings } from '@llmtwin/llm/backends';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { failedPrecondition } from '@llmtwin/runtime';
import { openTokenizer } from './adapters/create-tokenizer.js';
import { artifactStoreUrl, autoTrainSettings, defaultTokenizerModel, loadTrainerConfig } from './config.js';
import { EXTRACTIVE } from './domain/example-generators.js';
import { createTrainerModule } from './module.js';

await runModuleMain({
  name: 'trainer',
  config: () => loadTrainerConfig(),
  adapters: (config) => ({ warehouse: config.LLMTWIN_WAREHOUSE_URL, eventBus: config.LLMTWIN_EVENT_BUS_URL }),
  build: async ({ config, adapters, logger, directory }) => {
    // The trainer's own models (LLMTWIN_LLM_BACKENDS, as the router's) write instructions and rejected
    // answers; without any, only the extractive generator can.
    const generator = config.LLMTWIN_DATASET_GENERATOR;
    if (generator !== EXTRACTIVE && config.LLMTWIN_LLM_BACKENDS.trim() === '') {
      throw failedPrecondition(
        `LLMTWIN_DATASET_GENERATOR is "${generator}" but LLMTWIN_LLM_BACKENDS names no model: ` +
          `set LLMTWIN_LLM_BACKENDS (e.g. ${generator}=openai+http://vllm:8000/v1) or use extractive`,
      );
    }
    const models =
      config.LLMTWIN_LLM_BACKENDS.trim() === ''
        ? undefined
        : modelRouterFromSettings({ ...config, LLMTWIN_LLM_PROMOTION_BACKENDS: '' }, logger).models;
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
      ...(models ? { models } : {}),
      defaultGenerator: generator,
      temperature: config.LLMTWIN_DATASET_TEMPERATURE,
      autoTrain: autoTrainSettings(config),
      owned: [artifacts, ...(tokenizer ? [tokenizer] : []), ...(models ? [models] : [])],
    });
  },
});
