import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_GATES,
  evaluateGates,
  judgeVsProduction,
  perplexityVsBase,
  perplexityVsProduction,
  styleVsBase,
  type RoleScores,
} from './gates.js';

const scores = (s: Partial<RoleScores>): RoleScores => ({
  perplexity: 10,
  styleDistance: 0.3,
  judgeAccuracy: 0,
  judgeStyle: 0,
  judgeAccuracyRag: 0,
  judgeStyleRag: 0,
  ...s,
});
const gates = { ...DEFAULT_GATES, minPerplexityGain: 0.05 };

describe('perplexity-vs-base', () => {
  it('passes a candidate lower by at least the fraction, and says by how much', () => {
    const g = perplexityVsBase(scores({ perplexity: 12.1 }), scores({ perplexity: 18.4 }), gates);
    expect(g).toEqual({
      name: 'perplexity-vs-base',
      passed: true,
      detail: 'perplexity 12.1 vs base 18.4: 34.2% lower, need ≥ 5.0% lower',
    });
  });

  it('fails a candidate that gained less than asked, or got worse', () => {
    expect(perplexityVsBase(scores({ perplexity: 9.8 }), scores({ perplexity: 10 }), gates).passed).toBe(
      false,
    );
    const worse = perplexityVsBase(scores({ perplexity: 11 }), scores({ perplexity: 10 }), DEFAULT_GATES);
    expect(worse.passed).toBe(false);
    expect(worse.detail).toBe('perplexity 11.0 vs base 10.0: 10.0% higher, need ≥ 0.0% lower');
  });

  it('fails when a perplexity is missing or not finite', () => {
    const g = perplexityVsBase(scores({ perplexity: Number.POSITIVE_INFINITY }), scores({}), gates);
    expect(g.passed).toBe(false);
    expect(g.detail).toMatch(/not measured/);
  });
});

describe('perplexity-vs-production', () => {
  it('passes without a production version, saying so', () => {
    expect(perplexityVsProduction(scores({}), undefined, gates)).toEqual({
      name: 'perplexity-vs-production',
      passed: true,
      detail: 'no production version to compare with',
    });
  });

  it('allows the configured rise and no more', () => {
    const ok = perplexityVsProduction(scores({ perplexity: 10.4 }), scores({ perplexity: 10 }), gates);
    expect(ok.passed).toBe(true);
    expect(ok.detail).toBe('perplexity 10.4 vs production 10.0: 4.0% higher, allowed ≤ 5.0% higher');
    expect(
      perplexityVsProduction(scores({ perplexity: 10.6 }), scores({ perplexity: 10 }), gates).passed,
    ).toBe(false);
  });
});

describe('style-vs-base', () => {
  it('compares distances with the allowed increase', () => {
    const closer = styleVsBase(scores({ styleDistance: 0.2 }), scores({ styleDistance: 0.25 }), gates);
    expect(closer).toEqual({
      name: 'style-vs-base',
      passed: true,
      detail: 'style distance 0.200 vs base 0.250: 0.050 closer to the author, allowed ≤ 0.050 farther',
    });
    expect(styleVsBase(scores({ styleDistance: 0.31 }), scores({ styleDistance: 0.25 }), gates).passed).toBe(
      false,
    );
  });

  it('passes, saying why, when no answers were scored', () => {
    const g = styleVsBase(scores({ styleDistance: -1 }), scores({ styleDistance: -1 }), gates);
    expect(g.passed).toBe(true);
    expect(g.detail).toMatch(/no held-out prompts/);
  });
});

describe('judge-vs-production', () => {
  const judged = (a: number, s: number, ar = 0, sr = 0) =>
    scores({ judgeAccuracy: a, judgeStyle: s, judgeAccuracyRag: ar, judgeStyleRag: sr });

  it('passes without a judge or without production, saying which', () => {
    expect(
      judgeVsProduction(judged(1, 1), judged(3, 3), gates, { judgeModel: '', rag: true }).detail,
    ).toMatch(/no judge configured/);
    expect(judgeVsProduction(judged(1, 1), undefined, gates, { judgeModel: 'j', rag: true }).detail).toMatch(
      /no production version/,
    );
  });

  it('fails when any judged mean is below production by more than allowed', () => {
    const g = judgeVsProduction(judged(2.5, 2, 2, 2), judged(2.5, 2.5, 2, 2), gates, {
      judgeModel: 'j',
      rag: true,
    });
    expect(g.passed).toBe(false);
    expect(g.detail).toBe(
      'accuracy 2.50 vs 2.50; style 2.00 vs 2.50 (worse); accuracy with RAG 2.00 vs 2.00; style with RAG 2.00 vs 2.00; ' +
        'allowed ≤ 0.00 lower than production',
    );
    const tolerant = { ...gates, maxJudgeDropVsProduction: 0.5 };
    expect(
      judgeVsProduction(judged(2.5, 2, 2, 2), judged(2.5, 2.5, 2, 2), tolerant, {
        judgeModel: 'j',
        rag: true,
      }).passed,
    ).toBe(true);
  });

  it('says that with-RAG answers were not judged when no retriever is wired', () => {
    const g = judgeVsProduction(judged(2, 2), judged(2, 2), gates, { judgeModel: 'j', rag: false });
    expect(g.passed).toBe(true);
    expect(g.detail).toBe(
      'accuracy 2.00 vs 2.00; style 2.00 vs 2.00; with RAG not judged: no retriever wired; allowed ≤ 0.00 lower than production',
    );
  });

  it('skips means that were not judged (all unscored) rather than failing them', () => {
    const g = judgeVsProduction(judged(0, 0), judged(2, 2), gates, { judgeModel: 'j', rag: false });
    expect(g.passed).toBe(true);
    expect(g.detail).toMatch(/^accuracy not judged; style not judged/);
  });
});

describe('evaluateGates', () => {
  it('returns every gate in a fixed order', () => {
    const all = evaluateGates({ candidate: scores({ perplexity: 8 }), base: scores({}) }, gates, {
      judgeModel: '',
      rag: false,
    });
    expect(all.map((g) => g.name)).toEqual([
      'perplexity-vs-base',
      'perplexity-vs-production',
      'style-vs-base',
      'judge-vs-production',
    ]);
    expect(all.every((g) => g.passed)).toBe(true);
  });
});
