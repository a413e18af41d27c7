import { homedir } from 'node:os';
import path from 'node:path';
import { baseConfigSchema, loadConfig } from '@llmtwin/runtime';
import { llmSettingsShape } from '@llmtwin/llm/backends';
import { z } from 'zod';
import type { EvaluationSettings } from './domain/evaluation/evaluation.js';
import { PRESET_NAMES, type PresetName } from './domain/presets.js';
import { parseAuthors, type AutoTrainSettings } from './domain/training-policy.js';

export const trainingConfigShape = {
  LLMTWIN_TRAINER_RUNNER: z
    .enum(['process', 'kubernetes'])
    .default('process')
    .describe(
      'where training jobs run: process (a child process of the trainer) or kubernetes (a Job per run, ' +
        'LLMTWIN_TRAINER_K8S_*)',
    ),
  LLMTWIN_TRAINER_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(16)
    .default(1)
    .describe('training processes at once (process runner); the others wait'),
  LLMTWIN_TRAINER_PRESET: z
    .enum(PRESET_NAMES as [PresetName, ...PresetName[]])
    .default('cpu-tiny')
    .describe('the preset a StartTraining request without one gets (docs/training.md)'),
  LLMTWIN_TRAINER_PYTHON: z
    .string()
    .default('')
    .describe(
      'the Python interpreter of the training job; empty = the venv npm run trainer:prepare made in ' +
        'LLMTWIN_CACHE_DIR',
    ),
  LLMTWIN_TRAINER_CANCEL_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(60_000)
    .describe('how long a cancelled job may take to save its checkpoint before it is killed'),
  LLMTWIN_TRAINER_K8S_API_URL: z
    .string()
    .default('')
    .describe(
      'the Kubernetes API server; empty = in-cluster (KUBERNETES_SERVICE_HOST/PORT with the pod service ' +
        'account token and CA)',
    ),
  KUBERNETES_SERVICE_HOST: z
    .string()
    .optional()
    .describe('set by Kubernetes in every pod: the in-cluster API server (kubernetes runner)'),
  KUBERNETES_SERVICE_PORT: z.string().optional().describe('set by Kubernetes in every pod'),
  LLMTWIN_TRAINER_K8S_NAMESPACE: z
    .string()
    .default('')
    .describe("namespace of the training Jobs; empty = the trainer pod's own"),
  LLMTWIN_TRAINER_K8S_TOKEN_FILE: z
    .string()
    .default('/var/run/secrets/kubernetes.io/serviceaccount/token')
    .describe('bearer token for the Kubernetes API (read at every call: projected tokens rotate)'),
  LLMTWIN_TRAINER_K8S_CA_FILE: z
    .string()
    .default('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt')
    .describe("the API server's CA certificate; empty = the system's CAs"),
  LLMTWIN_TRAINER_K8S_JOB_TEMPLATE: z
    .string()
    .default('/etc/llmtwin/training-job/training-job.yaml')
    .describe('the batch/v1 Job template training Jobs are rendered from (deploy/base/trainer/training-job)'),
  LLMTWIN_TRAINER_K8S_IMAGE: z
    .string()
    .default('')
    .describe("the training image (Python job and its stack); empty = the template's"),
};

// The evaluation step of a training run (docs/training.md, "Evaluation"): sizes, the judge, the gates.
const fraction = (fallback: number, what: string) =>
  z.coerce.number().min(0).max(1).default(fallback).describe(`${what} (a fraction: 0.05 = 5%)`);

