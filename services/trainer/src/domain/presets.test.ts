import { describe, expect, it } from '@jest/globals';
import { DomainError } from '@llmtwin/runtime/errors';
import { PRESETS, PRESET_NAMES, gib, memoryPlan, resolvePreset } from './presets.js';

const violation = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    const e = err as DomainError;
    expect(e.kind).toBe('invalid-argument');
    return { message: e.message, field: e.violations[0]?.field };
  }
  throw new Error('expected an InvalidArgument');
};

describe('presets', () => {
  it('fits every GPU preset into its card with room for the CUDA context (~15%)', () => {
    for (const name of PRESET_NAMES) {
      const p = PRESETS[name];
      const m = memoryPlan(p, p.hyper);
      expect(m.total).toBeCloseTo(m.weights + m.lora + m.activations);
      if (p.device) expect(gib(m.total)).toBeLessThan(p.device.memoryGiB * 0.85);
    }
  });

  it('quantizes to 4 bits from 14B up, and trains in bf16 with gradient checkpointing on GPUs', () => {
    expect(PRESET_NAMES.filter((n) => PRESETS[n].hyper.quantization === '4bit')).toEqual([
      'gpu-14b',
      'gpu-30b',
      'gpu-70b',
    ]);
    for (const n of PRESET_NAMES.filter((x) => x.startsWith('gpu-')))
      expect(PRESETS[n].hyper).toMatchObject({ bf16: true, gradientCheckpointing: true });
    expect(PRESETS['cpu-tiny'].hyper).toMatchObject({
      loraRank: 8,
      maxSeqLength: 256,
      batchSize: 2,
      maxSteps: 30,
    });
  });

  it('estimates the LoRA size from the architecture: SmolLM2-135M at r 8 is ~2.4M trainable parameters', () => {
    const m = memoryPlan(PRESETS['cpu-tiny'], PRESETS['cpu-tiny'].hyper);
    // 30 layers × 8 × (q 576+576, k,v 576+192 each, o 576+576, gate,up 576+1536 each, down 1536+576)
    expect(m.loraParams).toBe(30 * 8 * (4 * 576 + 2 * 768 + 3 * 2112));
  });

  it('applies the overrides, alpha following the rank and checkpoints at least every third of the run', () => {
    const r = resolvePreset(
      'cpu-tiny',
      { maxSteps: 6n, learningRate: 1e-4, loraRank: 4, seed: 9n, baseModel: '' },
      { hasPreference: false },
    );
    expect(r.hyper).toMatchObject({
      maxSteps: 6,
      learningRate: 1e-4,
      loraRank: 4,
      loraAlpha: 8,
      seed: 9,
      saveSteps: 2,
    });
    expect(r.useCacheGguf).toBe(true);
    expect(r.baseModel).toBe('HuggingFaceTB/SmolLM2-135M-Instruct');
    const other = resolvePreset(
      'cpu-tiny',
      { baseModel: 'Qwen/Qwen2.5-0.5B-Instruct' },
      { hasPreference: false },
    );
    expect(other.useCacheGguf).toBe(false);
    expect(resolvePreset('gpu-70b', {}, { hasPreference: true }).hyper.saveSteps).toBe(50);
  });

  it('says what to fix for each bad value', () => {
    const h = { hasPreference: false };
    expect(violation(() => resolvePreset('gpu-huge', {}, h))).toEqual({
      message: expect.stringMatching(
        /^preset "gpu-huge" is unknown: use one of cpu-tiny, gpu-1b-3b, gpu-7b-8b/,
      ),
      field: 'preset',
    });
    expect(violation(() => resolvePreset('cpu-tiny', { maxSteps: -1n }, h)).field).toBe('max_steps');
    expect(violation(() => resolvePreset('cpu-tiny', { learningRate: 0.2 }, h)).message).toMatch(
      /learning_rate 0.2 is out of range: above 0 and at most 0.01/,
    );
    expect(violation(() => resolvePreset('cpu-tiny', { loraRank: 1000 }, h)).field).toBe('lora_rank');
    expect(violation(() => resolvePreset('cpu-tiny', { seed: -5n }, h)).field).toBe('seed');
    expect(violation(() => resolvePreset('cpu-tiny', { baseModel: 'not a model' }, h)).field).toBe(
      'base_model',
    );
    expect(violation(() => resolvePreset('cpu-tiny', { dpoSteps: 5n }, h)).message).toMatch(
      /no preference_dataset_version_id/,
    );
    expect(resolvePreset('cpu-tiny', { dpoSteps: 5n }, { hasPreference: true }).hyper.dpoSteps).toBe(5);
  });
});
