/**
 * What the chunker needs from a tokenizer. The embed service's `Embedder` satisfies it structurally, so the
 * chunker counts with the embedder's own tokenizer without depending on the embed service's code.
 */
export interface TokenCounter {
  /**
   * Tokens the model reads for this text, its per-input overhead (special tokens, prefix) included: a
   * chunk fits when this is at most `maxTokens`. `countTokens('')` is therefore the overhead alone.
   */
  countTokens(text: string): number;
  /** Most tokens the model reads per input; the rest would be cut off before embedding. */
  readonly maxTokens: number;
  /** Names the tokenizer in the published policy, e.g. the embedder's model id. */
  readonly model?: string;
}

// Han characters are split one per token by BERT's basic tokenizer; other scripts split on whitespace and
// punctuation. Anything that is neither a letter, digit nor mark is counted as a token of its own.
const PIECE = /\p{Script=Han}|(?:(?!\p{Script=Han})[\p{L}\p{N}\p{M}])+|\S/gu;

/**
 * An APPROXIMATION of a BERT WordPiece count for tests and for running without a model: words and
 * punctuation as BERT's pre-tokenizer splits them, each word taken as one piece per 5 characters (real
 * vocabularies hold most common words whole, so English prose is usually over-counted, which keeps chunks
 * inside the real limit but is not guaranteed to). Production counts with the embedder itself.
 */
export function approximateWordPieceCounter(maxTokens = 256, specialTokens = 2): TokenCounter {
  return {
    maxTokens,
    model: 'approximate-wordpiece',
    countTokens(text: string): number {
      let n = specialTokens;
      for (const m of text.matchAll(PIECE)) {
        const len = [...m[0]].length;
        n += 1 + Math.floor((len - 1) / 5);
      }
      return n;
    },
  };
}
