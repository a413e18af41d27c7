// Extractive answering, for when no language model is configured: the twin quotes the sentences of its top
// passages that share the most terms with the query, in their original order, each with its citation number.
// It says what it is, so that nobody mistakes quotes for generated prose.
import { groupByDocument, type Passage } from './retrieve.js';

export const EXTRACTIVE_MODEL = 'extractive';
export const EXTRACTIVE_TEMPLATE_VERSION = 'extractive-v1';
export const MAX_SENTENCES = 4;
/** Longer "sentences" are usually lists or code flattened into one line: quote a prefix. */
const MAX_SENTENCE_CHARS = 400;

// Words that carry no topic: without this, "what is the ..." would match every sentence.
const STOPWORDS = new Set(
  (
    'a about above after again all also am an and any are as at be because been before being below between both ' +
    'but by can could did do does doing down during each few for from further had has have having he her here ' +
    'hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or ' +
    'other our ours out over own same she should so some such than that the their theirs them then there these ' +
    'they this those through to too under until up very was we were what when where which while who whom why ' +
    'will with would you your yours tell explain describe says say think thinks write wrote written author ' +
    'does did get got make made one ones way ways thing things use used using like much many'
  ).split(' '),
);

/** A light suffix-stripping stem: enough for "autoencoders" to meet "autoencoder", "learning" to meet "learn". */
export function stem(word: string): string {
  const w = word.toLowerCase();
  for (const suffix of ['ies', 'ing', 'ed', 'es', 's']) {
    if (w.length > suffix.length + 3 && w.endsWith(suffix)) {
      const base = w.slice(0, -suffix.length);
      return suffix === 'ies' ? `${base}y` : base;
    }
  }
  return w;
}

export function terms(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? [])
    .map((w) => w.replace(/'s$/, ''))
    .filter((w) => w.length > 1 && !STOPWORDS.has(w))
    .map(stem);
}

/** Splits prose into sentences at ., ! or ? followed by space, and at line breaks (headings, list items). */
export function splitSentences(text: string): string[] {
  return text
    .split(/\n+/)
    .flatMap((line) => line.split(/(?<=[.!?]["'”’)\]]?)\s+(?=["'“‘([]?[\p{Lu}\p{N}])/u))
    .map((s) =>
      s
        .replace(/\s+/g, ' ')
        .replace(/^[#>*\-\s]+/, '')
        .trim(),
    )
    .filter((s) => s.length >= 20 && /\p{L}/u.test(s));
}

interface Candidate {
  passage: number;
  position: number;
  text: string;
  score: number;
}

export interface ExtractiveQuote {
  /** 1-based citation number: its document's, as the citations number them. */
  citation: number;
  text: string;
}

/**
 * Picks up to `max` sentences: scored by the query terms they contain (rarer terms weigh more, idf over the
 * candidate sentences), with a small preference for higher-ranked passages; then put back in reading order
 * (citation number, then passage rank, then position), so that quotes of one document stand together. When no sentence shares a term, the top passage's opening is quoted, since
 * the search still ranked it first.
 */
export function selectQuotes(
  query: string,
  passages: readonly Passage[],
  max = MAX_SENTENCES,
): ExtractiveQuote[] {
  const queryTerms = [...new Set(terms(query))];
  const candidates: Candidate[] = [];
  // Overlapping chunks of one page hold the same sentences: each is quoted once, from its best passage.
  const seen = new Set<string>();
  passages.forEach((p, passage) =>
    splitSentences(p.text).forEach((text, position) => {
      if (seen.has(text)) return;
      seen.add(text);
      candidates.push({ passage, position, text: clip(text), score: 0 });
    }),
  );
  if (candidates.length === 0) return [];
  const sentenceTerms = candidates.map((c) => new Set(terms(c.text)));
  const idf = new Map(
    queryTerms.map((t) => {
      const df = sentenceTerms.filter((s) => s.has(t)).length;
      return [t, Math.log(1 + candidates.length / (1 + df))];
    }),
  );
  candidates.forEach((c, i) => {
    const matched = queryTerms.filter((t) => sentenceTerms[i]!.has(t));
    const overlap = matched.reduce((sum, t) => sum + idf.get(t)!, 0);
    c.score = overlap > 0 ? overlap + 0.1 / (1 + c.passage) : 0;
  });
  const ranked = candidates
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || a.passage - b.passage || a.position - b.position);
  let chosen = ranked.slice(0, max);
  if (chosen.length === 0) chosen = candidates.filter((c) => c.passage === 0).slice(0, 2);
  const numberOf = new Map(groupByDocument(passages).map((s, i) => [s.documentId, i + 1]));
  const citation = (c: Candidate) => numberOf.get(passages[c.passage]!.documentId)!;
  return chosen
    .sort((a, b) => citation(a) - citation(b) || a.passage - b.passage || a.position - b.position)
    .map((c) => ({ citation: citation(c), text: c.text }));
}

function clip(sentence: string): string {
  if (sentence.length <= MAX_SENTENCE_CHARS) return sentence;
  const cut = sentence.slice(0, MAX_SENTENCE_CHARS);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), MAX_SENTENCE_CHARS / 2))}…`;
}

export function extractiveIntro(authorName: string): string {
  return (
    `No language model is configured, so this is an extractive answer: the sentences below are quoted ` +
    `from ${authorName}'s own writing.`
  );
}

export const NOTHING_FOUND = (authorName: string) =>
  `No language model is configured, and nothing in ${authorName}'s indexed writing matches this question.`;

/**
 * The answer as the pieces it streams in: the intro line, then one quoted sentence per piece, each ending
 * with its citation. Joined, the pieces are the whole answer.
 */
export function extractiveAnswer(
  query: string,
  passages: readonly Passage[],
  authorName: string,
  intro: string = extractiveIntro(authorName),
): string[] {
  const quotes = selectQuotes(query, passages);
  if (quotes.length === 0) return [NOTHING_FOUND(authorName)];
  return [intro, ...quotes.map((q) => `\n\n“${q.text}” [${q.citation}]`)];
}

/** The first line of an answer whose model text was withdrawn for quotes: says why, and what follows. */
export function fallbackIntro(reason: 'repetition' | 'no_citations', authorName: string): string {
  const why =
    reason === 'repetition'
      ? "The model's answer began to repeat itself"
      : "The model's answer cited none of the sources";
  return `${why}, so it is not shown: the sentences below are quoted from ${authorName}'s own writing.`;
}
