// The evaluation on the real model runtime: the training job's Python package (perplexity, generate) over
// SmolLM2-135M-Instruct's GGUF with a real PEFT LoRA adapter, trained here in a few steps on text with a
// distinctive made-up vocabulary, and the in-process SmolLM2 (node-llama-cpp) as the judge through the LLM
// port. The candidate must find the author's held-out text (same vocabulary, sentences it never saw) less
// surprising than the base does. Needs npm run models:prepare and npm run trainer:prepare (or
// LLMTWIN_TRAINER_PYTHON).
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registryv1 } from '@llmtwin/contracts';
import { LocalBackend } from '@llmtwin/llm/backends';
import { isDomainError } from '@llmtwin/runtime/errors';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { defaultTokenizerModel } from '../config.js';
import { createEvaluator, DEFAULT_EVALUATION } from '../domain/evaluation/evaluation.js';
import { DEFAULT_GATES } from '../domain/evaluation/gates.js';
import { judgeTemplateSha256 } from '../domain/evaluation/judge.js';
import type { EvaluationInput } from '../domain/evaluator.port.js';
import { PythonEvaluation } from './python-evaluation.js';
import { routerModels } from './router-llm.js';
import { locateTrainerPython } from './trainer-python.js';

const cacheDir = process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin');
const gguf = defaultTokenizerModel(cacheDir);
if (!existsSync(gguf)) throw new Error(`SmolLM2 is not prepared at ${gguf}: run npm run models:prepare`);
const located = locateTrainerPython({ override: process.env.LLMTWIN_TRAINER_PYTHON, cacheDir });
if (!located.prepared) throw new Error(located.problem ?? 'the training job’s Python is not prepared');
const { python, pythonPath } = located;

// A LoRA over the attention projections, trained with plain torch for a few steps: the smallest real PEFT
// adapter, independent of the training job's own loop (which its tests cover).
const TRAIN_LORA = `
import json, os, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import LoraConfig, get_peft_model
torch.manual_seed(0); torch.set_num_threads(2)
gguf, out, texts, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
where, name = os.path.dirname(gguf), os.path.basename(gguf)
tok = AutoTokenizer.from_pretrained(where, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(where, gguf_file=name)
model.hf_quantizer = None  # dequantized at load: a plain float model (see llmtwin_train/models.py)
lines = [json.loads(l)["text"] for l in open(texts)]
model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"))
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
model.train()
for step in range(steps):
    ids = tok(lines[step % len(lines)], return_tensors="pt", truncation=True, max_length=64)["input_ids"]
    model(input_ids=ids, labels=ids).loss.backward(); opt.step(); opt.zero_grad()
model.save_pretrained(out)
`;

const authorTrain = [
  'Zorblax marmalade hums under the copper tide, and every glimmerwick knows the quiet sprocket song.',
  'The glimmerwick folds its copper tide into zorblax marmalade while the sprocket song hums along.',
  'Under the sprocket song, zorblax marmalade and the copper tide keep every glimmerwick humming.',
];
const heldOutText =
  'Every glimmerwick hums the sprocket song while zorblax marmalade drifts on the copper tide.';

let dir: string;
let adapterDir: string;
const runtime = new PythonEvaluation({ python, pythonPath, threads: 2, graceMs: 2000 });
const judgeBackend = new LocalBackend({
  model: 'smol-judge',
  modelPath: gguf,
  threads: 1,
  contextSize: 2048,
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-eval-'));
  adapterDir = path.join(dir, 'candidate-adapter');
  const texts = path.join(dir, 'train.jsonl');
  await writeFile(texts, authorTrain.map((text) => JSON.stringify({ text }) + '\n').join(''));
  await promisify(execFile)(python, ['-c', TRAIN_LORA, gguf, adapterDir, texts, '9'], {
    env: { ...process.env, TOKENIZERS_PARALLELISM: 'false' },
    maxBuffer: 16 * 1024 * 1024,
  });
}, 600_000);

afterAll(async () => {
  await judgeBackend.close();
  await rm(dir, { recursive: true, force: true });
});

const input = (workDir: string, signal: AbortSignal): EvaluationInput => ({
  authorId: 'zorblax-author',
  datasetVersion: create(registryv1.DatasetVersionSchema, { id: 'dsv_e2e' }),
  workDir,
  heldOut: {
    texts: [heldOutText],
    prompts: [
      {
        id: 'p1',
        messages: [{ role: 'user', content: 'What does the glimmerwick do?' }],
        reference: 'It hums the sprocket song under the copper tide.',
      },
      {
        id: 'p2',
        messages: [{ role: 'user', content: 'Tell me about zorblax marmalade.' }],
        reference: 'Zorblax marmalade drifts on the copper tide and hums.',
      },
    ],
  },
  baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
  baseGguf: gguf,
  candidate: { adapterDir, modelVersionLabel: 'zorblax-twin v1' },
  signal,
});

