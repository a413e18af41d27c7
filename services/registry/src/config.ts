import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file>'),
  LLMTWIN_EVENT_BUS_URL: z.string().describe('kafka://host:port[,host:port] or log:<file>'),
});

export const loadRegistryConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(configSchema, env);
