// Key terms and the key sentence of a passage, for the extractive generator's instructions: terms weighted
// by tf-idf over the dataset's passages (so that words every passage uses do not count), the key sentence the
// one whose terms weigh most. Deterministic: ties break alphabetically, then by position.
import { sentences } from './passages.js';

const STOPWORDS = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being below ' +
    'between both but by can could did do does doing down during each even every few for from further get ' +
    'got had has have having he her here hers herself him himself his how however i if in into is it its ' +
    'itself just let like made make many me might more most much must my myself no nor not now of off on ' +
    'once one only or other our ours ourselves out over own really same she should so some such than that ' +
    'the their theirs them themselves then there these they thing things this those through to too two under ' +
    'until up us use used using very want was way we well were what when where which while who whom why will ' +
    'with would yet you your yours yourself yourselves'
  ).split(' '),
);

/** Candidate terms of a text: lowercased words of 3+ letters, not function words, numbers or contractions. */
export function terms(text: string): string[] {
  return (text.toLowerCase().match(/\p{L}[\p{L}\p{N}'’-]*\p{L}|\p{L}/gu) ?? []).filter(
    (w) => w.length >= 3 && !STOPWORDS.has(w) && !/['’]/.test(w),
  );
}

/** Document frequency of each term over the passages, for idf. */
export class TermStatistics {
  private readonly df = new Map<string, number>();
  private count = 0;

  add(text: string): void {
    this.count++;
    for (const t of new Set(terms(text))) this.df.set(t, (this.df.get(t) ?? 0) + 1);
  }

  idf(term: string): number {
    return Math.log((1 + this.count) / (1 + (this.df.get(term) ?? 0))) + 1;
  }
}

export interface KeyPoints {
  terms: string[];
  sentence: string;
}

/** The `k` heaviest terms (tf × idf) and the sentence (at most 40 words) that holds the most weight. */
export function keyPoints(text: string, stats: TermStatistics, k = 3): KeyPoints {
  const tf = new Map<string, number>();
  for (const t of terms(text)) tf.set(t, (tf.get(t) ?? 0) + 1);
  const weight = new Map([...tf].map(([t, n]) => [t, n * stats.idf(t)]));
  const top = [...weight]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, k)
    .map(([t]) => t);
  let best = { sentence: '', score: -1 };
  for (const s of sentences(text)) {
    if (s.split(/\s+/).length > 40 || /^(```|~~~|#)/.test(s)) continue;
    const score = [...new Set(terms(s))].reduce((sum, t) => sum + (weight.get(t) ?? 0), 0);
    if (score > best.score) best = { sentence: s, score };
  }
  return { terms: top, sentence: best.sentence };
}
