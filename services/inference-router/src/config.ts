import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file>'),
  LLMTWIN_VECTOR_STORE_URL: z.string().describe('http://weaviate:8080?grpc=50051 or sqlite:<file>'),
});

export const loadInferenceRouterConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadConfig(configSchema, env);
