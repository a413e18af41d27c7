// Training job benchmark. `npm run bench -- training <data folder> --out <file>`: the folder holds
// train.jsonl and test.jsonl in chat-messages/1 (what a dataset version exports). It runs our job
// (`python -m llmtwin_train train`, services/trainer/python) and a plain TRL script with the same model,
// data, hyperparameters, steps and threads (bench/training/direct_trl.py) alternately, --runs times each,
// and reports the training tokens/s of both (medians), the wrapper's overhead in %, the wall time of each
// process (loading and, for the job, the export included), and the wall time of the perplexity evaluation
// (`python -m llmtwin_train perplexity`, base and the trained adapter over test.jsonl's answers).
//
// `--make-demo <dir>` writes a small folder from text committed in this repository (the paragraphs of
// docs/*.md, each as the answer to a request for that section) and benchmarks it when no folder is given.
// Options: --runs 2 --steps 10 --threads 2 --batch 2 --seq 256 --lr 0.0002 --base-gguf <file>.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { locateTrainerPython } from '../services/trainer/src/adapters/trainer-python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..');
const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string' },
    'make-demo': { type: 'string' },
    runs: { type: 'string', default: '2' },
    steps: { type: 'string', default: '10' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '2' },
    seq: { type: 'string', default: '256' },
    lr: { type: 'string', default: '0.0002' },
    'base-gguf': { type: 'string' },
  },
  allowPositionals: true,
});

const cache = process.env.LLMTWIN_CACHE_DIR?.trim() || path.join(os.homedir(), '.cache', 'llmtwin');
const baseGguf =
  values['base-gguf'] ??
  path.join(cache, 'models', 'SmolLM2-135M-Instruct', 'SmolLM2-135M-Instruct.Q4_1.gguf');

interface Message {
  role: string;
  content: string;
}

/** Paragraphs of the repository's own docs as (section request → paragraph) chat examples. */
function makeDemo(dir: string): void {
  const records: { messages: Message[] }[] = [];
  const docs = path.join(repo, 'docs');
  for (const file of readdirSync(docs)
    .filter((f) => f.endsWith('.md'))
    .sort()) {
    let heading = file.replace(/\.md$/, '');
    let inCode = false;
    for (const block of readFileSync(path.join(docs, file), 'utf8').split(/\n\s*\n/)) {
      const text = block.trim();
      if (text.startsWith('```')) inCode = !inCode || text.split('```').length % 2 === 0;
      if (inCode || text.startsWith('```') || text.startsWith('|') || text.startsWith('    ')) continue;
      if (text.startsWith('#')) {
        heading = text.replace(/^#+\s*/, '').split('\n')[0]!;
        continue;
      }
      if (text.length < 200) continue;
      records.push({
        messages: [
          { role: 'system', content: 'You write the documentation of LLM Twin.' },
          { role: 'user', content: `Write a paragraph of the "${heading}" section (${file}).` },
          { role: 'assistant', content: text.replace(/\s*\n\s*/g, ' ') },
        ],
      });
    }
  }
  // Every tenth example to the test split, the rest to train: deterministic.
  const test = records.filter((_, i) => i % 10 === 9);
  const train = records.filter((_, i) => i % 10 !== 9);
  mkdirSync(dir, { recursive: true });
  const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(train));
  writeFileSync(path.join(dir, 'test.jsonl'), jsonl(test));
  console.error(`[bench training] demo folder ${dir}: ${train.length} train, ${test.length} test examples`);
}

let dataDir = positionals[0];
if (values['make-demo']) {
  makeDemo(values['make-demo']);
  dataDir ??= values['make-demo'];
}
if (!dataDir) {
  console.error(
    'usage: npm run bench -- training <data folder> [--out file] [--runs N] [--steps N] [--threads N]\n' +
      '       npm run bench -- training --make-demo <dir> [...]   (writes a demo folder and benchmarks it)',
  );
  process.exit(2);
}

const found = locateTrainerPython({ override: process.env.LLMTWIN_TRAINER_PYTHON });
if (!found.prepared) {
  console.error(found.problem);
  process.exit(1);
}
const { python, pythonPath } = found;
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a whole number >= 1 (got ${values.runs})`);
  process.exit(2);
}
const steps = Number(values.steps);
const threads = Number(values.threads);
const batch = Number(values.batch);
const seq = Number(values.seq);
const lr = Number(values.lr);
const trainFile = path.resolve(dataDir, 'train.jsonl');
const testFile = path.resolve(dataDir, 'test.jsonl');
const work = mkdtempSync(path.join(os.tmpdir(), 'bench-training-'));

function run(argv: string[]): Promise<{ stdout: string; seconds: number }> {
  const started = performance.now();
  const child = spawn(python, argv, {
    env: { ...process.env, PYTHONPATH: pythonPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}\n${stderr}`));
      else resolve({ stdout, seconds: (performance.now() - started) / 1000 });
    });
  });
}

