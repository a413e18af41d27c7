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
}

// Weights as a Map per model, built once: a Map lookup per feature is what scoring a page costs.
const compiled = new WeakMap<BlockModel, { dense: Float64Array; sparse: Map<string, number> }>();

function compile(model: BlockModel): { dense: Float64Array; sparse: Map<string, number> } {
  let c = compiled.get(model);
  if (!c) {
    c = {
      dense: Float64Array.from(DENSE_FEATURES, (name) => model.weights[name] ?? 0),
      sparse: new Map(Object.entries(model.weights)),
    };
    compiled.set(model, c);
  }
  return c;
}

export function blockProbability(model: BlockModel, f: BlockFeatures): number {
  const { dense, sparse } = compile(model);
  let z = model.bias;
  for (let i = 0; i < dense.length; i++) z += (f.dense[i] ?? 0) * dense[i]!;
  for (const key of f.sparse) z += sparse.get(key) ?? 0;
  return 1 / (1 + Math.exp(-z));
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
  return { threshold: m.threshold, ruleMargin: m.ruleMargin ?? 0, bias: m.bias, weights: m.weights };
}

export const SHIPPED_MODEL: BlockModel = parseBlockModel(trained);
