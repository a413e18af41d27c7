// Answer-quality benchmark: the inference router's own RAG path (RagService.generate: validation, retrieval,
// context assembly, the answer template, the model, the repetition guard, the extractive fallback) answering
// PubMedQA's yes/no/maybe questions over each item's own abstract.
//
//   npm run bench -- qa <data folder> --out <predictions.json> [--limit N] [--backend <spec> | --model <file.gguf>]
//        [--threads N] [--max-tokens N] [--temperature T] [--label <name>]
//   npm run bench -- qa <data folder> --out <predictions.json> --rescore
//        (reads the decisions again from <out>.answers.jsonl, e.g. after the parser changed; no model runs)
//
// The model is the one the embedded twin would answer with: LLMTWIN_LLM_BACKENDS when set, otherwise the
// prepared in-process default (twin=local:default); --backend takes any LLMTWIN_LLM_BACKENDS entry (e.g.
// `qa=openai+http://localhost:8000/v1`), --model a GGUF file run in process. The router's other settings
// (LLMTWIN_LLM_*_PENALTY, LLMTWIN_LLM_DRY_MULTIPLIER, LLMTWIN_REPEAT_GUARD_WORDS, LLMTWIN_PROMPT_TEMPLATE,
// LLMTWIN_CONTEXT_BUDGET_TOKENS) are read from the environment exactly as the router reads them.
//
// Retrieval: every item's CONTEXTS passages form one in-memory index, each passage a document of its own
// (title: its section label), and each question is asked as the item's author (author_id = pmid), so that
// the router's author filter selects that item's passages. PubMedQA gives each question its own abstract
// (1–8 passages): searching all items' passages would answer from the wrong abstract, which measures the
// retriever rather than the answer; the retrieval benchmarks (rag-retrieval) measure that. top_k is 8 (the
// most passages an item has), so each question gets its whole abstract, as far as the model's window allows.
//
// The question is asked as written, followed by one sentence asking for the decision first ("Answer yes, no
// or maybe first, then explain."). The decision is parsed from the model's own text (the withdrawn answer
// when the fallback replaced it), once any run of three or more of the instruction's words in order is removed
// (small models echo "maybe first, then explain."): the first word of the answer when it is yes, no or maybe;
// otherwise the first of those words standing alone anywhere in it (citation markers removed). One with none
// is "undecided": left out of the predictions, so the scorer counts it wrong (it is never credited as
// "maybe"), and reported as its own count.
//
// Reported on the same run: accuracy and macro-F1 (the set's scorer, on the items answered), the repetition
// rate (answers whose model text repeats a span of LLMTWIN_REPEAT_GUARD_WORDS words: the guard's own
// detector), the share of answers citing at least one source ([n] within the sources, written by the model),
// the share the router credited with sources instead (citation attribution), the fallback rate,
// decode tokens/s, time to first token and peak RSS. Files: --out holds the predictions ({pmid: decision},
// what score.mjs qa reads), <out>.answers.jsonl each answer, <out>.metrics.json the numbers; with --limit,
// <out>.truth/dev.json holds the slice's labels (final_decision only) for `score.mjs qa <out> --truth`.
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { loadConfig } from '@llmtwin/runtime';
import { inferenceConfigSchema } from '@llmtwin/inference-router';
import { pino } from 'pino';
import { GenerationStore } from '../services/inference-router/src/domain/generations.js';
import { RagService, type GenerationResult } from '../services/inference-router/src/domain/rag.js';
import { citedSources, repeatsSpan } from '../services/inference-router/src/domain/repetition.js';
import type { Passage, SearchFn } from '../services/inference-router/src/domain/retrieve.js';
import { modelResolver, routerOptionsFromSettings } from '../services/inference-router/src/module.js';
import { percentile } from './percentiles.js';
import { ASK_FOR_DECISION, parseDecision, type Decision } from './qa/decision.js';

