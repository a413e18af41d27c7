// Citations for an answer whose model wrote none. Small models often answer from the sources, nearly word for
// word, without the [n] markers the prompt asks for. Rather than withdraw such an answer, the router finds,
// sentence by sentence, the source whose words the sentence is made of, and names those sources at the end
// of the answer. A sentence counts as found in a source when most of its content words appear in it; the
// answer is credited only when at least half of its sentences are found, so that an answer that mostly
// invents gets no sources attached (it falls back to quotes instead, as before).

/** Words that carry no content: a sentence made of them matches any source. */
const STOPWORDS = new Set(
  (
    'the and for are but not you all any can had her was one our out has him his how its may new now old see ' +
    'two way who did get let put say she too use that with have this will your from they been were said each ' +
    'which their there them then than what when where why into more some such only also very just like over ' +
    'because would could should about after before being both does doing most other same these those under ' +
    'while within without between through during against again further once here off own itself themselves ' +
    'yourself myself ourselves until above below upon whom whose yes maybe'
  ).split(' '),
);

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

const contentWords = (text: string): string[] =>
  (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length >= 3 && !STOPWORDS.has(w));

/** Splits prose into sentences: after . ! ? followed by a space, and at line breaks. */
export function sentencesOf(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Which sources an uncited answer's sentences were taken from (see the module comment). */
export function attributeSources(answer: string, sources: readonly AttributionSource[]): Attribution {
  const vocabularies = sources.map((s) => ({ number: s.number, words: new Set(contentWords(s.text)) }));
  const cited = new Set<number>();
  let sentences = 0;
  let found = 0;
  for (const sentence of sentencesOf(answer)) {
    const words = [...new Set(contentWords(sentence))];
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
