// The stream every generation is written as: `started` (with the citations), text deltas, then `done`. The
// streaming RPC forwards it as it comes; the unary one joins the deltas, so both see the same steps.

/** One passage of a cited document. */
export interface CitedPassage {
  chunkId: string;
  score: number;
  /** Its opening words. */
  snippet: string;
  /** Its rank in the whole context, 1 first. */
  rank: number;
}

/** One per document: [index] in the answer names it. chunkId and score are its best passage's. */
export interface Citation {
  index: number;
  documentId: string;
  chunkId: string;
  title: string;
  url: string;
  publishedAt?: number;
  score: number;
  /** Best first. */
  passages: CitedPassage[];
}

export interface GenerationResult {
  generationId: string;
  answer: string;
  citations: Citation[];
  model: string;
  /** The author's model version that answered, "<name>/<version>", and its id; '' for the stock model. */
  modelVersion: string;
  modelVersionId: string;
  promptTemplateVersion: string;
  usage: {
    promptTokens: number;
    completionTokens: number;
    timeToFirstTokenMs: number;
    totalLatencyMs: number;
  };
  /** 'repetition': the router's guard stopped the model's answer (repetition.ts). */
  finishReason: 'stop' | 'length' | 'error' | 'repetition';
  /** The answer quotes the passages: no model is configured, or the model's answer was withdrawn. */
  extractive: boolean;
  /** Why the model's answer was withdrawn for quotes; undefined when the answer is the model's own. */
  fallback?: AnswerFallback;
  /** The withdrawn answer, when `fallback` is set. */
  modelAnswer?: string;
  /** The model cited nothing; the router named the sources its sentences were found in (attribution.ts). */
  citationsAttributed?: boolean;
}

/** Why a model's answer is replaced by an extractive one (answer-generator.ts). */
export type AnswerFallback = 'repetition' | 'no_citations';

export interface GenerationStart {
  generationId: string;
  model: string;
  modelVersion: string;
  modelVersionId: string;
  promptTemplateVersion: string;
  citations: Citation[];
}

export type GenerationEvent = { started: GenerationStart } | { delta: string } | { done: GenerationResult };
