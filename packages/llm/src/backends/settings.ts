// The LLM settings every process that builds its own model table reads (the router; the trainer for its
// instruction writer): one schema, so both configure models the same way.
import { z } from 'zod';

const ms = (def: number, what: string) =>
  z.coerce.number().int().min(0).max(3_600_000).default(def).describe(what);

export const llmSettingsShape = {
  LLMTWIN_LLM_BACKENDS: z
    .string()
    .default('')
    .describe(
      'models and their backends, comma-separated <model>=<kind>+<url>: openai+http://vllm:8000/v1, ' +
        'tgi+http://tgi:80, or <model>=local:<file.gguf> (local:default = the prepared Qwen2.5-Coder-0.5B-Instruct, local:SmolLM2-135M-Instruct the tiny one); empty = extractive answers',
    ),
  LLMTWIN_LLM_DEFAULT_MODEL: z
    .string()
    .default('')
    .describe('model used when a request names none (default: the first)'),
  LLMTWIN_LLM_API_KEY: z
    .string()
    .default('')
    .describe('bearer key sent to OpenAI-compatible backends (hosted APIs)'),
  LLMTWIN_LLM_THREADS: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(2)
    .describe('CPU threads of an in-process model'),
  LLMTWIN_LLM_FIRST_TOKEN_TIMEOUT_MS: ms(60_000, 'longest wait for a backend to start answering'),
  LLMTWIN_LLM_IDLE_TIMEOUT_MS: ms(30_000, 'longest silence in the middle of an answer'),
  LLMTWIN_LLM_PROMOTION_BACKENDS: z
    .string()
    .default('')
    .describe(
      'where models promoted in the registry are served, comma-separated <kind>+<url> (e.g. openai+http://vllm:8000/v1); ' +
        'empty = promotions are logged and not served',
    ),
};
