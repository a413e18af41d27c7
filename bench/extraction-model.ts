// Trains the main-content extractor's block scorer (services/clean/src/domain/block-model.ts) and judges it
// by k-fold cross-validation:
//   npm run bench -- extraction-model --aeb <aeb set folder> --trafilatura <trafilatura set folder>
//     [--folds 5] [--oof <folder>] [--model <file>]
// Pages are split into the folds the sets' scorer uses (sha1 of the page id, first 4 bytes mod K). For each
// fold a model is trained on the other folds' pages only — the open vocabularies included — and the held-out
// pages are extracted with it; --oof writes those out-of-fold predictions (aeb.json, trafilatura.json) for
// `score.mjs <set> <file> --folds K`. --model writes the model trained on all pages (the shipped one is
// services/clean/src/domain/main-content-model.json). The pages are read from the folders given, never copied.
// The settings the shipped model was trained with are the defaults: --l2 0.003, --aeb-weight 4 (AEB's labelled
// blocks against the trafilatura set's, in total), --rule-margin 0.2, --min-pages 5, --iterations 400; they
// were chosen by this cross-validation (docs/cleaning.md).
//
// Block labels: on AEB a block is article text when most of its 4-token shingles are in the reference body
// (blocks half in, half out teach nothing and are left out); on the trafilatura set a block is text when it
// holds (or lies inside) a "must contain" segment and furniture when it holds a "must not contain" one; the
// set's other blocks are unlabelled. Each set weighs the same in training; within AEB a block weighs by its
// share of the page's reference tokens, as the metric does.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { DENSE_FEATURES } from '../services/clean/src/domain/block-features.js';
import type { BlockModel } from '../services/clean/src/domain/block-model.js';
import { analysePage, chooseContent, type PageAnalysis } from '../services/clean/src/domain/main-content.js';

const { values } = parseArgs({
  options: {
    aeb: { type: 'string' },
    trafilatura: { type: 'string' },
    folds: { type: 'string', default: '5' },
    oof: { type: 'string' },
    model: { type: 'string' },
    l2: { type: 'string', default: '0.003' },
    'aeb-weight': { type: 'string', default: '4' },
    'rule-margin': { type: 'string', default: '0.2' },
    'min-pages': { type: 'string', default: '5' },
    iterations: { type: 'string', default: '400' },
  },
});
if (!values.aeb && !values.trafilatura) {
  console.error(
    'usage: npm run bench -- extraction-model --aeb <folder> --trafilatura <folder> [--folds 5] [--oof <folder>] [--model <file>]',
  );
  process.exit(2);
}
const K = Number(values.folds);
const L2 = Number(values.l2);
const MIN_PAGES = Number(values['min-pages']);
const ITERATIONS = Number(values.iterations);
const AEB_WEIGHT = Number(values['aeb-weight']);
const RULE_MARGIN = Number(values['rule-margin']);

type SetName = 'aeb' | 'trafilatura';
interface Example {
  dense: ArrayLike<number>;
  sparse: readonly string[];
  label: 0 | 1;
  weight: number;
}
interface Page {
  set: SetName;
  key: string;
  fold: number;
  analysis: PageAnalysis;
  examples: Example[];
}

const foldOf = (id: string): number => createHash('sha1').update(id).digest().readUInt32BE(0) % K;
const TOKEN = /[\p{L}\p{N}_]+/gu;
const tokens = (s: string): string[] => s.match(TOKEN) ?? [];
const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();

function aebExamples(analysis: PageAnalysis, body: string): Example[] {
  const truth = tokens(body);
  const shingles = new Set<string>();
  for (let i = 0; i + 4 <= truth.length; i++) shingles.add(truth.slice(i, i + 4).join('\u0001'));
  const joined = ` ${truth.join(' ')} `;
  const scale = Math.max(50, truth.length);
  const out: Example[] = [];
  analysis.blocks.forEach((b, i) => {
    const t = tokens(b.text);
    if (t.length === 0) return;
    let share: number;
    if (t.length < 4) share = joined.includes(` ${t.join(' ')} `) ? 1 : 0;
    else {
      let hit = 0;
      for (let k = 0; k + 4 <= t.length; k++) if (shingles.has(t.slice(k, k + 4).join('\u0001'))) hit++;
      share = hit / (t.length - 3);
    }
    if (share > 0.3 && share < 0.7) return;
    const f = analysis.features[i]!;
    out.push({ ...f, label: share >= 0.7 ? 1 : 0, weight: Math.min(1, t.length / scale) });
  });
  return out;
}

