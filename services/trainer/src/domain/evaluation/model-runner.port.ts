// What the evaluation needs from a model runtime: perplexity of texts and greedy answers to prompts, for the
// base model and each adapter over it. One call loads the base once and runs every model on it (the adapter,
// adapters/python-evaluation.ts, runs `python -m llmtwin_train perplexity|generate`, docs/training.md).
import type { ChatTurn } from '../evaluator.port.js';

export type ModelRole = 'base' | 'candidate' | 'production';

export interface ModelsUnderTest {
  /** Hugging Face id or local directory of the base model. */
  baseModel: string;
  /** The base as a GGUF file, when the adapters were trained over one. */
  baseGguf?: string;
  /** PEFT adapter folders over the base, per role; base itself is always measured. */
  adapters: { candidate: string; production?: string };
}

export interface RunOptions {
  /** A folder the runner may write its inputs and logs into. */
  workDir: string;
  signal: AbortSignal;
}

export interface PerplexityScore {
  perplexity: number;
  tokens: number;
}

export interface PerplexityRunner {
  /** Perplexity of the texts (each scored on its own, pooled over tokens) under each model. */
  perplexity(
    models: ModelsUnderTest,
    texts: readonly string[],
    options: RunOptions & { maxSeqLength: number },
  ): Promise<Partial<Record<ModelRole, PerplexityScore>>>;
}

export interface GenerationPrompt {
  id: string;
  messages: ChatTurn[];
}

export interface GeneratedAnswer {
  role: ModelRole;
  id: string;
  text: string;
}

export interface AnswerGenerator {
  /** One greedy answer per prompt and model. */
  generate(
    models: ModelsUnderTest,
    prompts: readonly GenerationPrompt[],
    options: RunOptions & { maxNewTokens: number },
  ): Promise<GeneratedAnswer[]>;
}

/** A passage of the author's own writing, as the router's retrieval returns it. */
export interface RetrievedPassage {
  title: string;
  url: string;
  text: string;
}

export interface PassageRetriever {
  /** The author's passages for a query (the router's Retrieve: expansion, hybrid search, rerank). */
  retrieve(query: string, authorId: string, signal: AbortSignal): Promise<RetrievedPassage[]>;
}
