// Stylometric distance between a model's answers and an author's own text: how far apart the two read, in
// the habits that survive a change of topic. Four feature distributions are compared, each with the
// Jensen–Shannon divergence in bits (0 = the same distribution, 1 = no overlap at all):
//   function words     relative frequencies of a fixed list of English function words (the classic
//                      authorship signal: frequent, topic-independent, used without thinking);
//   sentence lengths   a histogram of words per sentence (bins 1–5, 6–10, 11–15, 16–20, 21–30, 31–40, 41+);
//   word lengths       a histogram of letters per word (1, 2, …, 12, 13+);
//   punctuation        relative frequencies of , . ; : ! ? - ( " ' and the rate of marks per word
//                      (one more bucket, "word", in the same distribution, so a writer who punctuates
//                      twice as often differs even with the same mix).
// distance = the mean of the four. Deterministic and pure; a component where both texts have nothing to count
// (no sentences, no punctuation) counts 0, one where only one side has something counts 1.

/** English function words (articles, pronouns, auxiliaries, prepositions, conjunctions, common adverbs). */
// One string, split once: a word per line would be 150 lines of nothing.
export const FUNCTION_WORDS: readonly string[] = (
  'a about above after again against all also although am an and any are as at be because been before ' +
  'being below between both but by can could did do does doing down during each either enough even ever ' +
  'every few for from further had has have having he her here hers him his how however i if in into is ' +
  'it its just least less may me might mine more most much must my neither no nor not now of off often ' +
  'on once one only or other our ours out over own perhaps quite rather really same shall she should ' +
  'since so some still such than that the their theirs them then there these they this those though ' +
  'through thus to too under until up upon us very was we were what when where whether which while who ' +
  'whom whose why will with within without would yet you your yours '
)
  .trim()
  .split(' ');

export const PUNCTUATION: readonly string[] = [',', '.', ';', ':', '!', '?', '-', '(', '"', "'"];

const SENTENCE_BINS = [5, 10, 15, 20, 30, 40] as const; // upper bounds; the last bin is 41+
const WORD_LENGTH_BINS = 13; // 1..12 letters, then 13+

const functionWordIndex = new Map(FUNCTION_WORDS.map((w, i) => [w, i]));
const punctuationIndex = new Map(PUNCTUATION.map((p, i) => [p, i]));

export interface StyleProfile {
  functionWords: number[];
  sentenceLengths: number[];
  wordLengths: number[];
  /** Counts of each mark of PUNCTUATION, then the word count. */
  punctuation: number[];
  words: number;
}

export interface StyleDistance {
  /** The mean of the four components, 0..1. */
  distance: number;
  functionWords: number;
  sentenceLengths: number;
  wordLengths: number;
  punctuation: number;
}

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;
// A sentence ends at . ! ? (runs of them) followed by space or the end, or at a blank line / line break,
// so that list items and headings count as sentences of their own rather than one long run.
const SENTENCE_END = /[.!?]+(?=\s|$)|\n+/u;

const words = (text: string): string[] => text.toLowerCase().replaceAll('’', "'").match(WORD) ?? [];

/** Counts the features of some texts (answers or held-out passages) pooled together. */
export function styleProfile(texts: readonly string[]): StyleProfile {
  const profile: StyleProfile = {
    functionWords: new Array<number>(FUNCTION_WORDS.length).fill(0),
    sentenceLengths: new Array<number>(SENTENCE_BINS.length + 1).fill(0),
    wordLengths: new Array<number>(WORD_LENGTH_BINS).fill(0),
    punctuation: new Array<number>(PUNCTUATION.length + 1).fill(0),
    words: 0,
  };
  for (const text of texts) {
    for (const sentence of text.split(SENTENCE_END)) {
      const ws = words(sentence);
      if (ws.length === 0) continue;
      const bin = SENTENCE_BINS.findIndex((upper) => ws.length <= upper);
      profile.sentenceLengths[bin === -1 ? SENTENCE_BINS.length : bin]! += 1;
    }
    for (const w of words(text)) {
      profile.words += 1;
      const fw = functionWordIndex.get(w);
      if (fw !== undefined) profile.functionWords[fw]! += 1;
      const letters = [...w.replaceAll("'", '')].length;
      profile.wordLengths[Math.min(letters, WORD_LENGTH_BINS) - 1]! += 1;
    }
    for (const ch of text) {
      // Typographic quotes and dashes count as their plain forms: a writer's habit, not their keyboard's.
      const mark =
        ch === '“' || ch === '”' ? '"' : ch === '‘' || ch === '’' ? "'" : ch === '–' || ch === '—' ? '-' : ch;
      const i = punctuationIndex.get(mark);
      if (i !== undefined) profile.punctuation[i]! += 1;
    }
  }
  profile.punctuation[PUNCTUATION.length] = profile.words;
  return profile;
}

/**
 * Jensen–Shannon divergence of two count vectors (normalised here), base-2 logarithms so that it lies in
 * 0..1. Both empty: 0; only one empty: 1.
 */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new Error(`distributions differ in length: ${p.length} vs ${q.length}`);
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  if (sp === 0 && sq === 0) return 0;
  if (sp === 0 || sq === 0) return 1;
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    const qi = q[i]! / sq;
    const m = (pi + qi) / 2;
    if (pi > 0) d += 0.5 * pi * Math.log2(pi / m);
    if (qi > 0) d += 0.5 * qi * Math.log2(qi / m);
  }
  // Rounding can leave a hair outside 0..1.
  return Math.min(1, Math.max(0, d));
}

/** Distance between two profiles, 0 (same habits) .. 1. */
export function profileDistance(a: StyleProfile, b: StyleProfile): StyleDistance {
  const parts = {
    functionWords: jensenShannon(a.functionWords, b.functionWords),
    sentenceLengths: jensenShannon(a.sentenceLengths, b.sentenceLengths),
    wordLengths: jensenShannon(a.wordLengths, b.wordLengths),
    punctuation:
      // Without any word on one side there is nothing to compare: as far apart as can be.
      a.words === 0 || b.words === 0
        ? a.words === b.words
          ? 0
          : 1
        : jensenShannon(a.punctuation, b.punctuation),
  };
  const distance = (parts.functionWords + parts.sentenceLengths + parts.wordLengths + parts.punctuation) / 4;
  return { distance, ...parts };
}

/** Stylometric distance of `answers` to the author's `reference` texts, 0..1. */
export function styleDistance(answers: readonly string[], reference: readonly string[]): StyleDistance {
  return profileDistance(styleProfile(answers), styleProfile(reference));
}
