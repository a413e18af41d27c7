// Stage 1, understand: the model's optional reading of the question before retrieval (rewrites, filters the
// question states). Each refinement is best effort: its failure costs the request only that refinement.
import type { Logger } from 'pino';
import { isAbort } from './cancellation.js';
import type { LlmBackend } from '@llmtwin/llm';
import { expandQuery, mergeFilters, selfQuery } from './query-understanding.js';
import type { ValidRequest } from './rag-request.js';
import type { RetrievalFilters } from './retrieve.js';

export interface UnderstoodQuery {
  /** Rewrites searched beside the original question. */
  expandedQueries: string[];
  /** The request's filters, narrowed by what the question states (the same object when nothing was read). */
  filters: RetrievalFilters;
}

export class QueryUnderstander {
  constructor(private readonly logger: Logger) {}

  /** Without a model (or when the request asks for neither) the question is taken as it is. */
  async understand(
    valid: ValidRequest,
    llm: LlmBackend | undefined,
    generationId: string,
    signal?: AbortSignal,
  ): Promise<UnderstoodQuery> {
    const [expandedQueries, extracted] = await Promise.all([
      llm && valid.expand > 0
        ? this.attempt(
            'expansion',
            llm,
            generationId,
            signal,
            () => expandQuery(llm, valid.query, valid.expand, signal),
            [],
          )
        : Promise.resolve([] as string[]),
      llm && valid.selfQuery
        ? this.attempt(
            'self-query',
            llm,
            generationId,
            signal,
            () => selfQuery(llm, valid.query, signal),
            undefined,
          )
        : Promise.resolve(undefined),
    ]);
    const filters = extracted ? mergeFilters(valid.filters, extracted) : valid.filters;
    return { expandedQueries, filters };
  }

  /** Runs one query-understanding call; its failure costs the request only that refinement. */
  private async attempt<T>(
    purpose: 'expansion' | 'self-query',
    llm: LlmBackend,
    generationId: string,
    signal: AbortSignal | undefined,
    run: () => Promise<T>,
    fallback: T,
  ): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      this.logger.warn(
        { err, generationId, model: llm.model, purpose },
        `${purpose} failed; answering without it`,
      );
      return fallback;
    }
  }
}
