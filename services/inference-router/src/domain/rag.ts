// One generation from request to record: validate, retrieve, answer (extractively in this slice: no LLM
// backend exists yet), and store the monitoring record. Written as a stream of events so that the unary and
// the streaming RPC share every step; the unary one simply joins the deltas.
import { trace } from '@opentelemetry/api';
import { invalidArgument, notFound, failedPrecondition } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { EXTRACTIVE_MODEL, EXTRACTIVE_TEMPLATE_VERSION, extractiveAnswer } from './extractive.js';
import { GenerationStore, newGenerationId, type GenerationRecord } from './generations.js';
import {
  approxTokens,
  assembleContext,
  formatContext,
  resolveTopK,
  retrieve,
  type Passage,
  type RetrievalFilters,
  type SearchFn,
} from './retrieve.js';

export const MAX_QUERY_CHARS = 4_000;
export const MAX_EXPANSIONS = 5;
/** What a small model's context leaves for retrieved passages; also bounds the extractive candidates. */
export const DEFAULT_CONTEXT_BUDGET_TOKENS = 3_000;

export interface RagRequest {
  query: string;
  authorId: string;
  topK?: number;
  categories?: number[];
  platforms?: number[];
  publishedAfter?: number;
  publishedBefore?: number;
  expandQueries?: number;
  /** Empty for the default model. */
  model?: string;
  disableRag?: boolean;
}

export interface ValidRequest {
  query: string;
  filters: RetrievalFilters;
  topK: number;
}

export interface Citation {
  index: number;
  documentId: string;
  chunkId: string;
  title: string;
  url: string;
  publishedAt?: number;
  score: number;
}

export interface GenerationResult {
  generationId: string;
  answer: string;
  citations: Citation[];
  model: string;
  promptTemplateVersion: string;
  usage: {
    promptTokens: number;
    completionTokens: number;
    timeToFirstTokenMs: number;
    totalLatencyMs: number;
  };
  finishReason: 'stop' | 'length' | 'error';
  extractive: boolean;
}

export type GenerationEvent = { delta: string } | { done: GenerationResult };

export interface RetrievalResult {
  passages: Passage[];
  expandedQueries: string[];
  filters: RetrievalFilters;
}

export interface RagDeps {
  search: SearchFn;
  store: GenerationStore;
  logger: Logger;
  contextBudgetTokens?: number;
}

export function validateRequest(req: RagRequest): ValidRequest {
  const query = req.query.trim();
  if (!query)
    throw invalidArgument('query is empty: ask a question', [{ field: 'query', message: 'required' }]);
  if (query.length > MAX_QUERY_CHARS) {
    throw invalidArgument(`query is longer than ${MAX_QUERY_CHARS} characters`, [
      { field: 'query', message: `at most ${MAX_QUERY_CHARS} characters` },
    ]);
  }
  if (!req.authorId.trim()) {
    throw invalidArgument('author_id is empty: say whose twin should answer', [
      { field: 'author_id', message: 'required' },
    ]);
  }
  const topK = resolveTopK(req.topK);
  const expand = req.expandQueries ?? 0;
  if (!Number.isInteger(expand) || expand < 0 || expand > MAX_EXPANSIONS) {
    throw invalidArgument(`retrieval.expand_queries must be between 0 and ${MAX_EXPANSIONS}`, [
      { field: 'retrieval.expand_queries', message: `0..${MAX_EXPANSIONS}` },
    ]);
  }
  if (
    req.publishedAfter !== undefined &&
    req.publishedBefore !== undefined &&
    req.publishedAfter >= req.publishedBefore
  ) {
    throw invalidArgument('retrieval.published_after must be before retrieval.published_before', [
      { field: 'retrieval.published_after', message: 'before published_before' },
    ]);
  }
  return {
    query,
    topK,
    filters: {
      authorId: req.authorId.trim(),
      categories: req.categories ?? [],
      platforms: req.platforms ?? [],
      ...(req.publishedAfter !== undefined ? { publishedAfter: req.publishedAfter } : {}),
      ...(req.publishedBefore !== undefined ? { publishedBefore: req.publishedBefore } : {}),
    },
  };
}

function currentTraceId(): string {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && ctx.traceId !== '00000000000000000000000000000000' ? ctx.traceId : '';
}

export class RagService {
  private readonly budget: number;
  constructor(private readonly deps: RagDeps) {
    this.budget = deps.contextBudgetTokens ?? DEFAULT_CONTEXT_BUDGET_TOKENS;
  }

  async retrieve(req: RagRequest, signal?: AbortSignal): Promise<RetrievalResult> {
    const valid = validateRequest(req);
    return this.retrieveValid(valid, signal);
  }

  private async retrieveValid(valid: ValidRequest, signal?: AbortSignal): Promise<RetrievalResult> {
    // Expansion and self-query need an LLM; until a backend is configured only the query itself is searched.
    const passages = await retrieve(
      { queries: [valid.query], filters: valid.filters, topK: valid.topK },
      this.deps.search,
      signal,
    );
    return { passages, expandedQueries: [], filters: valid.filters };
  }

