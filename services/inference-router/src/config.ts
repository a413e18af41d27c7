import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { llmSettingsShape } from '@llmtwin/llm/backends';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const ms = (def: number, what: string) =>
  z.coerce.number().int().min(0).max(3_600_000).default(def).describe(what);

/** An optional number: blank or unset means "not set" (the backend decides), not 0. */
const penalty = (min: number, max: number, what: string) =>
  z
    .preprocess(
      (v) => (v === '' || v === undefined ? undefined : v),
      z.coerce.number().min(min).max(max).optional(),
    )
    .describe(what);

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
  // Penalties against loops, sent with every answer; blank = the backend's own default (in process: repeat
  // 1.1 over 64 tokens and DRY 0.8). HTTP backends get only those set: a hosted API refuses unknown ones.
  LLMTWIN_LLM_REPEAT_PENALTY: penalty(0, 2, 'repetition penalty (1 = off; in process, vLLM, TGI, llama.cpp)'),
  LLMTWIN_LLM_FREQUENCY_PENALTY: penalty(-2, 2, 'OpenAI-style frequency penalty (0 = off)'),
  LLMTWIN_LLM_PRESENCE_PENALTY: penalty(-2, 2, 'OpenAI-style presence penalty (0 = off)'),
  LLMTWIN_LLM_DRY_MULTIPLIER: penalty(0, 5, 'DRY penalty multiplier (0 = off; in process and llama.cpp)'),
  LLMTWIN_REPEAT_GUARD_WORDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000)
    .default(12)
    .describe('stop an answer once its last N words repeat earlier words verbatim (0 = no guard)'),
  LLMTWIN_ANSWER_FALLBACK: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      'replace an answer that cites no source, or that the guard stopped, with quotes of the sources',
    ),
  LLMTWIN_ANSWER_ATTRIBUTION: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      'when an answer cites no source but at least half its sentences are found in the sources, name those sources after it',
    ),
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