function trafilaturaExamples(
  analysis: PageAnalysis,
  entry: { with: string[]; without: string[] },
): Example[] {
  const want = entry.with.map(norm).filter(Boolean);
  const avoid = entry.without.map(norm).filter(Boolean);
  const out: Example[] = [];
  analysis.blocks.forEach((b, i) => {
    const text = norm(b.text);
    const matches = (s: string): boolean => text.includes(s) || (text.length >= 25 && s.includes(text));
    const pos = want.filter(matches).length;
    const neg = avoid.filter(matches).length;
    if (pos > 0 === neg > 0) return;
    out.push({ ...analysis.features[i]!, label: pos > 0 ? 1 : 0, weight: pos + neg });
  });
  return out;
}

function loadPages(): Page[] {
  const pages: Page[] = [];
  if (values.aeb) {
    const truth = JSON.parse(readFileSync(path.join(values.aeb, 'truth.json'), 'utf8')) as Record<
      string,
      { articleBody: string }
    >;
    for (const [key, entry] of Object.entries(truth)) {
      const bytes = gunzipSync(readFileSync(path.join(values.aeb, 'pages', `${key}.html.gz`)));
      const analysis = analysePage(bytes);
      pages.push({
        set: 'aeb',
        key,
        fold: foldOf(key),
        analysis,
        examples: aebExamples(analysis, entry.articleBody),
      });
    }
  }
  if (values.trafilatura) {
    const truth = JSON.parse(readFileSync(path.join(values.trafilatura, 'truth.json'), 'utf8')) as Record<
      string,
      { file: string; with: string[]; without: string[] }
    >;
    for (const [key, entry] of Object.entries(truth)) {
      const bytes = gunzipSync(readFileSync(path.join(values.trafilatura, 'pages', `${entry.file}.gz`)));
      const analysis = analysePage(bytes);
      pages.push({
        set: 'trafilatura',
        key,
        fold: foldOf(key),
        analysis,
        examples: trafilaturaExamples(analysis, entry),
      });
    }
  }
  return pages;
}