interface Item {
  QUESTION: string;
  CONTEXTS: string[];
  LABELS?: string[];
  final_decision: 'yes' | 'no' | 'maybe';
}

const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string' },
    limit: { type: 'string' },
    backend: { type: 'string' },
    model: { type: 'string' },
    threads: { type: 'string' },
    'max-tokens': { type: 'string', default: '256' },
    temperature: { type: 'string', default: '0' },
    label: { type: 'string' },
    rescore: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const dataDir = positionals[0];
const usage =
  'usage: npm run bench -- qa <data folder> --out <predictions.json> [--limit N] ' +
  '[--backend <model>=<kind>+<url> | --model <file.gguf>] [--threads N] [--max-tokens N] [--temperature T]';
if (!dataDir || !values.out || (values.backend && values.model)) {
  console.error(usage);
  process.exit(2);
}
const devFile = path.join(dataDir, 'dev.json');
if (!existsSync(devFile)) {
  console.error(
    `${devFile} not found: the data folder is the PubMedQA layout (dev.json beside score.mjs's qa set)`,
  );
  process.exit(2);
}
const limit = values.limit ? Number(values.limit) : undefined;
const maxTokens = Number(values['max-tokens']);
const temperature = Number(values.temperature);
if (
  (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) ||
  !(maxTokens > 0) ||
  !(temperature >= 0)
) {
  console.error(`${usage}\n--limit and --max-tokens are positive integers, --temperature ≥ 0`);
  process.exit(2);
}

const allItems = Object.entries(JSON.parse(readFileSync(devFile, 'utf8')) as Record<string, Item>);
const items = allItems.slice(0, limit);
const out = path.resolve(values.out);
const stem = out.replace(/\.json$/, '');
const scorer = path.resolve(dataDir, '..', '..', 'score.mjs');

/** Scores the predictions in `out` with the set's scorer, against the slice's own labels when sliced. */
function score(asked: Array<[string, Item]>): {
  command: string[];
  result?: { accuracy?: number; macroF1?: number; error?: string };
} {
  // A slice is scored against its own labels: the scorer counts every item of its truth file.
  const sliced = asked.length < allItems.length;
  const truthDir = sliced ? `${stem}.truth` : path.resolve(dataDir!);
  if (sliced) {
    mkdirSync(truthDir, { recursive: true });
    writeFileSync(
      path.join(truthDir, 'dev.json'),
      JSON.stringify(
        Object.fromEntries(asked.map(([pmid, item]) => [pmid, { final_decision: item.final_decision }])),
      ),
    );
  }
  const command = ['node', scorer, 'qa', out, ...(sliced ? ['--truth', truthDir] : [])];
  if (!existsSync(scorer)) return { command };
  const scored = spawnSync(command[0]!, [...command.slice(1), '--json'], { encoding: 'utf8' });
  return {
    command,
    result: scored.status === 0 ? JSON.parse(scored.stdout) : { error: scored.stderr.trim() },
  };
}

