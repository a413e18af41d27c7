// The target model's tokenizer, as the dataset builder needs it: passage bounds and token statistics are in
// its tokens. The adapter (adapters/gguf-tokenizer.ts) loads the real one from the model's GGUF file; the
// word-based estimate below is used only when no tokenizer is configured, and says so in stats.tokenizer.

export interface Tokenizer {
  /** What stats.tokenizer records: the tokenizer's model, or the estimate's name. */
  readonly name: string;
  /** Tokens of the text alone, without special tokens. */
  count(text: string): number;
}

export const WORD_ESTIMATE_NAME = 'words-estimate/1';

/**
 * 1.3 tokens per word (letters/digits run) plus one per other visible character: close to what English BPE
 * vocabularies such as SmolLM2's give for prose, and it errs high for code. Not a tokenizer.
 */
export const wordEstimateTokenizer: Tokenizer = {
  name: WORD_ESTIMATE_NAME,
  count(text: string): number {
    const wordCount = (text.match(/[\p{L}\p{N}]+/gu) ?? []).length;
    const symbols = (text.match(/[^\p{L}\p{N}\s]/gu) ?? []).length;
    return Math.round(wordCount * 1.3) + symbols;
  },
};
