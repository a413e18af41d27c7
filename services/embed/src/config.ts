import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';
import { embedderSettingsFromEnv } from '@llmtwin/ports/adapters';

/** The model scripts/prepare-models.mjs puts in the cache; `onnx:<id>` resolves it there. */
export const DEFAULT_EMBEDDER_URL = 'onnx:all-MiniLM-L6-v2';

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file>'),
  LLMTWIN_EVENT_BUS_URL: z.string().describe('kafka://host:port[,host:port] or log:<file>'),
  LLMTWIN_VECTOR_STORE_URL: z.string().describe('http://weaviate:8080?grpc=50051 or sqlite:<file>'),
  LLMTWIN_EMBEDDER_URL: z
    .string()
    .default(DEFAULT_EMBEDDER_URL)
    .describe('onnx:<model folder or hub id>, tei+http://…, openai+https://…?model=…'),
});

export const loadEmbedConfig = (env: NodeJS.ProcessEnv = process.env) => ({
  ...loadConfig(configSchema, env),
  embedder: embedderSettingsFromEnv(env),
});

/** The adapter a embedder URL names, for health and GetEmbedderInfo. */
export const embedderAdapterOf = (url: string): string => /^(onnx|tei|openai)/.exec(url)?.[1] ?? 'unknown';
