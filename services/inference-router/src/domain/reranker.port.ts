// Reranking as the RAG pipeline sees it; the ONNX cross-encoder in adapters/onnx-reranker.ts implements it.
export interface Reranker {
  /**
   * One relevance score per text, in the order given; higher is more relevant. Scores rank texts for this
   * query only: they are not probabilities and do not compare across queries.
   */
  rerank(query: string, texts: string[], signal?: AbortSignal): Promise<number[]>;
}
