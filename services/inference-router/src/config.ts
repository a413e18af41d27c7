import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file> (generation records)'),
  // Every search goes through the embed service, which owns the embedder and the live collection.
  LLMTWIN_EMBED_URL: z.url().describe('address of the embed service, e.g. http://embed:8080'),
  LLMTWIN_CONTEXT_BUDGET_TOKENS: z.coerce
    .number()
    .int()
    .min(100)
    .max(1_000_000)
    .default(3_000)
    .describe('approximate tokens of retrieved passages given to the answer'),
});

export const loadInferenceRouterConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadConfig(configSchema, env);
