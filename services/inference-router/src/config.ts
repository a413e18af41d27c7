import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { llmSettingsShape } from '@llmtwin/llm/backends';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const ms = (def: number, what: string) =>
  z.coerce.number().int().min(0).max(3_600_000).default(def).describe(what);

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file> (generation records)'),
  // Every search goes through the embed service, which owns the embedder and the live collection.
  LLMTWIN_EMBED_URL: z.url().describe('address of the embed service, e.g. http://embed:8080'),
  /** Optional: ingest, for the author's display name in the prompt. */
  LLMTWIN_INGEST_URL: z.url().optional().describe('address of the ingest service (author names for prompts)'),
  /** Optional: the event bus, for model promotions (llmtwin.registry.v1) and alert events (llmtwin.alerts.v1). */
  LLMTWIN_EVENT_BUS_URL: z.string().optional().describe('kafka://host:port[,host:port] or log:<file>'),
  LLMTWIN_CONTEXT_BUDGET_TOKENS: z.coerce
    .number()
    .int()
    .min(100)
    .max(1_000_000)
    .default(3_000)
    .describe(
      'approximate tokens of retrieved passages given to the answer (also bounded by the model window)',
    ),
  ...llmSettingsShape,
  LLMTWIN_PROMPT_TEMPLATE: z
    .string()
    .default('')
    .describe('answer template version to pin (default: the newest)'),
  LLMTWIN_RERANKER: z
    .string()
    .default('')
    .describe('folder of an ONNX cross-encoder (sequence classification) for retrieval.rerank; empty = none'),
  LLMTWIN_ARTIFACT_STORE_URL: z
    .string()
    .default('')
    .describe(
      "the artifact store the trainer writes to (file:<folder> or an S3 URL): authors' GGUF adapters for an " +
        'in-process model; empty = none (GPU servers load adapters themselves)',
    ),
  LLMTWIN_ADAPTER_CACHE_DIR: z
    .string()
    .default(
      path.join(process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin'), 'adapters'),
    )
    .describe("where authors' adapter files are fetched to (named by sha256)"),
  LLMTWIN_ALERT_LATENCY_P95_MS: ms(30_000, 'alert when the p95 latency of recent generations is above this'),
  LLMTWIN_ALERT_ERROR_RATE: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.2)
    .describe('alert when this share of recent generations failed'),
});

export type InferenceRouterConfig = z.infer<typeof configSchema>;

export const loadInferenceRouterConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadConfig(configSchema, env);
