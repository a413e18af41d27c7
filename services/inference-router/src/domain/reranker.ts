// Placeholder replaced by the reranker implementation.
export interface Reranker {
  rerank(query: string, texts: string[], signal?: AbortSignal): Promise<number[]>;
}