const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });

async function ours(i: number) {
  const workDir = path.join(work, `job-${i}`);
  const specFile = path.join(work, `job-${i}.json`);
  writeFileSync(
    specFile,
    JSON.stringify({
      runId: `bench_${i}`,
      workDir,
      baseGguf,
      sft: { train: trainFile },
      dpo: null,
      hyper: {
        maxSteps: steps,
        learningRate: lr,
        loraRank: 8,
        loraAlpha: 16,
        loraDropout: 0.05,
        batchSize: batch,
        gradientAccumulation: 1,
        maxSeqLength: seq,
        seed: 42,
        warmupRatio: 0.1,
        saveSteps: steps + 1,
        logSteps: 1,
      },
      resume: false,
      outputs: { ggufLora: true, merged: false },
      threads,
    }),
  );
  const { stdout, seconds } = await run(['-m', 'llmtwin_train', 'train', '--spec', specFile]);
  const done = events(stdout).find((e) => e.event === 'done')!;
  return {
    tokensPerSecond: done.tokensPerSecond as number,
    trainTokens: done.trainTokens as number,
    wallSeconds: seconds,
    adapter: path.join(workDir, 'adapter'),
  };
}

async function direct() {
  const { stdout, seconds } = await run([
    path.join(here, 'training', 'direct_trl.py'),
    ...['--base-gguf', baseGguf, '--train', trainFile, '--steps', String(steps)],
    ...['--threads', String(threads), '--batch', String(batch), '--seq', String(seq), '--lr', String(lr)],
  ]);
  const line = JSON.parse(stdout.trim().split('\n').pop()!) as {
    tokensPerSecond: number;
    trainTokens: number;
  };
  return { tokensPerSecond: line.tokensPerSecond, trainTokens: line.trainTokens, wallSeconds: seconds };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const oursRuns: Awaited<ReturnType<typeof ours>>[] = [];
const directRuns: Awaited<ReturnType<typeof direct>>[] = [];
try {
  for (let i = 0; i < runs; i++) {
    // Alternating which goes first spreads any drift of a shared machine over both.
    const order = i % 2 === 0 ? (['ours', 'direct'] as const) : (['direct', 'ours'] as const);
    for (const which of order) {
      if (which === 'ours') oursRuns.push(await ours(i));
      else directRuns.push(await direct());
      const last = which === 'ours' ? oursRuns.at(-1)! : directRuns.at(-1)!;
      console.error(
        `[bench training] run ${i + 1}/${runs} ${which}: ${last.tokensPerSecond.toFixed(1)} tokens/s, ${last.trainTokens} tokens, ${last.wallSeconds.toFixed(1)} s wall`,
      );
    }
  }

  const texts = path.join(work, 'texts.jsonl');
  writeFileSync(
    texts,
    readFileSync(testFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const { messages } = JSON.parse(l) as { messages: Message[] };
        return JSON.stringify({ text: messages.at(-1)!.content }) + '\n';
      })
      .join(''),
  );
  const pplSpec = path.join(work, 'perplexity.json');
  writeFileSync(
    pplSpec,
    JSON.stringify({
      baseGguf,
      adapters: { candidate: oursRuns.at(-1)!.adapter },
      texts,
      maxSeqLength: seq,
      threads,
    }),
  );
  const ppl = await run(['-m', 'llmtwin_train', 'perplexity', '--spec', pplSpec]);
  const perplexities = events(ppl.stdout).filter((e) => e.event === 'perplexity');

  const oursTps = median(oursRuns.map((r) => r.tokensPerSecond));
  const directTps = median(directRuns.map((r) => r.tokensPerSecond));
  const summary = {
    data: path.resolve(dataDir),
    base: baseGguf,
    settings: { runs, steps, threads, batch, maxSeqLength: seq, learningRate: lr, loraRank: 8 },
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model },
    ours: {
      tokensPerSecond: oursTps,
      runs: oursRuns.map(({ adapter: _adapter, ...r }) => r),
    },
    direct: { tokensPerSecond: directTps, runs: directRuns },
    overheadPercent: ((directTps - oursTps) / directTps) * 100,
    perplexity: {
      wallSeconds: ppl.seconds,
      texts: readFileSync(texts, 'utf8').split('\n').filter(Boolean).length,
      roles: perplexities.map(({ event: _e, ...r }) => r),
    },
  };
  const json = JSON.stringify(summary, null, 2);
  console.log(json);
  if (values.out) writeFileSync(values.out, json + '\n');
} finally {
  rmSync(work, { recursive: true, force: true });
}