export const evaluationConfigShape = {
  LLMTWIN_EVAL_MAX_PROMPTS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(8)
    .describe('held-out prompts each model answers (the first of the test split); 0 = perplexity only'),
  LLMTWIN_EVAL_MAX_NEW_TOKENS: z.coerce
    .number()
    .int()
    .min(1)
    .max(4096)
    .default(64)
    .describe('greedy tokens per evaluation answer'),
  LLMTWIN_EVAL_MAX_SEQ_LENGTH: z.coerce
    .number()
    .int()
    .min(8)
    .max(32768)
    .default(256)
    .describe('tokens of each held-out text scored for perplexity (longer texts are cut)'),
  LLMTWIN_EVAL_JUDGE_MODEL: z
    .string()
    .default('')
    .describe(
      'the LLM judge, a model id of LLMTWIN_LLM_BACKENDS, asked at temperature 0; empty = no judge ' +
        '(judge scores 0, judge_model empty)',
    ),
  LLMTWIN_EVAL_RETRIEVAL: z
    .enum(['none', 'router'])
    .default('none')
    .describe(
      "where with-RAG answers get their passages: router (the inference router's Retrieve) or none " +
        '(with-RAG scores 0, the judge gate says so)',
    ),
  LLMTWIN_EVAL_RAG_PASSAGES: z.coerce
    .number()
    .int()
    .min(1)
    .max(20)
    .default(3)
    .describe('passages retrieved per prompt for with-RAG answers'),
  LLMTWIN_EVAL_MIN_PERPLEXITY_GAIN: fraction(
    0,
    "gate: the candidate's perplexity on held-out text must be below the base's by at least this much",
  ),
  LLMTWIN_EVAL_MAX_PERPLEXITY_VS_PRODUCTION: fraction(
    0.05,
    "gate: the candidate's perplexity may exceed the production version's by at most this much",
  ),
  LLMTWIN_EVAL_MAX_STYLE_DISTANCE_INCREASE: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.05)
    .describe("gate: the candidate's stylometric distance (0..1) may exceed the base's by at most this much"),
  LLMTWIN_EVAL_MAX_JUDGE_DROP: z.coerce
    .number()
    .min(0)
    .max(2)
    .default(0)
    .describe(
      "gate: each of the candidate's judge means (1–3) may fall below the production version's by at most " +
        'this much (when both were judged)',
    ),
};

/** Continuous training: runs started on new instruct dataset versions (docs/training.md). */
export const autoTrainConfigShape = {
  LLMTWIN_AUTO_TRAIN_AUTHORS: z
    .string()
    .default('')
    .describe(
      'authors whose new instruct dataset versions start a training run: a comma list, "*" = every author; ' +
        'empty = continuous training off',
    ),
  LLMTWIN_AUTO_TRAIN_DEBOUNCE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(300)
    .describe(
      'how long a new dataset version waits; a newer one of the same author in that time replaces it',
    ),
  LLMTWIN_AUTO_TRAIN_MAX_RUNS_PER_DAY: z.coerce
    .number()
    .int()
    .min(1)
    .default(2)
    .describe('runs continuous training starts per author in any 24 hours; a version due beyond it waits'),
  LLMTWIN_AUTO_TRAIN_MAX_TOKENS: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      "most tokens a dataset version's train split may hold to start a run (else skipped); 0 = no limit",
    ),
  LLMTWIN_AUTO_TRAIN_PRESET: z
    .enum(PRESET_NAMES as [PresetName, ...PresetName[]])
    .default('cpu-tiny')
    .describe('the preset of the runs continuous training starts'),
  LLMTWIN_AUTO_TRAIN_MAX_STEPS: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("training steps of those runs; 0 = the preset's"),
};

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file> (trainer jobs)'),
  LLMTWIN_EVENT_BUS_URL: z.string().describe('kafka://host:port[,host:port] or log:<file>'),
  LLMTWIN_CLEAN_URL: z.url().describe('address of the clean service (the cleaned snapshot)'),
  LLMTWIN_INGEST_URL: z.url().describe('address of the ingest service (raw hashes and sources)'),
  LLMTWIN_REGISTRY_URL: z.url().describe('address of the registry service (dataset versions)'),
  LLMTWIN_INFERENCE_ROUTER_URL: z
    .url()
    .optional()
    .describe('address of the inference router (answer edits for preference datasets); unset = none'),
  LLMTWIN_ARTIFACT_STORE_URL: z
    .string()
    .default('')
    .describe(
      'where dataset files are stored: file:<folder> or an S3 URL (docs/artifact-store.md); ' +
        'empty = file:<LLMTWIN_DATA_DIR>/artifacts, which a pod loses with its volume',
    ),
  LLMTWIN_CACHE_DIR: z
    .string()
    .default(path.join(homedir(), '.cache', 'llmtwin'))
    .describe('where npm run models:prepare put the models (gguf:default below)'),
  LLMTWIN_DATASET_TOKENIZER: z
    .string()
    .regex(/^(|words|gguf:.+)$/, 'gguf:default, gguf:<file.gguf>, words or empty')
    .default('')
    .describe(
      "the target model's tokenizer for passage bounds: gguf:default (SmolLM2-135M-Instruct as " +
        'npm run models:prepare puts it in LLMTWIN_CACHE_DIR), gguf:<file.gguf>; words or empty = none ' +
        '(a word-based estimate, recorded in every dataset as such)',
    ),
  LLMTWIN_DATASET_GENERATOR: z
    .string()
    .default('extractive')
    .describe(
      'what writes instructions when a request names none: extractive, or a model id of LLMTWIN_LLM_BACKENDS',
    ),
  // The trainer's own model table for writing instructions and rejected answers (same form as the router's).
  ...llmSettingsShape,
  ...trainingConfigShape,
  ...evaluationConfigShape,
  ...autoTrainConfigShape,
  LLMTWIN_DATASET_TEMPERATURE: z.coerce
    .number()
    .min(0)
    .max(2)
    .default(0)
    .describe('sampling temperature of the instruction model'),
});

