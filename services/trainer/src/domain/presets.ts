// Training presets: a base model, LoRA hyperparameters and a memory plan per model size (docs/training.md
// has the table). A request names a preset and may override a few values; everything is checked here so
// that a bad request fails the RPC with a message that says what to fix, not the job an hour later.
import { invalidArgument } from '@llmtwin/runtime/errors';

export type PresetName = 'cpu-tiny' | 'gpu-1b-3b' | 'gpu-7b-8b' | 'gpu-14b' | 'gpu-30b' | 'gpu-70b';

/** The job protocol's `hyper` block (docs/training.md). */
export interface Hyper {
  maxSteps: number;
  dpoSteps: number;
  learningRate: number;
  loraRank: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: 'all-linear';
  batchSize: number;
  gradientAccumulation: number;
  maxSeqLength: number;
  seed: number;
  warmupRatio: number;
  saveSteps: number;
  logSteps: number;
  quantization: 'none' | '4bit';
  bf16: boolean;
  gradientCheckpointing: boolean;
  dpoBeta: number;
}

/** The shape of a decoder-only transformer, enough to estimate its training memory. */
export interface Architecture {
  /** Parameters, billions. */
  params: number;
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

export interface Preset {
  name: PresetName;
  description: string;
  baseModel: string;
  /** The base model's architecture (for the memory plan); an overridden base model is not re-estimated. */
  architecture: Architecture;
  /** cpu-tiny trains from the GGUF that `npm run models:prepare` puts in the cache. */
  baseFromCacheGguf: boolean;
  accelerator: 'cpu' | 'cuda';
  /** The GPU it is sized for (memory in GiB), or none for CPU. */
  device: { name: string; memoryGiB: number } | undefined;
  hyper: Hyper;
}

const common = {
  loraDropout: 0.05,
  targetModules: 'all-linear' as const,
  seed: 42,
  warmupRatio: 0.1,
  logSteps: 1,
  dpoBeta: 0.1,
};

const arch = {
  smol135m: {
    params: 0.135,
    layers: 30,
    hidden: 576,
    intermediate: 1536,
    heads: 9,
    kvHeads: 3,
    vocab: 49152,
  },
  qwen3b: {
    params: 3.09,
    layers: 36,
    hidden: 2048,
    intermediate: 11008,
    heads: 16,
    kvHeads: 2,
    vocab: 151936,
  },
  qwen7b: {
    params: 7.62,
    layers: 28,
    hidden: 3584,
    intermediate: 18944,
    heads: 28,
    kvHeads: 4,
    vocab: 152064,
  },
  qwen14b: {
    params: 14.7,
    layers: 48,
    hidden: 5120,
    intermediate: 13824,
    heads: 40,
    kvHeads: 8,
    vocab: 152064,
  },
  qwen32b: {
    params: 32.8,
    layers: 64,
    hidden: 5120,
    intermediate: 27648,
    heads: 40,
    kvHeads: 8,
    vocab: 152064,
  },
  qwen72b: {
    params: 72.7,
    layers: 80,
    hidden: 8192,
    intermediate: 29568,
    heads: 64,
    kvHeads: 8,
    vocab: 152064,
  },
} satisfies Record<string, Architecture>;

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  'cpu-tiny': {
    name: 'cpu-tiny',
    description: 'SmolLM2-135M-Instruct on CPU: a real LoRA run in minutes, for trying the pipeline',
    baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    architecture: arch.smol135m,
    baseFromCacheGguf: true,
    accelerator: 'cpu',
    device: undefined,
    hyper: {
      ...common,
      maxSteps: 30,
      dpoSteps: 10,
      learningRate: 2e-4,
      loraRank: 8,
      loraAlpha: 16,
      batchSize: 2,
      gradientAccumulation: 1,
      maxSeqLength: 256,
      saveSteps: 10,
      quantization: 'none',
      bf16: false,
      gradientCheckpointing: false,
    },
  },
  'gpu-1b-3b': {
    name: 'gpu-1b-3b',
    description: '1–3B models in bf16 LoRA on one 24 GB GPU (L4, A10G, RTX 4090)',
    baseModel: 'Qwen/Qwen2.5-3B-Instruct',
    architecture: arch.qwen3b,
    baseFromCacheGguf: false,
    accelerator: 'cuda',
    device: { name: '24 GB (L4, A10G)', memoryGiB: 24 },
    hyper: {
      ...common,
      maxSteps: 600,
      dpoSteps: 200,
      learningRate: 2e-4,
      loraRank: 16,
      loraAlpha: 32,
      batchSize: 4,
      gradientAccumulation: 4,
      maxSeqLength: 2048,
      saveSteps: 100,
      quantization: 'none',
      bf16: true,
      gradientCheckpointing: true,
    },
  },
  'gpu-7b-8b': {
    name: 'gpu-7b-8b',
    description: '7–8B models in bf16 LoRA on one 48 GB GPU (L40S, A6000) or an 80 GB one',
    baseModel: 'Qwen/Qwen2.5-7B-Instruct',
    architecture: arch.qwen7b,
    baseFromCacheGguf: false,
    accelerator: 'cuda',
    device: { name: '48 GB (L40S, A6000)', memoryGiB: 48 },
    hyper: {
      ...common,
      maxSteps: 600,
      dpoSteps: 200,
      learningRate: 1e-4,
      loraRank: 16,
      loraAlpha: 32,
      batchSize: 2,
      gradientAccumulation: 8,
      maxSeqLength: 2048,
      saveSteps: 100,
      quantization: 'none',
      bf16: true,
      gradientCheckpointing: true,
    },
  },
  'gpu-14b': {
    name: 'gpu-14b',
    description: '14B models in QLoRA (4-bit NF4 base, bf16 adapter) on one 24 GB GPU',
    baseModel: 'Qwen/Qwen2.5-14B-Instruct',
    architecture: arch.qwen14b,
    baseFromCacheGguf: false,
    accelerator: 'cuda',
    device: { name: '24 GB (L4, A10G)', memoryGiB: 24 },
    hyper: {
      ...common,
      maxSteps: 600,
      dpoSteps: 200,
      learningRate: 1e-4,
      loraRank: 16,
      loraAlpha: 32,
      batchSize: 1,
      gradientAccumulation: 16,
      maxSeqLength: 2048,
      saveSteps: 100,
      quantization: '4bit',
      bf16: true,
      gradientCheckpointing: true,
    },
  },
  'gpu-30b': {
    name: 'gpu-30b',
    description: '30–34B models in QLoRA on one 48 GB GPU (L40S, A6000)',
    baseModel: 'Qwen/Qwen2.5-32B-Instruct',
    architecture: arch.qwen32b,
    baseFromCacheGguf: false,
    accelerator: 'cuda',
    device: { name: '48 GB (L40S, A6000)', memoryGiB: 48 },
    hyper: {
      ...common,
      maxSteps: 500,
      dpoSteps: 150,
      learningRate: 1e-4,
      loraRank: 16,
      loraAlpha: 32,
      batchSize: 1,
      gradientAccumulation: 16,
      maxSeqLength: 2048,
      saveSteps: 100,
      quantization: '4bit',
      bf16: true,
      gradientCheckpointing: true,
    },
  },
  'gpu-70b': {
    name: 'gpu-70b',
    description: '70–72B models in QLoRA on one 80 GB GPU (A100 80GB, H100)',
    baseModel: 'Qwen/Qwen2.5-72B-Instruct',
    architecture: arch.qwen72b,
    baseFromCacheGguf: false,
    accelerator: 'cuda',
    device: { name: '80 GB (A100, H100)', memoryGiB: 80 },
    hyper: {
      ...common,
      maxSteps: 400,
      dpoSteps: 100,
      learningRate: 1e-4,
      loraRank: 16,
      loraAlpha: 32,
      batchSize: 1,
      gradientAccumulation: 16,
      maxSeqLength: 1024,
      saveSteps: 50,
      quantization: '4bit',
      bf16: true,
      gradientCheckpointing: true,
    },
  },
};

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