/** L2-regularised logistic regression, full-batch Adam on the weighted mean log-loss. */
function train(pages: Page[]): BlockModel & { vocabulary: number } {
  // Open-vocabulary tokens count only when seen on MIN_PAGES training pages: a site's own class names or
  // words cannot become a rule.
  const pageCount = new Map<string, number>();
  for (const p of pages) {
    const seen = new Set<string>();
    for (const e of p.examples) for (const s of e.sparse) seen.add(s);
    for (const s of seen) pageCount.set(s, (pageCount.get(s) ?? 0) + 1);
  }
  const names: string[] = [...DENSE_FEATURES];
  const index = new Map<string, number>();
  for (const [s, c] of pageCount) if (c >= MIN_PAGES) index.set(s, names.push(s) - 1);
  const D = DENSE_FEATURES.length;

  const setWeight = new Map<SetName, number>();
  for (const p of pages)
    for (const e of p.examples) setWeight.set(p.set, (setWeight.get(p.set) ?? 0) + e.weight);
  const rows: { dense: ArrayLike<number>; sparse: number[]; y: number; w: number }[] = [];
  for (const p of pages) {
    for (const e of p.examples) {
      rows.push({
        dense: e.dense,
        sparse: e.sparse.map((s) => index.get(s)).filter((x): x is number => x !== undefined),
        y: e.label,
        w: (e.weight / setWeight.get(p.set)! / setWeight.size) * (p.set === 'aeb' ? AEB_WEIGHT : 1),
      });
    }
  }
  const w = new Float64Array(names.length);
  let bias = 0;
  const m = new Float64Array(names.length + 1);
  const v = new Float64Array(names.length + 1);
  const g = new Float64Array(names.length + 1);
  const lr = 0.05;
  for (let it = 1; it <= ITERATIONS; it++) {
    g.fill(0);
    for (const r of rows) {
      let z = bias;
      for (let j = 0; j < D; j++) z += r.dense[j]! * w[j]!;
      for (const j of r.sparse) z += w[j]!;
      const err = (1 / (1 + Math.exp(-z)) - r.y) * r.w;
      for (let j = 0; j < D; j++) g[j]! += err * r.dense[j]!;
      for (const j of r.sparse) g[j]! += err;
      g[names.length]! += err;
    }
    for (let j = 0; j < names.length; j++) g[j]! += L2 * w[j]!;
    for (let j = 0; j <= names.length; j++) {
      m[j] = 0.9 * m[j]! + 0.1 * g[j]!;
      v[j] = 0.999 * v[j]! + 0.001 * g[j]! * g[j]!;
      const step = (lr * (m[j]! / (1 - 0.9 ** it))) / (Math.sqrt(v[j]! / (1 - 0.999 ** it)) + 1e-8);
      if (j === names.length) bias -= step;
      else w[j] = w[j]! - step;
    }
  }
  const weights: Record<string, number> = {};
  names.forEach((name, j) => {
    const rounded = Math.round(w[j]! * 1000) / 1000;
    if (rounded !== 0) weights[name] = rounded;
  });
  return {
    threshold: 0.5,
    ruleMargin: RULE_MARGIN,
    bias: Math.round(bias * 1000) / 1000,
    weights,
    vocabulary: index.size,
  };
}

function predictions(pages: Page[], model: BlockModel): Record<SetName, Record<string, unknown>> {
  const out: Record<SetName, Record<string, unknown>> = { aeb: {}, trafilatura: {} };
  for (const p of pages) {
    const text = chooseContent(p.analysis, model).text;
    out[p.set][p.key] = p.set === 'aeb' ? { articleBody: text } : text;
  }
  return out;
}

const started = Date.now();
const pages = loadPages();
console.error(`${pages.length} pages analysed in ${((Date.now() - started) / 1000).toFixed(1)} s`);

if (values.oof) {
  const oof: Record<SetName, Record<string, unknown>> = { aeb: {}, trafilatura: {} };
  for (let f = 0; f < K; f++) {
    const model = train(pages.filter((p) => p.fold !== f));
    const held = predictions(
      pages.filter((p) => p.fold === f),
      model,
    );
    Object.assign(oof.aeb, held.aeb);
    Object.assign(oof.trafilatura, held.trafilatura);
    console.error(
      `fold ${f}: trained on ${pages.filter((p) => p.fold !== f).length} pages, vocabulary ${model.vocabulary}`,
    );
  }
  mkdirSync(values.oof, { recursive: true });
  if (values.aeb) writeFileSync(path.join(values.oof, 'aeb.json'), JSON.stringify(oof.aeb));
  if (values.trafilatura)
    writeFileSync(path.join(values.oof, 'trafilatura.json'), JSON.stringify(oof.trafilatura));
}

if (values.model) {
  const { vocabulary, ...model } = train(pages);
  const sets = [values.aeb && 'aeb', values.trafilatura && 'trafilatura'].filter(Boolean);
  const file = {
    about:
      'Block scorer for services/clean main-content extraction: logistic regression weights over block-features.ts, ' +
      `trained by bench/extraction-model.ts on the dev halves of ${sets.join(' and ')} (${pages.length} pages); ` +
      `open-vocabulary tokens seen on at least ${MIN_PAGES} pages (${vocabulary}); l2 ${L2}, ${ITERATIONS} Adam steps.`,
    ...model,
  };
  writeFileSync(values.model, `${JSON.stringify(file, null, 2)}\n`);
  console.error(`model: ${Object.keys(model.weights).length} weights → ${values.model}`);
}
