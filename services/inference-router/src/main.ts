// Composition root of the inference-router service when it runs alone: config → adapters → server → shutdown.
import { runModuleMain } from '@llmtwin/host';
import { loadInferenceRouterConfig } from './config.js';
import { OnnxReranker } from './domain/reranker.js';
import { modelRouterFromSettings } from './llm/setup.js';
import { createInferenceRouterModule } from './module.js';

await runModuleMain({
  name: 'inference-router',
  config: () => loadInferenceRouterConfig(),
  adapters: (config) => ({
    warehouse: config.LLMTWIN_WAREHOUSE_URL,
    ...(config.LLMTWIN_EVENT_BUS_URL ? { eventBus: config.LLMTWIN_EVENT_BUS_URL } : {}),
  }),
  // The directory reads LLMTWIN_EMBED_URL, which the config has already required.
  build: async ({ adapters, config, logger, directory }) => {
    const { models, serve } = modelRouterFromSettings(config, logger);
    const reranker = config.LLMTWIN_RERANKER ? await OnnxReranker.load(config.LLMTWIN_RERANKER) : undefined;
    return createInferenceRouterModule({
      warehouse: adapters.warehouse!,
      ...(adapters.eventBus ? { eventBus: adapters.eventBus } : {}),
      logger,
      directory,
      embedAddress: config.LLMTWIN_EMBED_URL,
      contextBudgetTokens: config.LLMTWIN_CONTEXT_BUDGET_TOKENS,
      models,
      ...(serve ? { promotion: { serve } } : {}),
      ...(reranker ? { reranker } : {}),
      ...(config.LLMTWIN_PROMPT_TEMPLATE ? { promptTemplate: config.LLMTWIN_PROMPT_TEMPLATE } : {}),
      alertThresholds: {
        latencyP95Ms: config.LLMTWIN_ALERT_LATENCY_P95_MS,
        errorRate: config.LLMTWIN_ALERT_ERROR_RATE,
      },
    });
  },
});