const GiB = 1024 ** 3;

/** An estimate of the memory one training step needs, in bytes (docs/training.md explains the terms). */
export interface MemoryPlan {
  weights: number;
  loraParams: number;
  /** The adapter's weights, gradients and AdamW moments, all fp32: 16 bytes per trainable parameter. */
  lora: number;
  activations: number;
  total: number;
}

/**
 * Weights: bytes per parameter by precision (fp32 on CPU, where the GGUF is dequantized; bf16; NF4 with its
 * double-quantized scales ~0.56). LoRA on every linear layer of every block: r·(d_in + d_out) per matrix.
 * Activations: with gradient checkpointing, each block's input (b·s·h, 16-bit) plus one block recomputed at
 * a time (~34·b·s·h bytes, Korthikanti et al. 2022, attention scores excluded as SDPA does not keep them);
 * without, every block's; plus the logits in fp32, kept twice for the loss.
 */
export function memoryPlan(p: Pick<Preset, 'architecture' | 'accelerator'>, hyper: Hyper): MemoryPlan {
  const a = p.architecture;
  const bytesPerWeight = hyper.quantization === '4bit' ? 0.56 : hyper.bf16 ? 2 : 4;
  const weights = a.params * 1e9 * bytesPerWeight;
  const kv = (a.hidden / a.heads) * a.kvHeads;
  const loraParams = hyper.loraRank * a.layers * (9 * a.hidden + 2 * kv + 3 * a.intermediate);
  const lora = loraParams * 16;
  const tokens = hyper.batchSize * hyper.maxSeqLength;
  const actBytes = hyper.bf16 ? 1 : 2; // Korthikanti's 34 assumes 16-bit activations
  const perBlock = 34 * tokens * a.hidden * actBytes;
  const activations =
    (hyper.gradientCheckpointing
      ? a.layers * tokens * a.hidden * 2 * actBytes + perBlock
      : a.layers * perBlock) +
    tokens * a.vocab * 4 * 2;
  return { weights, loraParams, lora, activations, total: weights + lora + activations };
}

