// `npm run bench -- llm-speed [<prepared model name | file.gguf> ...] [--threads 1,2] [--tokens 128] [--rounds 3]
// [--out <file>]`: how fast an in-process model answers and how much memory it takes, through the router's own
// LocalBackend (node-llama-cpp, the context size and decoding penalties the twin uses). Each model and thread
// count runs in a process of its own, so that its peak RSS is its own: one warm-up answer, then `--rounds`
// answers to one PubMedQA-sized prompt (an abstract of about 700 tokens as numbered sources, a question),
// greedy, `--tokens` long (the stop sequence is disabled by asking for a long summary). Reported per run: time
// to first token (prompt evaluation), decode tokens/s (the tokens after the first over the time after it, from
// the backend's own token count), and the process's peak RSS. Default models: every prepared one found.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  LocalBackend,
  PREPARED_LOCAL_MODELS,
  preparedLocalModel,
  preparedModelPath,
  type ChatRequest,
} from '../packages/llm/src/backends/index.js';

const { values, positionals } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    tokens: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string' },
    one: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

const fileOf = (model: string): string => {
  const prepared = preparedLocalModel(model);
  return prepared ? preparedModelPath(prepared) : path.resolve(model);
};

const SOURCES = [
  'OBJECTIVE: To assess the quality of vaccine storage in general practices and child health clinics, and to ' +
    'see whether the cold chain is broken where vaccines are kept before they are given.',
  'DESIGN: Questionnaire survey of general practices and child health clinics, and monitoring of the storage ' +
    'temperatures of selected refrigerators over two weeks with electronic recorders placed beside the vaccines.',
  'SETTING: One health district in England, with its general practices, child health clinics and the district ' +
    'pharmacy that supplies them, over one winter and one summer.',
  'MAIN OUTCOME MEASURES: Storage temperatures outside the recommended range of 2 to 8 degrees Celsius, the ' +
    'number of refrigerators with a thermometer, and whether anyone was responsible for the vaccines.',
  'RESULTS: Of the practices surveyed, a third had no thermometer in the refrigerator and a quarter had no one ' +
    'in charge of the vaccines. Temperatures below zero were recorded in a fifth of the refrigerators monitored, ' +
    'and above eight degrees in a tenth, often for hours, mostly after deliveries and during cleaning.',
  'CONCLUSIONS: Vaccine storage in the community is a weak link in the cold chain. Every refrigerator needs a ' +
    'maximum and minimum thermometer, a named person in charge, and written procedures for deliveries.',
];

async function measureOne(model: string, threads: number, tokens: number, rounds: number) {
  const backend = new LocalBackend({ model: 'speed', modelPath: fileOf(model), threads });
  // Each round opens with its own line, so that no round reuses the previous one's evaluated prompt (the
  // backend keeps its context's cache): the time to first token is the whole prompt's evaluation.
  const requestFor = (round: number): ChatRequest => ({
    messages: [
      {
        role: 'system',
        content:
          `Session ${round}. You are the digital twin of the author. Answer using only the numbered sources, citing them like [1].\n\n` +
          `Sources:\n${SOURCES.map((s, i) => `[${i + 1}] ${s}`).join('\n\n')}`,
      },
      { role: 'user', content: 'Summarise in detail what these sources found, section by section.' },
    ],
    maxTokens: tokens,
    temperature: 0,
  });
  const runs: Array<{ ttftMs: number; decodeTokensPerSecond: number; completionTokens: number }> = [];
  try {
    for (let round = 0; round <= rounds; round++) {
      const started = performance.now();
      let first: number | undefined;
      let last = started;
      let completionTokens = 0;
      for await (const event of backend.chat(requestFor(round))) {
        if (event.type === 'delta' && event.text) {
          first ??= performance.now();
          last = performance.now();
        } else if (event.type === 'end') completionTokens = event.completionTokens ?? 0;
      }
      if (round === 0 || first === undefined) continue; // the warm-up loads the model
      runs.push({
        ttftMs: Math.round(first - started),
        completionTokens,
        decodeTokensPerSecond: +((completionTokens - 1) / ((last - first) / 1000)).toFixed(1),
      });
    }
  } finally {
    await backend.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    model,
    file: path.basename(fileOf(model)),
    threads,
    ttftMsMedian: median(runs.map((r) => r.ttftMs)),
    decodeTokensPerSecondMedian: median(runs.map((r) => r.decodeTokensPerSecond)),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    runs,
  };
}

const tokens = Number(values.tokens);
const rounds = Number(values.rounds);
if (values.one) {
  const result = await measureOne(positionals[0]!, Number(values.threads), tokens, rounds);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const models =
  positionals.length > 0
    ? positionals
    : Object.keys(PREPARED_LOCAL_MODELS).filter((m) => existsSync(fileOf(m)));
const threadCounts = values.threads.split(',').map(Number);
for (const m of models) {
  if (!existsSync(fileOf(m))) {
    console.error(`${m}: no file at ${fileOf(m)} (npm run models:prepare, or give a GGUF path)`);
    process.exit(2);
  }
}
const self = fileURLToPath(import.meta.url);
const results = [];
for (const m of models) {
  for (const t of threadCounts) {
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        self,
        m,
        '--one',
        '--threads',
        String(t),
        '--tokens',
        String(tokens),
        '--rounds',
        String(rounds),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const line = out.trim().split('\n').at(-1)!;
    const result = JSON.parse(line);
    results.push(result);
    console.log(
      `${m} threads ${t}: TTFT ${result.ttftMsMedian} ms, decode ${result.decodeTokensPerSecondMedian} tok/s, peak RSS ${result.peakRssMiB} MiB`,
    );
  }
}
const report = {
  loadAverage: (await import('node:os')).loadavg().map((l) => +l.toFixed(2)),
  tokens,
  rounds,
  results,
};
if (values.out) {
  mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  writeFileSync(values.out, JSON.stringify(report, null, 2));
}
console.log(JSON.stringify(report.loadAverage));