export type TrainerConfig = z.infer<typeof configSchema>;

/** The SmolLM2-135M-Instruct GGUF that scripts/prepare-models.mjs prepares (the router's in-process model). */
export const defaultTokenizerModel = (cacheDir: string) =>
  path.join(cacheDir, 'models', 'SmolLM2-135M-Instruct', 'SmolLM2-135M-Instruct.Q4_1.gguf');

/** The artifact store URL, with its default: a folder in the data directory. */
export const artifactStoreUrl = (c: Pick<TrainerConfig, 'LLMTWIN_ARTIFACT_STORE_URL' | 'LLMTWIN_DATA_DIR'>) =>
  c.LLMTWIN_ARTIFACT_STORE_URL || `file:${path.resolve(c.LLMTWIN_DATA_DIR, 'artifacts')}`;

export const loadTrainerConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(configSchema, env);

/** The LLMTWIN_EVAL_* settings alone (the embedded twin reads them with this schema). */
export const evaluationConfigSchema = z.object(evaluationConfigShape);
export type EvaluationConfig = z.infer<typeof evaluationConfigSchema>;

/** The evaluation's settings from the configuration. */
export const evaluationSettings = (c: EvaluationConfig): EvaluationSettings => ({
  maxPrompts: c.LLMTWIN_EVAL_MAX_PROMPTS,
  maxNewTokens: c.LLMTWIN_EVAL_MAX_NEW_TOKENS,
  maxSeqLength: c.LLMTWIN_EVAL_MAX_SEQ_LENGTH,
  ragPassages: c.LLMTWIN_EVAL_RAG_PASSAGES,
  gates: {
    minPerplexityGain: c.LLMTWIN_EVAL_MIN_PERPLEXITY_GAIN,
    maxPerplexityVsProduction: c.LLMTWIN_EVAL_MAX_PERPLEXITY_VS_PRODUCTION,
    maxStyleDistanceIncrease: c.LLMTWIN_EVAL_MAX_STYLE_DISTANCE_INCREASE,
    maxJudgeDropVsProduction: c.LLMTWIN_EVAL_MAX_JUDGE_DROP,
  },
});

/** Continuous training's settings from the configuration (authors empty: off). */
export const autoTrainSettings = (
  c: z.infer<z.ZodObject<typeof autoTrainConfigShape>>,
): AutoTrainSettings => ({
  authors: parseAuthors(c.LLMTWIN_AUTO_TRAIN_AUTHORS),
  debounceMs: c.LLMTWIN_AUTO_TRAIN_DEBOUNCE_SECONDS * 1000,
  maxRunsPerDay: c.LLMTWIN_AUTO_TRAIN_MAX_RUNS_PER_DAY,
  maxTokens: c.LLMTWIN_AUTO_TRAIN_MAX_TOKENS,
  preset: c.LLMTWIN_AUTO_TRAIN_PRESET,
  maxSteps: c.LLMTWIN_AUTO_TRAIN_MAX_STEPS,
});
