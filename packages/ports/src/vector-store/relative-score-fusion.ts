// Relative-score fusion of a dense and a keyword result list, the scheme Weaviate calls relativeScoreFusion,
// so that the embedded adapter ranks hybrid results the way the Weaviate adapter does.
//
// Each list is min-max normalised on its own: norm(s) = (s - min) / (max - min), or 1 for every entry when
// max = min. The fused score is alpha * norm_dense + (1 - alpha) * norm_keyword, a missing side counting 0.

export interface ScoredId {
  id: string;
  score: number;
}

function normalise(list: readonly ScoredId[]): Map<string, number> {
  const out = new Map<string, number>();
  if (list.length === 0) return out;
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of list) {
    if (score < min) min = score;
    if (score > max) max = score;
  }
  const range = max - min;
  for (const { id, score } of list) {
    out.set(id, range > 0 ? (score - min) / range : 1);
  }
  return out;
}

/**
 * Fuses the two lists and returns the best `limit` ids, highest fused score first; ties go to the better
 * dense rank, then the better keyword rank, so that the order is deterministic.
 */
export function relativeScoreFusion(
  dense: readonly ScoredId[],
  keyword: readonly ScoredId[],
  alpha: number,
  limit: number,
): ScoredId[] {
  const denseNorm = normalise(dense);
  const keywordNorm = normalise(keyword);
  const denseRank = new Map(dense.map((hit, i) => [hit.id, i]));
  const keywordRank = new Map(keyword.map((hit, i) => [hit.id, i]));
  const ids = new Set([...denseNorm.keys(), ...keywordNorm.keys()]);
  const fused = [...ids].map((id) => ({
    id,
    score: alpha * (denseNorm.get(id) ?? 0) + (1 - alpha) * (keywordNorm.get(id) ?? 0),
  }));
  const rank = (ranks: Map<string, number>, id: string): number => ranks.get(id) ?? Number.MAX_SAFE_INTEGER;
  fused.sort(
    (a, b) =>
      b.score - a.score ||
      rank(denseRank, a.id) - rank(denseRank, b.id) ||
      rank(keywordRank, a.id) - rank(keywordRank, b.id),
  );
  return fused.slice(0, limit);
}
