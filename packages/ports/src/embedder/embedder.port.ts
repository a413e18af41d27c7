/**
 * Turns text into dense vectors. Two adapters: an ONNX model in process (the embedded default) and a
 * remote endpoint (text-embeddings-inference or any OpenAI-compatible embeddings API).
 */
export type InputType = 'query' | 'passage';

export interface Tokenization {
  /** Token ids of the text alone: no special tokens, no query/passage prefix, not truncated. */
  readonly ids: readonly number[];
  /**
   * Character span [start, end) of each token in the original text, so a chunker can cut the text at
   * token boundaries. Absent where the adapter cannot align tokens to characters.
   */
  readonly offsets?: readonly (readonly [number, number])[];
}

export interface Embedder {
  /** Identifies the vector space: vectors from different models must never share a collection. */
  readonly model: string;
  readonly dimensions: number;
  /** Most tokens the model reads per input, special tokens and prefix included; the rest is cut off. */
  readonly maxTokens: number;
  /** Vectors are unit length, so cosine similarity is a dot product. */
  embed(texts: readonly string[], inputType: InputType, signal?: AbortSignal): Promise<Float32Array[]>;
  /**
   * Tokens the model would read for this text before truncation, special tokens and the prefix of
   * `inputType` included: a chunk fits when this is at most `maxTokens`.
   */
  countTokens(text: string, inputType?: InputType): number;
  /** Tokens of the text alone; `countTokens(t) - tokenize(t).ids.length` is the fixed per-input overhead. */
  tokenize(text: string): Tokenization;
  /** Resolves when the embedder can serve (model loaded, endpoint answering); rejects with why not. */
  ping(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