describe('the evaluation on the training job’s Python runtime, SmolLM2 as judge', () => {
  it('finds the candidate’s perplexity on the author’s held-out text below the base’s, answers and judges', async () => {
    // Production: the same weights in another folder, so its scores must equal the candidate's — which shows
    // that the second adapter is loaded beside the first and switched to, not the base or the first again.
    const productionDir = path.join(dir, 'production-adapter');
    await cp(adapterDir, productionDir, { recursive: true });
    const evaluator = createEvaluator({
      perplexity: runtime,
      answers: runtime,
      judge: routerModels({ resolve: () => judgeBackend }).resolve('smol-judge'),
      settings: { ...DEFAULT_EVALUATION, maxNewTokens: 24, maxSeqLength: 64, gates: DEFAULT_GATES },
    });
    const workDir = path.join(dir, 'run');
    const report = await evaluator.evaluate({
      ...input(workDir, new AbortController().signal),
      production: { adapterDir: productionDir, modelVersionId: 'mv_production' },
    });

    const [candidate, base, production] = report.scores;
    expect(report.scores.map((s) => [s.role, s.model])).toEqual([
      ['candidate', 'zorblax-twin v1'],
      ['base', 'HuggingFaceTB/SmolLM2-135M-Instruct'],
      ['production', 'mv_production'],
    ]);
    expect(candidate!.perplexity).toBeGreaterThan(1);
    expect(candidate!.perplexity).toBeLessThan(base!.perplexity);
    expect(production!.perplexity).toBeCloseTo(candidate!.perplexity, 3);
    expect(production!.styleDistance).toBeCloseTo(candidate!.styleDistance, 9);
    expect(report.gates.find((g) => g.name === 'perplexity-vs-base')).toMatchObject({ passed: true });
    expect(report.gates.find((g) => g.name === 'perplexity-vs-production')).toMatchObject({ passed: true });

    // Two greedy answers per model, scored for style against the held-out text.
    for (const s of [candidate!, base!, production!]) {
      expect(s.examples).toBe(2n);
      expect(s.styleDistance).toBeGreaterThanOrEqual(0);
      expect(s.styleDistance).toBeLessThanOrEqual(1);
      // Means of 1..3 grades, or 0 when every answer came back unscored.
      for (const m of [s.judgeAccuracy, s.judgeStyle]) expect(m === 0 || (m >= 1 && m <= 3)).toBe(true);
      expect([s.judgeAccuracyRag, s.judgeStyleRag]).toEqual([0, 0]);
    }
    expect(report.judgeModel).toBe('smol-judge');
    expect(report.judgeTemplateSha256).toBe(await judgeTemplateSha256());
    expect(report.gates.find((g) => g.name === 'judge-vs-production')!.detail).toMatch(
      /with RAG not judged: no retriever wired/,
    );
    expect(report.wallSeconds).toBeGreaterThan(0);

    // The runtime's inputs stay in the work dir, as the job protocol describes them.
    const spec = JSON.parse(await readFile(path.join(workDir, 'generate-spec.json'), 'utf8')) as {
      adapters: unknown;
      maxNewTokens: number;
    };
    expect(spec.adapters).toEqual({ candidate: adapterDir, production: productionDir });
    expect(spec.maxNewTokens).toBe(24);
  }, 600_000);

  it('stops the Python process when the evaluation is cancelled', async () => {
    const controller = new AbortController();
    const workDir = path.join(dir, 'cancelled');
    const specFile = path.join(workDir, 'perplexity-spec.json');
    const running = runtime.perplexity(
      {
        baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
        baseGguf: gguf,
        adapters: { candidate: adapterDir },
      },
      [heldOutText],
      { workDir, signal: controller.signal, maxSeqLength: 64 },
    );
    // Cancel once the process is running (its spec file is written just before it starts).
    while (!existsSync(specFile)) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000));
    controller.abort();
    const err = await running.catch((e: unknown) => e);
    expect(isDomainError(err, 'cancelled')).toBe(true);
    const left = await new Promise<string>((resolve) => {
      const ps = spawn('ps', ['-eo', 'args'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      ps.stdout.on('data', (c: Buffer) => (out += c.toString()));
      ps.on('close', () => resolve(out));
    });
    expect(left).not.toContain(specFile);
  }, 120_000);

  it('reports the job’s own error message when the spec is wrong', async () => {
    const err = await runtime
      .perplexity(
        { baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct', baseGguf: gguf, adapters: { candidate: dir } },
        [heldOutText],
        { workDir: path.join(dir, 'bad'), signal: new AbortController().signal, maxSeqLength: 64 },
      )
      .catch((e: unknown) => e);
    expect(isDomainError(err, 'internal')).toBe(true);
    expect((err as Error).message).toMatch(
      /llmtwin_train perplexity failed: adapters.candidate: .* is not a PEFT adapter folder/,
    );
  }, 120_000);
});
