// Stage 2, retrieve: search with the understood question, fall back to the request's own filters when the
// model's reading matches nothing, and rerank; kept apart from the understanding so the Retrieve RPC and
// generation run the same search.
import { failedPrecondition } from '@llmtwin/runtime/errors';
import type { UnderstoodQuery } from './query-understander.js';
import type { ValidRequest } from './rag-request.js';
import type { Reranker } from './reranker.port.js';
import { retrieve, type Passage, type RetrievalFilters, type SearchFn } from './retrieve.js';

/** Candidates the reranker sees (or top_k, when larger). */
export const RERANK_CANDIDATES = 20;

export interface RetrievalResult {
  passages: Passage[];
  expandedQueries: string[];
  filters: RetrievalFilters;
}

export class PassageRetriever {
  constructor(
    private readonly search: SearchFn,
    private readonly reranker?: Reranker,
  ) {}

  /** Fails before any model call when the request asks for a reranker that is not configured. */
  checkRerank(valid: ValidRequest): void {
    if (valid.rerank && !this.reranker) {
      throw failedPrecondition(
        'retrieval.rerank needs a reranker and none is configured (LLMTWIN_RERANKER): ask without it',
      );
    }
  }

  async retrieve(
    valid: ValidRequest,
    understood: UnderstoodQuery,
    signal?: AbortSignal,
  ): Promise<RetrievalResult> {
    const { expandedQueries, filters } = understood;
    const depth = valid.rerank ? Math.max(valid.topK, RERANK_CANDIDATES) : valid.topK;
    const queries = [valid.query, ...expandedQueries];
    let passages = await retrieve({ queries, filters, topK: depth }, this.search, signal);
    let used = filters;
    if (passages.length === 0 && filters !== valid.filters) {
      // The model read a filter into the question that matches nothing: answer from the unfiltered search
      // rather than from no passages at all.
      passages = await retrieve({ queries, filters: valid.filters, topK: depth }, this.search, signal);
      used = valid.filters;
    }
    if (valid.rerank && passages.length > 1) {
      const scores = await this.reranker!.rerank(
        valid.query,
        passages.map((p) => p.text),
        signal,
      );
      passages = passages
        .map((p, i) => ({ ...p, score: scores[i] ?? Number.NEGATIVE_INFINITY }))
        .sort((a, b) => b.score - a.score);
    }
    return { passages: passages.slice(0, valid.topK), expandedQueries, filters: used };
  }
}
