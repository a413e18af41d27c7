// The learnt block scorer: logistic regression over block-features.ts, its weights in
// main-content-model.json. The weights are trained by bench/extraction-model.ts on the benchmark pages it is
// given (the JSON records which sets, the folds and the cross-validated scores); a block is kept when its
// probability of being article text reaches the threshold.
import { DENSE_FEATURES, type BlockFeatures } from './block-features.js';
import trained from './main-content-model.json' with { type: 'json' };

export interface BlockModel {
  threshold: number;
  /** A block the rules kept stays unless its probability falls below threshold − ruleMargin; a block they
   * dropped comes in only above threshold + ruleMargin. The rules are right far more often than not, so the
   * model overrules them only when it is sure (the margin was chosen by cross-validation). */
  ruleMargin: number;
  bias: number;
  /** Weight per dense feature name and per open-vocabulary token (`c:…`, `w:…`); absent means 0. */
  weights: Record<string, number>;
  /** Boosted regression trees added to the linear score (absent: none). Each tree is a flat node list; node 0
   * is the root. An inner node tests one feature — a dense one by name (`value <= t` goes left) or an
   * open-vocabulary token (absent goes left) — a leaf holds the value added to the logit. */
  trees?: BlockTree[];
}

export type BlockTreeNode = { f: string; t: number; l: number; r: number } | { v: number };
export type BlockTree = BlockTreeNode[];

interface CompiledTrees {
  /** Per node: dense feature index (≥ 0), −1 − token id for a token test, or −1 − tokens.size for a leaf. */
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
  roots: Int32Array;
  tokens: Map<string, number>;
}

// Weights as a Map per model, built once: a Map lookup per feature is what scoring a page costs.
interface Compiled {
  dense: Float64Array;
  /** Per open-vocabulary token: its linear weight and its id among the tokens the trees test (−1: none). */
  sparse: Map<string, { weight: number; tree: number }>;
  trees: CompiledTrees | undefined;
}
const compiled = new WeakMap<BlockModel, Compiled>();

function compileTrees(trees: BlockTree[]): CompiledTrees {
  const denseIndex = new Map<string, number>(DENSE_FEATURES.map((name, i) => [name, i]));
  const tokens = new Map<string, number>();
  for (const tree of trees)
    for (const node of tree)
      if ('f' in node && !denseIndex.has(node.f) && !tokens.has(node.f)) tokens.set(node.f, tokens.size);
  const size = trees.reduce((n, t) => n + t.length, 0);
  const c: CompiledTrees = {
    feature: new Int32Array(size),
    threshold: new Float64Array(size),
    left: new Int32Array(size),
    right: new Int32Array(size),
    value: new Float64Array(size),
    roots: new Int32Array(trees.length),
    tokens,
  };
  let base = 0;
  trees.forEach((tree, t) => {
    c.roots[t] = base;
    tree.forEach((node, k) => {
      const at = base + k;
      if ('f' in node) {
        c.feature[at] = denseIndex.get(node.f) ?? -1 - tokens.get(node.f)!;
        c.threshold[at] = node.t;
        c.left[at] = base + node.l;
        c.right[at] = base + node.r;
      } else {
        c.feature[at] = -1 - tokens.size;
        c.value[at] = node.v;
      }
    });
    base += tree.length;
  });
  return c;
}

function compile(model: BlockModel): Compiled {
  let c = compiled.get(model);
  if (!c) {
    const trees = model.trees && model.trees.length > 0 ? compileTrees(model.trees) : undefined;
    const sparse = new Map<string, { weight: number; tree: number }>();
    for (const [key, weight] of Object.entries(model.weights)) sparse.set(key, { weight, tree: -1 });
    for (const [key, id] of trees?.tokens ?? []) {
      const entry = sparse.get(key);
      if (entry) entry.tree = id;
      else sparse.set(key, { weight: 0, tree: id });
    }
    c = { dense: Float64Array.from(DENSE_FEATURES, (name) => model.weights[name] ?? 0), sparse, trees };
    compiled.set(model, c);
  }
  return c;
}

// The block's tokens that some tree tests, as ids: one array reused for every block (scoring is synchronous).
const present: number[] = [];

/** The trees' sum for a block whose tested tokens are in `present`. */
function treeScore(c: CompiledTrees, f: BlockFeatures): number {
  const leaf = -1 - c.tokens.size;
  let z = 0;
  for (let t = 0; t < c.roots.length; t++) {
    let k = c.roots[t]!;
    for (;;) {
      const feature = c.feature[k]!;
      if (feature === leaf) break;
      const right = feature >= 0 ? (f.dense[feature] ?? 0) > c.threshold[k]! : present.includes(-1 - feature);
      k = right ? c.right[k]! : c.left[k]!;
    }
    z += c.value[k]!;
  }
  return z;
}

/** The model's logit for one block: the linear score plus the trees'. */
export function blockLogit(model: BlockModel, f: BlockFeatures): number {
  const { dense, sparse, trees } = compile(model);
  let z = model.bias;
  for (let i = 0; i < dense.length; i++) z += (f.dense[i] ?? 0) * dense[i]!;
  present.length = 0;
  for (const key of f.sparse) {
    const entry = sparse.get(key);
    if (entry) {
      z += entry.weight;
      if (entry.tree >= 0) present.push(entry.tree);
    }
  }
  if (trees) z += treeScore(trees, f);
  return z;
}

export function blockProbability(model: BlockModel, f: BlockFeatures): number {
  return 1 / (1 + Math.exp(-blockLogit(model, f)));
}

export function keepBlock(model: BlockModel, f: BlockFeatures): boolean {
  const margin = f.ruleKept ? -model.ruleMargin : model.ruleMargin;
  return blockProbability(model, f) >= model.threshold + margin;
}

/** Keeps exactly what the hand-written rules keep; the learnt model's starting point and a reference. */
export const RULES_ONLY_MODEL: BlockModel = {
  threshold: 0.5,
  ruleMargin: 0,
  bias: -5,
  weights: { ruleKept: 10 },
};

export function parseBlockModel(json: string | object): BlockModel {
  const m = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<BlockModel>;
  if (
    typeof m.threshold !== 'number' ||
    typeof m.bias !== 'number' ||
    typeof m.weights !== 'object' ||
    m.weights === null
  ) {
    throw new Error('block model: expected {threshold, ruleMargin, bias, weights}');
  }
  return {
    threshold: m.threshold,
    ruleMargin: m.ruleMargin ?? 0,
    bias: m.bias,
    weights: m.weights,
    ...(Array.isArray(m.trees) && m.trees.length > 0 ? { trees: m.trees } : {}),
  };
}

export const SHIPPED_MODEL: BlockModel = parseBlockModel(trained);
