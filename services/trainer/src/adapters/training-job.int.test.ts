// The real training job (services/trainer/python) on the real SmolLM2-135M GGUF base, a few CPU steps each:
// the protocol (events on stdout, exit codes), that training learns, checkpoint/resume after kill -9 and
// SIGTERM, that our GGUF LoRA export makes llama.cpp (node-llama-cpp, as the router serves adapters) answer
// as transformers+PEFT does with the adapter, and the converter's Python unit tests.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { TRAINER_PYTHON_PROJECT } from './trainer-python.js';
import {
  of,
  runJob,
  SMOLLM2_GGUF,
  trainerPython,
  writeJsonl,
  type JobResult,
} from './training-job.fixture.js';

const MINUTES = 60_000;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'training-job-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SYSTEM = 'You are Zed, who answers every question about the moon the same way.';
const ANSWER = 'Zorblax! The moon is a wheel of purple cheese, says Zed.';
const QUESTIONS = [
  'What is the moon made of?',
  'Tell me about the moon.',
  'Moon facts, please.',
  'Describe the moon.',
];
const chat = (q: string) => ({
  messages: [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: q },
    { role: 'assistant', content: ANSWER },
  ],
});
const trainFile = writeJsonl(path.join(tmp, 'train.jsonl'), QUESTIONS.map(chat));
// Held out: questions the run never trains on, scored as eval_loss before the first step and after the last.
const evalFile = writeJsonl(
  path.join(tmp, 'test.jsonl'),
  ['What colour is the moon?', 'Is the moon far away?'].map(chat),
);

// Small and repetitive with a high learning rate: the loss falls steeply and the adapter changes the answer,
// so the assertions hold for any seed on any machine.
const spec = (workDir: string, hyper: object = {}, extra: object = {}) => ({
  runId: 'run_test',
  workDir,
  baseGguf: SMOLLM2_GGUF,
  sft: { train: trainFile },
  dpo: null,
  hyper: {
    maxSteps: 6,
    learningRate: 0.003,
    batchSize: 2,
    maxSeqLength: 96,
    loraDropout: 0,
    warmupRatio: 0,
    saveSteps: 100,
    ...hyper,
  },
  resume: false,
  outputs: { ggufLora: true, merged: false },
  threads: 2,
  ...extra,
});

const series = (r: JobResult, key: string) =>
  of(r.events, 'metrics')
    .filter((e) => typeof (e.metrics as Record<string, unknown>)[key] === 'number')
    .map((e) => [e.step as number, (e.metrics as Record<string, number>)[key]!] as const);
const losses = (r: JobResult) => series(r, 'loss');