  /** The models this router can answer with: only the extractive pseudo-model until backends exist. */
  models(): { id: string; backend: string; endpoints: string[]; healthy: boolean }[] {
    return [{ id: EXTRACTIVE_MODEL, backend: 'local', endpoints: [], healthy: true }];
  }

  async *generate(req: RagRequest, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    const started = performance.now();
    const valid = validateRequest(req);
    if (req.model && req.model !== EXTRACTIVE_MODEL) {
      throw notFound(`model ${req.model} is not configured: ListModels lists the models this router serves`);
    }
    if (req.disableRag) {
      throw failedPrecondition(
        'disable_rag needs a language model and none is configured: without one the twin can only quote its passages',
      );
    }
    const id = newGenerationId();
    const traceId = currentTraceId();
    const record: GenerationRecord = {
      _id: id,
      authorId: valid.filters.authorId,
      query: valid.query,
      expandedQueries: [],
      filters: {
        authorId: valid.filters.authorId,
        categories: valid.filters.categories,
        platforms: valid.filters.platforms,
        publishedAfter: valid.filters.publishedAfter ?? null,
        publishedBefore: valid.filters.publishedBefore ?? null,
      },
      retrieved: [],
      promptTemplateVersion: EXTRACTIVE_TEMPLATE_VERSION,
      model: EXTRACTIVE_MODEL,
      promptTokens: 0,
      completionTokens: 0,
      timeToFirstTokenMs: 0,
      totalLatencyMs: 0,
      answer: '',
      finishReason: 'error',
      error: '',
      traceId,
      createdAt: Date.now(),
    };
    let answer = '';
    let firstTokenAt: number | undefined;
    let failure: unknown;
    try {
      const retrieval = await this.retrieveValid(valid, signal);
      const context = assembleContext(retrieval.passages, this.budget);
      record.expandedQueries = retrieval.expandedQueries;
      record.retrieved = context.map((p) => ({
        chunkId: p.chunkId,
        documentId: p.documentId,
        score: p.score,
        title: p.title,
        url: p.url,
        publishedAt: p.publishedAt ?? null,
        category: p.category,
        platform: p.platform,
      }));
      // Counted as if the passages had been put into a prompt, so that extractive and LLM records compare.
      record.promptTokens = approxTokens(valid.query) + approxTokens(formatContext(context));
      for (const piece of extractiveAnswer(valid.query, context, 'the author')) {
        signal?.throwIfAborted();
        firstTokenAt ??= performance.now();
        answer += piece;
        yield { delta: piece };
      }
      const done: GenerationResult = {
        generationId: id,
        answer,
        citations: context.map((p, i) => ({
          index: i + 1,
          documentId: p.documentId,
          chunkId: p.chunkId,
          title: p.title,
          url: p.url,
          ...(p.publishedAt !== undefined ? { publishedAt: p.publishedAt } : {}),
          score: p.score,
        })),
        model: EXTRACTIVE_MODEL,
        promptTemplateVersion: EXTRACTIVE_TEMPLATE_VERSION,
        usage: {
          promptTokens: record.promptTokens,
          completionTokens: approxTokens(answer),
          timeToFirstTokenMs: (firstTokenAt ?? performance.now()) - started,
          totalLatencyMs: performance.now() - started,
        },
        finishReason: 'stop',
        extractive: true,
      };
      Object.assign(record, {
        answer,
        finishReason: 'stop',
        completionTokens: done.usage.completionTokens,
        timeToFirstTokenMs: done.usage.timeToFirstTokenMs,
        totalLatencyMs: done.usage.totalLatencyMs,
      });
      // Stored before `done` is sent: a client that saw the end of its answer can find the record at once.
      await this.deps.store.save(record);
      yield { done };
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      // Also reached when the consumer stops early (a streaming client that went away): no error, no `done`.
      if (record.finishReason !== 'stop') {
        await this.saveFailed(
          record,
          failure ?? new Error('cancelled by the client'),
          answer,
          firstTokenAt,
          started,
        );
      }
    }
  }

  private async saveFailed(
    record: GenerationRecord,
    err: unknown,
    answer: string,
    firstTokenAt: number | undefined,
    started: number,
  ): Promise<void> {
    Object.assign(record, {
      answer,
      finishReason: 'error',
      error: err instanceof Error ? err.message : String(err),
      completionTokens: approxTokens(answer),
      timeToFirstTokenMs: firstTokenAt !== undefined ? firstTokenAt - started : 0,
      totalLatencyMs: performance.now() - started,
    });
    // The request's signal may be the reason for the failure, so the record is written without it.
    await this.deps.store
      .save(record)
      .catch((saveErr: unknown) =>
        this.deps.logger.warn(
          { err: saveErr, generationId: record._id },
          'could not store a failed generation',
        ),
      );
  }
}
