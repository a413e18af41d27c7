// The gates a candidate must pass to be proposed for production, each a comparison with a threshold from the
// configuration (config.ts, LLMTWIN_EVAL_*). A gate that cannot apply (no production version, no judge, no
// held-out prompts) passes and says why it compared nothing; the report passes when every gate passes.
import type { ModelRole } from './model-runner.port.js';

export interface GateThresholds {
  /** Candidate perplexity must be below the base's by at least this fraction (0 = not above it). */
  minPerplexityGain: number;
  /** Candidate perplexity may exceed production's by at most this fraction. */
  maxPerplexityVsProduction: number;
  /** Candidate style distance may exceed the base's by at most this much (distance is 0..1). */
  maxStyleDistanceIncrease: number;
  /** Candidate judge means (accuracy, style; 1–3) may fall below production's by at most this much. */
  maxJudgeDropVsProduction: number;
}

export const DEFAULT_GATES: GateThresholds = {
  minPerplexityGain: 0,
  maxPerplexityVsProduction: 0.05,
  maxStyleDistanceIncrease: 0.05,
  maxJudgeDropVsProduction: 0,
};

/** One model's measurements, in the report's units (0 = not measured; style -1 = not measured). */
export interface RoleScores {
  perplexity: number;
  styleDistance: number;
  judgeAccuracy: number;
  judgeStyle: number;
  judgeAccuracyRag: number;
  judgeStyleRag: number;
}

export interface GateContext {
  /** The judge model id; empty when none ran. */
  judgeModel: string;
  /** Whether answers with retrieved passages were generated (a retriever is wired). */
  rag: boolean;
}

export interface Gate {
  name: string;
  passed: boolean;
  detail: string;
}

const pct = (x: number) => `${(Math.abs(x) * 100).toFixed(1)}%`;
const num = (x: number) => (x >= 100 ? x.toFixed(1) : x.toPrecision(3));
const measured = (x: number) => Number.isFinite(x) && x > 0;

export function perplexityVsBase(c: RoleScores, b: RoleScores, t: GateThresholds): Gate {
  const name = 'perplexity-vs-base';
  if (!measured(c.perplexity) || !measured(b.perplexity)) {
    return {
      name,
      passed: false,
      detail: `perplexity not measured (candidate ${c.perplexity}, base ${b.perplexity})`,
    };
  }
  const gain = (b.perplexity - c.perplexity) / b.perplexity;
  const passed = gain >= t.minPerplexityGain;
  return {
    name,
    passed,
    detail:
      `perplexity ${num(c.perplexity)} vs base ${num(b.perplexity)}: ${pct(gain)} ${gain >= 0 ? 'lower' : 'higher'}, ` +
      `need ≥ ${pct(t.minPerplexityGain)} lower`,
  };
}

export function perplexityVsProduction(c: RoleScores, p: RoleScores | undefined, t: GateThresholds): Gate {
  const name = 'perplexity-vs-production';
  if (!p) return { name, passed: true, detail: 'no production version to compare with' };
  if (!measured(c.perplexity) || !measured(p.perplexity)) {
    return {
      name,
      passed: false,
      detail: `perplexity not measured (candidate ${c.perplexity}, production ${p.perplexity})`,
    };
  }
  const rise = (c.perplexity - p.perplexity) / p.perplexity;
  return {
    name,
    passed: rise <= t.maxPerplexityVsProduction,
    detail:
      `perplexity ${num(c.perplexity)} vs production ${num(p.perplexity)}: ${pct(rise)} ${rise > 0 ? 'higher' : 'lower'}, ` +
      `allowed ≤ ${pct(t.maxPerplexityVsProduction)} higher`,
  };
}

export function styleVsBase(c: RoleScores, b: RoleScores, t: GateThresholds): Gate {
  const name = 'style-vs-base';
  if (c.styleDistance < 0 || b.styleDistance < 0) {
    return { name, passed: true, detail: 'style distance not measured: no held-out prompts to answer' };
  }
  const diff = c.styleDistance - b.styleDistance;
  return {
    name,
    passed: diff <= t.maxStyleDistanceIncrease,
    detail:
      `style distance ${c.styleDistance.toFixed(3)} vs base ${b.styleDistance.toFixed(3)}: ` +
      `${Math.abs(diff).toFixed(3)} ${diff > 0 ? 'farther from' : 'closer to'} the author, ` +
      `allowed ≤ ${t.maxStyleDistanceIncrease.toFixed(3)} farther`,
  };
}

export function judgeVsProduction(
  c: RoleScores,
  p: RoleScores | undefined,
  t: GateThresholds,
  ctx: GateContext,
): Gate {
  const name = 'judge-vs-production';
  if (!ctx.judgeModel)
    return { name, passed: true, detail: 'no judge configured (LLMTWIN_EVAL_JUDGE_MODEL)' };
  if (!p) return { name, passed: true, detail: 'no production version to compare with' };
  const pairs: [string, number, number][] = [
    ['accuracy', c.judgeAccuracy, p.judgeAccuracy],
    ['style', c.judgeStyle, p.judgeStyle],
  ];
  if (ctx.rag) {
    pairs.push(['accuracy with RAG', c.judgeAccuracyRag, p.judgeAccuracyRag]);
    pairs.push(['style with RAG', c.judgeStyleRag, p.judgeStyleRag]);
  }
  const parts: string[] = [];
  let passed = true;
  for (const [what, cv, pv] of pairs) {
    // 0 is "not judged" (every answer unscored): nothing to compare, which the detail says.
    if (cv === 0 || pv === 0) {
      parts.push(`${what} not judged`);
      continue;
    }
    const ok = cv >= pv - t.maxJudgeDropVsProduction;
    passed &&= ok;
    parts.push(`${what} ${cv.toFixed(2)} vs ${pv.toFixed(2)}${ok ? '' : ' (worse)'}`);
  }
  if (!ctx.rag) parts.push('with RAG not judged: no retriever wired');
  return {
    name,
    passed,
    detail: `${parts.join('; ')}; allowed ≤ ${t.maxJudgeDropVsProduction.toFixed(2)} lower than production`,
  };
}

/** Every gate, in a fixed order. */
export function evaluateGates(
  scores: Partial<Record<ModelRole, RoleScores>> & { candidate: RoleScores; base: RoleScores },
  thresholds: GateThresholds,
  ctx: GateContext,
): Gate[] {
  const { candidate, base, production } = scores;
  return [
    perplexityVsBase(candidate, base, thresholds),
    perplexityVsProduction(candidate, production, thresholds),
    styleVsBase(candidate, base, thresholds),
    judgeVsProduction(candidate, production, thresholds, ctx),
  ];
}
