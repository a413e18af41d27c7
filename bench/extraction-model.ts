// Trains the main-content extractor's block scorer (services/clean/src/domain/block-model.ts) and judges it
// by k-fold cross-validation:
//   npm run bench -- extraction-model --aeb <aeb set folder> --trafilatura <trafilatura set folder>
//     [--folds 5] [--oof <folder>] [--model <file>]
// Pages are split into the folds the sets' scorer uses (sha1 of the page id, first 4 bytes mod K). For each
// fold a model is trained on the other folds' pages only — the open vocabularies included — and the held-out
// pages are extracted with it; --oof writes those out-of-fold predictions (aeb.json, trafilatura.json) for
// `score.mjs <set> <file> --folds K`. --model writes the model trained on all pages (the shipped one is
// services/clean/src/domain/main-content-model.json; run prettier on it). The pages are read from the folders
// given, never copied.
// The model: a logistic regression (full-batch Adam) and, boosting its logit, --trees gradient-boosted
// regression trees (logistic loss, second-order gain, depth --depth, shrinkage --learning-rate, leaves with at
// least --min-hessian of weighted hessian, L2 --lambda on leaf values; dense features split at up to 32
// quantile cuts, open-vocabulary tokens on presence). Everything is deterministic: same pages, same model.
// The settings the shipped model was trained with are the defaults: --l2 0.003, --aeb-weight 8 (AEB's labelled
// blocks against the trafilatura set's, in total), --rule-margin 0.2, --min-pages 5, --iterations 400,
// --trees 100, --depth 3, --learning-rate 0.1, --min-hessian 2, --lambda 1; they were chosen by this
// cross-validation (docs/cleaning.md).
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
import {
  blockProbability,
  type BlockModel,
  type BlockTree,
  type BlockTreeNode,
} from '../services/clean/src/domain/block-model.js';
import { analysePage, chooseContent, type PageAnalysis } from '../services/clean/src/domain/main-content.js';