export const gib = (bytes: number) => bytes / GiB;

/** What a request may change (0 or empty = the preset's value), as StartTrainingRequest carries them. */
export interface HyperOverrides {
  maxSteps?: bigint | number;
  dpoSteps?: bigint | number;
  learningRate?: number;
  loraRank?: number;
  seed?: bigint | number;
  baseModel?: string;
}

export interface ResolvedPreset {
  preset: Preset;
  baseModel: string;
  /** Whether the base loads from the cache's GGUF (cpu-tiny with its own base model). */
  useCacheGguf: boolean;
  hyper: Hyper;
  memory: MemoryPlan;
}

// A Hugging Face id ("org/name", "name") or an absolute local path.
const MODEL_REF = /^(\/\S+|[A-Za-z0-9][\w.-]*(\/[\w.-]+)?)$/;

function bad(field: string, message: string, fix: string): never {
  throw invalidArgument(message, [{ field, message: fix }]);
}

/** The preset with the request's overrides applied, each checked; throws InvalidArgument naming the field. */
export function resolvePreset(
  name: string,
  overrides: HyperOverrides,
  options: { hasPreference: boolean },
): ResolvedPreset {
  const preset = PRESETS[name as PresetName];
  if (!preset)
    bad(
      'preset',
      `preset "${name}" is unknown: use one of ${PRESET_NAMES.join(', ')}`,
      PRESET_NAMES.join(' | '),
    );
  const hyper: Hyper = { ...preset.hyper };

  const maxSteps = Number(overrides.maxSteps ?? 0);
  if (maxSteps < 0 || maxSteps > 100_000 || !Number.isInteger(maxSteps))
    bad(
      'max_steps',
      `max_steps ${maxSteps} is out of range: 1 to 100000, or 0 for the preset's ${hyper.maxSteps}`,
      '0..100000',
    );
  if (maxSteps > 0) hyper.maxSteps = maxSteps;

  const dpoSteps = Number(overrides.dpoSteps ?? 0);
  if (dpoSteps < 0 || dpoSteps > 100_000 || !Number.isInteger(dpoSteps))
    bad(
      'dpo_steps',
      `dpo_steps ${dpoSteps} is out of range: 1 to 100000, or 0 for the preset's ${hyper.dpoSteps}`,
      '0..100000',
    );
  if (dpoSteps > 0 && !options.hasPreference)
    bad(
      'dpo_steps',
      'dpo_steps is set but no preference_dataset_version_id is given: DPO needs a preference dataset version',
      'set preference_dataset_version_id, or leave dpo_steps 0',
    );
  if (dpoSteps > 0) hyper.dpoSteps = dpoSteps;

  const lr = overrides.learningRate ?? 0;
  if (!Number.isFinite(lr) || lr < 0 || lr > 0.01)
    bad(
      'learning_rate',
      `learning_rate ${lr} is out of range: above 0 and at most 0.01 (LoRA uses ~1e-4), or 0 for the preset's ${hyper.learningRate}`,
      '0 < lr <= 0.01',
    );
  if (lr > 0) hyper.learningRate = lr;

  const rank = overrides.loraRank ?? 0;
  if (!Number.isInteger(rank) || rank < 0 || rank > 256)
    bad(
      'lora_rank',
      `lora_rank ${rank} is out of range: 1 to 256, or 0 for the preset's ${hyper.loraRank}`,
      '0..256',
    );
  if (rank > 0) {
    // alpha follows the rank (alpha = 2r, as the presets), so the update's scale stays the same.
    hyper.loraAlpha = (preset.hyper.loraAlpha / preset.hyper.loraRank) * rank;
    hyper.loraRank = rank;
  }

  const seed = Number(overrides.seed ?? 0);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
    bad(
      'seed',
      `seed ${seed} is out of range: 0 to 4294967295 (0 = the preset's ${hyper.seed})`,
      '0..2^32-1',
    );
  if (seed > 0) hyper.seed = seed;

  const base = overrides.baseModel ?? '';
  if (base && !MODEL_REF.test(base))
    bad(
      'base_model',
      `base_model "${base}" is neither a Hugging Face model id ("org/name") nor an absolute path`,
      'e.g. Qwen/Qwen2.5-0.5B-Instruct or /models/my-model',
    );
  // At least three checkpoints per run, so that a short run killed half-way can resume too.
  hyper.saveSteps = Math.max(1, Math.min(hyper.saveSteps, Math.ceil(hyper.maxSteps / 3)));
  return {
    preset,
    baseModel: base || preset.baseModel,
    useCacheGguf: preset.baseFromCacheGguf && (!base || base === preset.baseModel),
    hyper,
    memory: memoryPlan(preset, hyper),
  };
}

/** CPU threads for a CPU preset: every core (torch uses them for the matrix products). */
export const cpuThreads = (cores: number) => Math.max(1, cores);
