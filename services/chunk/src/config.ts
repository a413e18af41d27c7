import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file> (per-document chunking state)'),
  LLMTWIN_EVENT_BUS_URL: z.string().describe('kafka://host:port[,host:port] or log:<file>'),
  // Chunks are counted with the embedder's own tokenizer, so chunk reads the embed service's model setting.
  LLMTWIN_EMBEDDER_URL: z
    .string()
    .default('onnx:all-MiniLM-L6-v2')
    .describe("the embed service's LLMTWIN_EMBEDDER_URL: its tokenizer and token limit set the chunk size"),
});

export const loadChunkConfig = (env: NodeJS.ProcessEnv = process.env) => ({
  ...loadConfig(configSchema, env),
  cacheDir: env.LLMTWIN_CACHE_DIR || undefined,
  allowModelDownload: ['1', 'true', 'yes'].includes((env.LLMTWIN_ALLOW_MODEL_DOWNLOAD ?? '').toLowerCase()),
});
