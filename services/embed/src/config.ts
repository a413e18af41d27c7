import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_EVENT_BUS_URL: z.string().describe('kafka://host:port[,host:port] or log:<file>'),
  LLMTWIN_VECTOR_STORE_URL: z.string().describe('http://weaviate:8080?grpc=50051 or sqlite:<file>'),
});

export const loadEmbedConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(configSchema, env);
