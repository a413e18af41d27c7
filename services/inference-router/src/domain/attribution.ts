// Citations for an answer whose model wrote none. Small models often answer from the sources, nearly word for
// word, without the [n] markers the prompt asks for. Rather than withdraw such an answer, the router finds,
// sentence by sentence, the source whose words the sentence is made of, and names those sources at the end
// of the answer. A sentence counts as found in a source when most of its content words appear in it; the
// answer is credited only when at least half of its sentences are found, so that an answer that mostly
// invents gets no sources attached (it falls back to quotes instead, as before). Words and sentences are cut
// as the extractive answer cuts them (extractive.ts: stopwords out, light stemming).
import { splitSentences, terms } from './extractive.js';

/** Fewer content words than this: too short to say where it came from. */
const MIN_CONTENT_WORDS = 4;
/** Share of a sentence's content words that must appear in a source. */
const MIN_COVERAGE = 0.7;

export interface AttributionSource {
  /** The number the prompt gave the source (1-based). */
  number: number;
  /** Its text as the prompt showed it (every excerpt). */
  text: string;
}

export interface Attribution {
  /** The sources found, ascending; empty when the answer is not credited. */
  cited: number[];
  /** Sentences long enough to judge, and how many of them were found in a source. */
  sentences: number;
  found: number;
}

/** Which sources an uncited answer's sentences were taken from (see the module comment). */
export function attributeSources(answer: string, sources: readonly AttributionSource[]): Attribution {
  const vocabularies = sources.map((s) => ({ number: s.number, words: new Set(terms(s.text)) }));
  const cited = new Set<number>();
  let sentences = 0;
  let found = 0;
  for (const sentence of splitSentences(answer)) {
    const words = [...new Set(terms(sentence))];
    if (words.length < MIN_CONTENT_WORDS) continue;
    sentences++;
    let best: { number: number; coverage: number } | undefined;
    for (const source of vocabularies) {
      const coverage = words.filter((w) => source.words.has(w)).length / words.length;
      if (coverage >= MIN_COVERAGE && (!best || coverage > best.coverage)) {
        best = { number: source.number, coverage };
      }
    }
    if (best) {
      found++;
      cited.add(best.number);
    }
  }
  const credited = sentences > 0 && found * 2 >= sentences;
  return { cited: credited ? [...cited].sort((a, b) => a - b) : [], sentences, found };
}
