// The evaluation's with-RAG answers read the author's passages from the inference router's Retrieve RPC: the
// same hybrid search the router answers with, so a with-RAG score predicts what served answers see. No query
// expansion, self-query or rerank: those call an LLM, and the evaluation's inputs should not drift with one.
import type { Client } from '@connectrpc/connect';
import type { inferencev1 } from '@llmtwin/contracts';
import type { PassageRetriever, RetrievedPassage } from '../domain/evaluation/model-runner.port.js';

export class ConnectRetriever implements PassageRetriever {
  constructor(
    private readonly router: () => Client<typeof inferencev1.InferenceService>,
    private readonly topK: number,
  ) {}

  async retrieve(query: string, authorId: string, signal: AbortSignal): Promise<RetrievedPassage[]> {
    const res = await this.router().retrieve(
      { query, authorId, retrieval: { topK: this.topK, expandQueries: 0, selfQuery: false, rerank: false } },
      { signal },
    );
    return res.chunks.map((c) => ({ title: c.title, url: c.url, text: c.text }));
  }
}
