// Stage 3, assemble: how many retrieved passages fit the model's window, and how they are cited. The budget
// is the model's, not the retriever's, so it is decided here, after retrieval and before the prompt.
import type { Citation } from './generation-events.js';
import type { LlmBackend } from '@llmtwin/llm';
import type { ValidRequest } from './rag-request.js';
import { approxTokens, assembleContext, groupByDocument, type Passage } from './retrieve.js';

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

/** Characters of a passage shown in its citation. */
export const SNIPPET_CHARS = 280;

/** A passage's opening words, cut at a word boundary. */
export function snippetOf(text: string, max = SNIPPET_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

/**
 * One citation per document, numbered as the prompt numbers them (formatContext), so [n] in the answer points
 * at citation n; each lists the document's passages that were in the context, best first. The citation's own
 * chunk id and score are its best passage's.
 */
export function citationsOf(context: readonly Passage[]): Citation[] {
  return groupByDocument(context).map((s, i) => {
    const best = s.passages[0]!;
    return {
      index: i + 1,
      documentId: s.documentId,
      chunkId: best.chunkId,
      title: s.title,
      url: s.url,
      ...(s.publishedAt !== undefined ? { publishedAt: s.publishedAt } : {}),
      score: best.score,
      passages: s.passages.map((p) => ({
        chunkId: p.chunkId,
        score: p.score,
        snippet: snippetOf(p.text),
        rank: p.rank,
      })),
    };
  });
}
