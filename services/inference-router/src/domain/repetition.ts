// The repetition guard's detector: an answer "repeats itself" once its latest SPAN words have appeared,
// word for word, earlier in the same answer. Small models that loop repeat a sentence or a paragraph
// verbatim; a fixed span catches every loop period (a 2-word cycle and a 3-paragraph one alike) one SPAN
// past its start, while ordinary prose almost never says the same 12 words twice. Words are compared
// lowercased, without punctuation or citation markers, so that "[1]" against "[2]" does not hide a loop.
// The same detector scores the benchmark's repetition rate (bench/qa.ts), so the rate is what the guard sees.

/** Words in a repeated span: long enough that a quoted phrase or a list's shared wording does not trip it. */
export const DEFAULT_REPEAT_SPAN_WORDS = 12;

const WORD = /[\p{L}\p{N}]+/gu;

/** Feeds text as it streams; `repeated` turns true at the first word that completes a repeated span. */
export class RepetitionDetector {
  private readonly words: string[] = [];
  /** Each span seen so far (its words joined), by where it ends. */
  private readonly seen = new Set<string>();
  /** The end of the text that may be half a word, kept until the next piece completes it. */
  private partial = '';
  private found: string | undefined;

  constructor(readonly span: number = DEFAULT_REPEAT_SPAN_WORDS) {
    if (!Number.isInteger(span) || span < 2) throw new RangeError(`span must be an integer ≥ 2, not ${span}`);
  }

  /** The repeated words once found. */
  get repeatedSpan(): string | undefined {
    return this.found;
  }

  get repeated(): boolean {
    return this.found !== undefined;
  }

  /** Adds a piece of streamed text; returns whether the text so far repeats a span. */
  push(text: string): boolean {
    if (this.found) return true;
    const pending = this.partial + text;
    // A word that touches the end of the piece may go on in the next one.
    const tail = /[\p{L}\p{N}]+$/u.exec(pending);
    this.partial = tail ? tail[0] : '';
    this.add(tail ? pending.slice(0, tail.index) : pending);
    return this.repeated;
  }

  /** Ends the text (its last word is complete); returns whether it repeats a span. */
  end(): boolean {
    if (!this.found && this.partial) this.add(this.partial);
    this.partial = '';
    return this.repeated;
  }

  private add(text: string): void {
    for (const match of text.replace(/\[\d+\]/g, ' ').matchAll(WORD)) {
      this.words.push(match[0].toLowerCase());
      if (this.words.length < this.span) continue;
      const key = this.words.slice(-this.span).join(' ');
      if (this.seen.has(key)) {
        this.found = key;
        return;
      }
      this.seen.add(key);
    }
  }
}

/** Whether a whole text repeats a span of `span` words (the benchmark's repetition rate). */
export function repeatsSpan(text: string, span = DEFAULT_REPEAT_SPAN_WORDS): boolean {
  const detector = new RepetitionDetector(span);
  detector.push(text);
  return detector.end();
}

/** The citation numbers [n] an answer uses that name one of its `sources` (1..sources). */
export function citedSources(answer: string, sources: number): number[] {
  const cited = new Set<number>();
  // [1], [2, 3] and [1][2] alike.
  for (const group of answer.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) {
    for (const n of group[1]!.split(',').map((x) => Number(x.trim()))) {
      if (n >= 1 && n <= sources) cited.add(n);
    }
  }
  return [...cited].sort((a, b) => a - b);
}