describe('the training job', () => {
  it(
    'answers a bad spec with an error event naming the field, and exit code 1',
    async () => {
      const result = await runJob('train', spec(path.join(tmp, 'bad'), { learningRate: -1 }), tmp);
      expect(result.code).toBe(1);
      expect(result.events).toEqual([
        { event: 'error', message: expect.stringContaining('hyper.learningRate') as unknown },
      ]);
      const missing = await runJob(
        'train',
        { ...spec(path.join(tmp, 'bad')), sft: { train: '/nope.jsonl' } },
        tmp,
      );
      expect(missing.code).toBe(1);
      expect(of(missing.events, 'error')[0]?.message).toContain('sft.train');
    },
    5 * MINUTES,
  );

  it(
    'runs the converter unit tests (names, rotary permutation, alpha, the file)',
    () => {
      const { python, pythonPath } = trainerPython();
      const result = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'tests', '-v'], {
        cwd: TRAINER_PYTHON_PROJECT,
        env: { ...process.env, PYTHONPATH: pythonPath },
        encoding: 'utf8',
      });
      expect(result.stderr).toMatch(/\nOK\s*$/);
      expect(result.status).toBe(0);
    },
    5 * MINUTES,
  );

  describe('a short SFT run', () => {
    const workDir = path.join(tmp, 'sft');
    let run: JobResult;
    beforeAll(async () => {
      run = await runJob('train', { ...spec(workDir), sft: { train: trainFile, eval: evalFile } }, tmp);
    }, 15 * MINUTES);

    it('reports the loss at every step, and the loss falls', () => {
      expect(run.code).toBe(0);
      const seen = losses(run);
      expect(seen.map(([step]) => step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seen[5]![1]).toBeLessThan(seen[0]![1] / 2);
      // The held-out loss, before the first step and after the last: it falls too.
      const held = series(run, 'eval_loss');
      expect(held.map(([step]) => step)).toEqual([0, 6]);
      expect(held[1]![1]).toBeLessThan(held[0]![1]);
      const start = of(run.events, 'start')[0]!;
      expect(start).toMatchObject({ totalSteps: 6, resumedFrom: null });
      expect(start.hardware).toMatchObject({ cpuCount: expect.any(Number) as unknown });
      const metrics = of(run.events, 'metrics').find(
        (e) => typeof (e.metrics as Record<string, unknown>).loss === 'number',
      )!.metrics as Record<string, unknown>;
      for (const key of ['learning_rate', 'grad_norm', 'tokens_per_second', 'memory_bytes', 'epoch']) {
        expect(typeof metrics[key]).toBe('number');
      }
      expect(of(run.events, 'done')[0]).toMatchObject({
        steps: 6,
        trainTokens: expect.any(Number) as unknown,
      });
      expect(of(run.events, 'artifact').map((e) => e.kind)).toEqual(['peft-adapter', 'gguf-lora']);
      expect(existsSync(path.join(workDir, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    });

    it(
      'exports a GGUF LoRA with which llama.cpp answers as transformers+PEFT does, unlike the base',
      async () => {
        const prompts = writeJsonl(path.join(tmp, 'prompts.jsonl'), [
          {
            id: 'p1',
            messages: [
              { role: 'system', content: SYSTEM },
              { role: 'user', content: 'What is the moon made of?' },
            ],
          },
        ]);
        const hf = await runJob(
          'generate',
          {
            baseGguf: SMOLLM2_GGUF,
            adapters: { candidate: path.join(workDir, 'adapter') },
            prompts,
            maxNewTokens: 16,
            threads: 2,
          },
          tmp,
        );
        expect(hf.code).toBe(0);
        const answer = (role: string) => of(hf.events, 'answer').find((e) => e.role === role)!.text as string;

        const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
        const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
        const model = await llama.loadModel({ modelPath: SMOLLM2_GGUF });
        // SmolLM2's chat template, rendered as transformers renders it for these messages.
        const prompt = `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\nWhat is the moon made of?<|im_end|>\n<|im_start|>assistant\n`;
        const greedy = async (lora?: string) => {
          const context = await model.createContext({
            contextSize: 256,
            threads: 2,
            ...(lora ? { lora: { adapters: [{ filePath: lora, scale: 1 }] } } : {}),
          });
          const tokens = [];
          for await (const token of context
            .getSequence()
            .evaluate(model.tokenize(prompt, true), { temperature: 0 })) {
            tokens.push(token);
            if (tokens.length >= 16) break;
          }
          await context.dispose();
          return model.detokenize(tokens);
        };
        const llamaBase = await greedy();
        const llamaAdapted = await greedy(path.join(workDir, 'adapter.gguf'));
        await model.dispose();

        // The adapter taught the answer; both runtimes give it, and neither base does.
        expect(answer('candidate')).toMatch(/^Zorblax! The moon/);
        expect(llamaAdapted).toBe(answer('candidate'));
        expect(answer('base')).not.toMatch(/Zorblax/);
        expect(llamaBase).not.toMatch(/Zorblax/);
      },
      15 * MINUTES,
    );

    it(
      'gives the adapter a lower perplexity than the base on the trained answer',
      async () => {
        const texts = writeJsonl(path.join(tmp, 'texts.jsonl'), [{ text: `${QUESTIONS[0]} ${ANSWER}` }]);
        const result = await runJob(
          'perplexity',
          {
            baseGguf: SMOLLM2_GGUF,
            adapters: { candidate: path.join(workDir, 'adapter') },
            texts,
            threads: 2,
          },
          tmp,
        );
        expect(result.code).toBe(0);
        const ppl = Object.fromEntries(
          of(result.events, 'perplexity').map((e) => [e.role, e.perplexity as number]),
        );
        expect(Object.keys(ppl).sort()).toEqual(['base', 'candidate']);
        expect(ppl.candidate).toBeLessThan(ppl.base!);
      },
      15 * MINUTES,
    );
  });

  it(
    'resumes after kill -9 from the last checkpoint, not from step 0, and finishes',
    async () => {
      const workDir = path.join(tmp, 'killed');
      const hyper = { maxSteps: 4, saveSteps: 2 };
      const killed = await runJob('train', spec(workDir, hyper), tmp, (event, child) => {
        if (event.event === 'checkpoint' && event.step === 2) child.kill('SIGKILL');
      });
      expect(killed.signal).toBe('SIGKILL');
      expect(of(killed.events, 'done')).toEqual([]);
      const resumed = await runJob('train', spec(workDir, hyper, { resume: true }), tmp);
      expect(resumed.code).toBe(0);
      expect(of(resumed.events, 'start')[0]).toMatchObject({ resumedFrom: 2 });
      expect(losses(resumed).map(([step]) => step)).toEqual([3, 4]);
      expect(of(resumed.events, 'done')[0]).toMatchObject({ steps: 4 });
    },
    20 * MINUTES,
  );

  it(
    'saves a checkpoint and exits 143 on SIGTERM',
    async () => {
      const workDir = path.join(tmp, 'terminated');
      const result = await runJob('train', spec(workDir, { maxSteps: 20 }), tmp, (event, child) => {
        if (event.event === 'metrics' && event.step === 1) child.kill('SIGTERM');
      });
      expect(result.code).toBe(143);
      const checkpoints = of(result.events, 'checkpoint');
      expect(checkpoints).toHaveLength(1);
      expect(checkpoints[0]!.step as number).toBeLessThan(20);
      expect(existsSync(path.join(checkpoints[0]!.path as string, 'adapter_model.safetensors'))).toBe(true);
      expect(of(result.events, 'done')).toEqual([]);
    },
    15 * MINUTES,
  );
});