if (values.rescore) {
  // The stored answers read again: the predictions, the undecided count and the score change, nothing else.
  const stored = readFileSync(`${stem}.answers.jsonl`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { pmid: string; answer?: string; decision?: Decision | null });
  const byPmid = new Map(items);
  const answered = stored.filter((a) => a.answer !== undefined && byPmid.has(a.pmid));
  const rescored: Record<string, Decision> = {};
  let undecidedNow = 0;
  const lines = stored.map((a) => {
    if (a.answer === undefined) return a;
    const decision = parseDecision(a.answer);
    if (decision) rescored[a.pmid] = decision;
    else undecidedNow++;
    return { ...a, decision: decision ?? null };
  });
  writeFileSync(`${stem}.answers.jsonl`, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  writeFileSync(out, JSON.stringify(rescored, null, 1));
  const { command, result } = score(answered.map((a) => [a.pmid, byPmid.get(a.pmid)!]));
  const metricsFile = `${stem}.metrics.json`;
  const metrics = {
    ...(existsSync(metricsFile) ? (JSON.parse(readFileSync(metricsFile, 'utf8')) as object) : {}),
    items: answered.length,
    undecided: undecidedNow,
    accuracy: result?.accuracy ?? null,
    macroF1: result?.macroF1 ?? null,
    scorer: command.join(' '),
    rescored: new Date().toISOString(),
  };
  writeFileSync(metricsFile, JSON.stringify(metrics, null, 2));
  console.log(JSON.stringify(metrics, null, 2));
  process.exit(0);
}

// The model, as the embedded twin resolves it, unless the command names one.
const env: NodeJS.ProcessEnv = {
  ...process.env,
  LLMTWIN_LLM_BACKENDS: values.backend
    ? values.backend
    : values.model
      ? `qa=local:${path.resolve(values.model)}`
      : (process.env.LLMTWIN_LLM_BACKENDS ?? 'twin=local:default'),
  ...(values.threads ? { LLMTWIN_LLM_THREADS: values.threads } : {}),
};
const settings = loadConfig(
  inferenceConfigSchema.omit({ LLMTWIN_WAREHOUSE_URL: true, LLMTWIN_EMBED_URL: true }),
  env,
);
if (!settings.LLMTWIN_LLM_BACKENDS) {
  console.error(
    'LLMTWIN_LLM_BACKENDS is empty: the qa benchmark needs a language model (see --backend, --model)',
  );
  process.exit(2);
}
const logger = pino({ level: 'warn' });
const options = await routerOptionsFromSettings(settings, logger);
const models = options.models!;

// One in-memory index of every item's passages; the author filter (the pmid) picks an item's own.
const byItem = new Map<string, Passage[]>(
  items.map(([pmid, item]) => [
    pmid,
    item.CONTEXTS.map((text, i) => ({
      chunkId: `${pmid}#${i}`,
      documentId: `${pmid}#${i}`,
      text,
      score: 1 / (1 + i),
      title: item.LABELS?.[i] ?? `Passage ${i + 1}`,
      url: `https://pubmed.ncbi.nlm.nih.gov/${pmid}/`,
      category: 1,
      platform: 0,
    })),
  ]),
);
const search: SearchFn = async (_query, filters, limitN) =>
  (byItem.get(filters.authorId) ?? []).slice(0, limitN);

const work = mkdtempSync(path.join(tmpdir(), 'llmtwin-bench-qa-'));
const warehouse = await createWarehouse(`sqlite:${path.join(work, 'warehouse.db')}`);
const store = new GenerationStore(warehouse);
await store.init();
const rag = new RagService({
  search,
  store,
  logger,
  llm: modelResolver(models),
  ...(options.promptTemplate ? { promptTemplate: options.promptTemplate } : {}),
  ...(options.contextBudgetTokens ? { contextBudgetTokens: options.contextBudgetTokens } : {}),
  ...(options.answers ? { answers: options.answers } : {}),
});
const span = settings.LLMTWIN_REPEAT_GUARD_WORDS || 12;

const predictions: Record<string, Decision> = {};
let undecided = 0;
let repeated = 0;
let citing = 0;
let attributed = 0;
let fallbacks = 0;
let failures = 0;
let completionTokens = 0;
let decodeSeconds = 0;
const ttfts: number[] = [];
const started = performance.now();
mkdirSync(path.dirname(out), { recursive: true });
// Written as the run goes, so that a run stopped half way still leaves what it answered.
writeFileSync(`${stem}.answers.jsonl`, '');
const record = (line: object) => {
  appendFileSync(`${stem}.answers.jsonl`, `${JSON.stringify(line)}\n`);
  writeFileSync(out, JSON.stringify(predictions, null, 1));
};

try {
  for (const [n, [pmid, item]] of items.entries()) {
    let done: GenerationResult | undefined;
    let error: string | undefined;
    const deltaTimes: Array<[number, number]> = [];
    try {
      // The model's own text streams first (a fallback's quotes follow it): when each length was reached.
      let streamed = 0;
      for await (const event of rag.generate({
        query: `${item.QUESTION} ${ASK_FOR_DECISION}`,
        authorId: pmid,
        topK: 8,
        maxTokens,
        temperature,
      })) {
        if ('done' in event) done = event.done;
        else if ('delta' in event && event.delta) {
          streamed += event.delta.length;
          deltaTimes.push([streamed, performance.now()]);
        }
      }
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (!done) {
      failures++;
      record({ pmid, error });
      console.error(`${pmid}: ${error}`);
      continue;
    }
    const modelText = done.modelAnswer ?? done.answer;
    const decision = parseDecision(modelText);
    if (decision) predictions[pmid] = decision;
    else undecided++;
    const sources = done.citations.length;
    const isRepeated = repeatsSpan(modelText, span);
    // The model's own [n]; markers the router added after an uncited answer (attribution) count apart.
    const isAttributed = done.citationsAttributed === true;
    const cites = !isAttributed && citedSources(modelText, sources).length > 0;
    if (isRepeated) repeated++;
    if (cites) citing++;
    if (isAttributed) attributed++;
    if (done.fallback) fallbacks++;
    // Decode speed: the tokens after the first over the time from the first delta to the model's last one
    // (answers of one token say nothing about it, and the fallback's quotes are not the model's).
    const lastModelDelta = deltaTimes.find(([length]) => length >= modelText.length) ?? deltaTimes.at(-1);
    if (done.usage.completionTokens >= 2 && deltaTimes.length > 0 && lastModelDelta) {
      completionTokens += done.usage.completionTokens - 1;
      decodeSeconds += (lastModelDelta[1] - deltaTimes[0]![1]) / 1000;
    }
    ttfts.push(done.usage.timeToFirstTokenMs);
    record({
      pmid,
      gold: item.final_decision,
      decision: decision ?? null,
      finishReason: done.finishReason,
      fallback: done.fallback ?? null,
      repeated: isRepeated,
      cites,
      attributed: isAttributed,
      completionTokens: done.usage.completionTokens,
      answer: modelText,
    });
    console.error(
      `${n + 1}/${items.length} ${pmid}: ${decision ?? 'undecided'} (gold ${item.final_decision})` +
        `${done.fallback ? `, fallback ${done.fallback}` : ''}`,
    );
  }
} finally {
  await models.close();
  await warehouse.close();
  rmSync(work, { recursive: true, force: true });
}

writeFileSync(out, JSON.stringify(predictions, null, 1));
const { command, result: scored } = score(items);
const answered = items.length - failures;
const share = (k: number) => (answered ? Number((k / answered).toFixed(3)) : 0);
const metrics = {
  label: values.label ?? null,
  backends: settings.LLMTWIN_LLM_BACKENDS,
  threads: settings.LLMTWIN_LLM_THREADS,
  items: items.length,
  failures,
  undecided,
  accuracy: scored?.accuracy ?? null,
  macroF1: scored?.macroF1 ?? null,
  repetitionRate: share(repeated),
  citeShare: share(citing),
  attributedShare: share(attributed),
  fallbackRate: share(fallbacks),
  repeatSpanWords: span,
  decodeTokensPerSecond: decodeSeconds > 0 ? Number((completionTokens / decodeSeconds).toFixed(1)) : null,
  timeToFirstTokenMsP50: ttfts.length ? Math.round(percentile(ttfts, 50)) : null,
  peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  maxTokens,
  temperature,
  wallSeconds: Math.round((performance.now() - started) / 1000),
  scorer: command.join(' '),
  ...(scored?.error ? { scorerError: scored.error } : {}),
};
writeFileSync(`${stem}.metrics.json`, JSON.stringify(metrics, null, 2));
console.log(JSON.stringify(metrics, null, 2));