const { values } = parseArgs({
  options: {
    aeb: { type: 'string' },
    trafilatura: { type: 'string' },
    folds: { type: 'string', default: '5' },
    oof: { type: 'string' },
    model: { type: 'string' },
    l2: { type: 'string', default: '0.003' },
    'aeb-weight': { type: 'string', default: '8' },
    'rule-margin': { type: 'string', default: '0.2' },
    'min-pages': { type: 'string', default: '5' },
    iterations: { type: 'string', default: '400' },
    trees: { type: 'string', default: '100' },
    depth: { type: 'string', default: '3' },
    'learning-rate': { type: 'string', default: '0.1' },
    'min-hessian': { type: 'string', default: '2' },
    lambda: { type: 'string', default: '1' },
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
const TREES = Number(values.trees);
const DEPTH = Number(values.depth);
const SHRINK = Number(values['learning-rate']);
const MIN_HESSIAN = Number(values['min-hessian']);
const LAMBDA = Number(values.lambda);
const BINS = 32;

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

/** L2-regularised logistic regression, full-batch Adam on the weighted mean log-loss (plus --trees boosted
 * trees on its logit). */
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
  const exampleList: Example[] = [];
  for (const p of pages) {
    for (const e of p.examples) {
      exampleList.push(e);
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
  const linear: BlockModel = {
    threshold: 0.5,
    ruleMargin: RULE_MARGIN,
    bias: Math.round(bias * 1000) / 1000,
    weights,
  };
  if (TREES > 0) {
    // Trees boost the linear model's (rounded, as shipped) logit: they fit what it gets wrong.
    const base = Float64Array.from(rows, (_, i) => {
      const p = blockProbability(linear, { ruleKept: false, ...exampleList[i]! });
      return Math.log(p / (1 - p));
    });
    linear.trees = boost(rows, names, D, base);
  }
  return { ...linear, vocabulary: index.size };
}

/** Gradient-boosted regression trees on the logistic loss (second order, XGBoost-style gain), depth DEPTH,
 * dense features split at up to BINS quantile cuts, tokens split on presence. Deterministic. */
function boost(
  rows: { dense: ArrayLike<number>; sparse: number[]; y: number; w: number }[],
  names: string[],
  D: number,
  base: Float64Array,
): BlockTree[] {
  const N = rows.length;
  const V = names.length - D;
  const scale = N / rows.reduce((a, r) => a + r.w, 0);
  const cuts: Float64Array[] = [];
  const bin = new Uint8Array(N * D);
  for (let j = 0; j < D; j++) {
    const sorted = Float64Array.from(rows, (r) => r.dense[j]!).sort();
    const unique: number[] = [];
    for (const x of sorted) if (unique.length === 0 || unique[unique.length - 1] !== x) unique.push(x);
    const c: number[] = [];
    if (unique.length <= BINS) {
      for (let k = 0; k + 1 < unique.length; k++) c.push((unique[k]! + unique[k + 1]!) / 2);
    } else {
      for (let q = 1; q < BINS; q++) {
        const x = sorted[Math.floor((q * N) / BINS)]!;
        const next = unique.find((u) => u > x);
        if (next === undefined) continue;
        const cut = (x + next) / 2;
        if (c.length === 0 || c[c.length - 1]! < cut) c.push(cut);
      }
    }
    const rounded = c.map((x) => Math.round(x * 1e6) / 1e6);
    cuts.push(Float64Array.from(rounded));
    for (let i = 0; i < N; i++) {
      const x = rows[i]!.dense[j]!;
      let k = 0;
      while (k < rounded.length && x > rounded[k]!) k++;
      bin[i * D + j] = k;
    }
  }
  const z = Float64Array.from(base);
  const g = new Float64Array(N);
  const h = new Float64Array(N);
  const histG = new Float64Array(D * (BINS + 1));
  const histH = new Float64Array(D * (BINS + 1));
  const tokG = new Float64Array(V);
  const tokH = new Float64Array(V);
  const trees: BlockTree[] = [];
  for (let t = 0; t < TREES; t++) {
    for (let i = 0; i < N; i++) {
      const p = 1 / (1 + Math.exp(-z[i]!));
      const w = rows[i]!.w * scale;
      g[i] = w * (p - rows[i]!.y);
      h[i] = Math.max(w * p * (1 - p), 1e-9);
    }
    const tree: BlockTreeNode[] = [];
    const grow = (idx: Int32Array, depth: number): number => {
      const at = tree.length;
      tree.push({ v: 0 });
      let G = 0;
      let H = 0;
      for (const i of idx) {
        G += g[i]!;
        H += h[i]!;
      }
      const leaf = (): number => {
        const v = Math.round(((-SHRINK * G) / (H + LAMBDA)) * 1e4) / 1e4;
        tree[at] = { v };
        for (const i of idx) z[i]! += v;
        return at;
      };
      if (depth >= DEPTH || H < 2 * MIN_HESSIAN) return leaf();
      const parent = (G * G) / (H + LAMBDA);
      let best = 1e-6;
      let bestF = -1;
      let bestCut = 0;
      histG.fill(0);
      histH.fill(0);
      for (const i of idx) {
        const gi = g[i]!;
        const hi = h[i]!;
        const o = i * D;
        for (let j = 0; j < D; j++) {
          const b = j * (BINS + 1) + bin[o + j]!;
          histG[b]! += gi;
          histH[b]! += hi;
        }
      }
      for (let j = 0; j < D; j++) {
        let gl = 0;
        let hl = 0;
        const c = cuts[j]!;
        for (let k = 0; k < c.length; k++) {
          gl += histG[j * (BINS + 1) + k]!;
          hl += histH[j * (BINS + 1) + k]!;
          const hr = H - hl;
          if (hl < MIN_HESSIAN || hr < MIN_HESSIAN) continue;
          const gr = G - gl;
          const gain = (gl * gl) / (hl + LAMBDA) + (gr * gr) / (hr + LAMBDA) - parent;
          if (gain > best) {
            best = gain;
            bestF = j;
            bestCut = c[k]!;
          }
        }
      }
      const touched: number[] = [];
      for (const i of idx)
        for (const s of rows[i]!.sparse) {
          const v = s - D;
          if (tokH[v] === 0) touched.push(v);
          tokG[v]! += g[i]!;
          tokH[v]! += h[i]!;
        }
      for (const v of touched.sort((a, b) => a - b)) {
        const gr = tokG[v]!;
        const hr = tokH[v]!;
        const gl = G - gr;
        const hl = H - hr;
        if (hl >= MIN_HESSIAN && hr >= MIN_HESSIAN) {
          const gain = (gl * gl) / (hl + LAMBDA) + (gr * gr) / (hr + LAMBDA) - parent;
          if (gain > best) {
            best = gain;
            bestF = D + v;
            bestCut = 0;
          }
        }
      }
      for (const v of touched) {
        tokG[v] = 0;
        tokH[v] = 0;
      }
      if (bestF < 0) return leaf();
      const goesRight = (i: number): boolean =>
        bestF < D ? rows[i]!.dense[bestF]! > bestCut : rows[i]!.sparse.includes(bestF);
      const leftIdx = idx.filter((i) => !goesRight(i));
      const rightIdx = idx.filter((i) => goesRight(i));
      const l = grow(leftIdx, depth + 1);
      const r = grow(rightIdx, depth + 1);
      tree[at] = { f: names[bestF]!, t: bestCut, l, r };
      return at;
    };
    grow(
      Int32Array.from({ length: N }, (_, i) => i),
      0,
    );
    trees.push(tree);
  }
  return trees;
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
  const { trees, ...linear } = model;
  const file = {
    about:
      'Block scorer for services/clean main-content extraction: logistic regression weights over block-features.ts ' +
      `plus ${trees?.length ?? 0} boosted trees (depth ${DEPTH}, shrinkage ${SHRINK}) on its logit, ` +
      `trained by bench/extraction-model.ts on the dev halves of ${sets.join(' and ')} (${pages.length} pages); ` +
      `open-vocabulary tokens seen on at least ${MIN_PAGES} pages (${vocabulary}); l2 ${L2}, ${ITERATIONS} Adam steps, ` +
      `AEB weight ${AEB_WEIGHT}.`,
    ...linear,
  };
  // One tree a line (prettier then keeps short nodes together): the file stays short enough to read.
  let json = JSON.stringify(file, null, 2);
  if (trees && trees.length > 0)
    json = `${json.slice(0, -2)},\n  "trees": [\n${trees.map((t) => `    ${JSON.stringify(t)}`).join(',\n')}\n  ]\n}`;
  writeFileSync(values.model, `${json}\n`);
  console.error(`model: ${Object.keys(model.weights).length} weights → ${values.model}`);
}
