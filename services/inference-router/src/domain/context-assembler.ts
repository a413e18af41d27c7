// Stage 3, assemble: how many retrieved passages fit the model's window, and how they are cited. The budget
// is the model's, not the retriever's, so it is decided here, after retrieval and before the prompt.
import type { Citation } from './generation-events.js';
import type { LlmBackend } from '@llmtwin/llm';
import type { ValidRequest } from './rag-request.js';
import { approxTokens, assembleContext, type Passage } from './retrieve.js';

/** Tokens kept free in the model's window for the template's own words. */
const TEMPLATE_OVERHEAD_TOKENS = 200;
/** What a small model's context leaves for retrieved passages; also bounds the extractive candidates. */
export const DEFAULT_CONTEXT_BUDGET_TOKENS = 3_000;

export class ContextAssembler {
  constructor(private readonly budget: number = DEFAULT_CONTEXT_BUDGET_TOKENS) {}

  /** The passages that fit, best first. */
  assemble(
    passages: readonly Passage[],
    llm: LlmBackend | undefined,
    valid: ValidRequest,
    maxTokens: number,
  ): Passage[] {
    return assembleContext(passages, this.contextBudget(llm, valid, maxTokens));
  }

  /** The passages' share of the model's window: what is left after the answer, the question and history. */
  private contextBudget(llm: LlmBackend | undefined, valid: ValidRequest, maxTokens: number): number {
    if (!llm?.contextTokens) return this.budget;
    const fixed =
      maxTokens +
      approxTokens(valid.query) +
      valid.history.reduce((n, m) => n + approxTokens(m.content), 0) +
      TEMPLATE_OVERHEAD_TOKENS;
    return Math.max(1, Math.min(this.budget, llm.contextTokens - fixed));
  }
}

/** Numbered as the prompt numbers the passages, so [n] in the answer points at citation n. */
export function citationsOf(context: readonly Passage[]): Citation[] {
  return context.map((p, i) => ({
    index: i + 1,
    documentId: p.documentId,
    chunkId: p.chunkId,
    title: p.title,
    url: p.url,
    ...(p.publishedAt !== undefined ? { publishedAt: p.publishedAt } : {}),
    score: p.score,
  }));
}
