// One generation from request to record: validate, understand the query (expansion, self-query), retrieve,
// rerank, fit the context to the model's budget, answer with the model (or extractively when none is
// configured), and store the monitoring record. Written as a stream of events so that the unary and the
// streaming RPC share every step; the unary one simply joins the deltas.
import { trace } from '@opentelemetry/api';
import {
  DomainError,
  invalidArgument,
  notFound,
  failedPrecondition,
  unavailable,
} from '@llmtwin/runtime/errors';
import type { Logger } from 'pino';
import { LlmError, type ChatMessage, type ChatRequest, type LlmBackend } from './llm.port.js';
import type { AlertMonitor } from './monitoring/alerts.js';
import { ModelCallObservation, trackInflight } from './monitoring/genai-telemetry.js';
import { EXTRACTIVE_MODEL, EXTRACTIVE_TEMPLATE_VERSION, extractiveAnswer } from './extractive.js';
import { NO_RAG_TEMPLATE, answerTemplate, type AnswerTemplate } from './prompts.js';
import { expandQuery, mergeFilters, selfQuery } from './query-understanding.js';
import type { Reranker } from './reranker.port.js';
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
export const MAX_HISTORY_MESSAGES = 50;
export const DEFAULT_MAX_TOKENS = 512;
export const MAX_MAX_TOKENS = 8_192;
/** Candidates the reranker sees (or top_k, when larger). */
export const RERANK_CANDIDATES = 20;
/** Tokens kept free in the model's window for the template's own words. */
const TEMPLATE_OVERHEAD_TOKENS = 200;
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
  selfQuery?: boolean;
  rerank?: boolean;
  /** Empty for the default model. */
  model?: string;
  disableRag?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  history?: ChatMessage[];
}

export interface ValidRequest {
  query: string;
  filters: RetrievalFilters;
  topK: number;
  expand: number;
  selfQuery: boolean;
  rerank: boolean;
  history: ChatMessage[];
}

export interface ModelInfo {
  id: string;
  backend: string;
  endpoints: string[];
  healthy: boolean;
}

/** The models the router can call: the backend pools by model id (pool.ts's ModelRouter). */
export interface LlmResolver {
  /** The backend for `model`, or the default model's when empty; throws not-found for an unknown model. */
  resolve(model?: string): LlmBackend;
  models(): ModelInfo[];
  /** False when no model is configured at all (then the twin answers extractively). */
  hasModels(): boolean;
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

export interface GenerationStart {
  generationId: string;
  model: string;
  promptTemplateVersion: string;
  citations: Citation[];
}

export type GenerationEvent = { started: GenerationStart } | { delta: string } | { done: GenerationResult };

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
  /** The language models; without any the twin answers extractively. */
  llm?: LlmResolver;
  reranker?: Reranker;
  alerts?: AlertMonitor;
  /** The author's display name for the prompt; defaults to the id. */
  authorName?: (authorId: string, signal?: AbortSignal) => Promise<string>;
  /** Answer template version to use (default: the newest). */
  promptTemplate?: string;
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
  const history = req.history ?? [];
  if (history.length > MAX_HISTORY_MESSAGES) {
    throw invalidArgument(
      `history has more than ${MAX_HISTORY_MESSAGES} messages: send the recent turns only`,
      [{ field: 'history', message: `at most ${MAX_HISTORY_MESSAGES}` }],
    );
  }
  history.forEach((m, i) => {
    if (!['system', 'user', 'assistant'].includes(m.role)) {
      throw invalidArgument(`history[${i}].role must be "system", "user" or "assistant", not "${m.role}"`, [
        { field: `history[${i}].role`, message: 'system | user | assistant' },
      ]);
    }
  });
  const historyChars = history.reduce((n, m) => n + m.content.length, 0);
  if (historyChars > 8 * MAX_QUERY_CHARS) {
    throw invalidArgument(
      `history is longer than ${8 * MAX_QUERY_CHARS} characters: send the recent turns only`,
      [{ field: 'history', message: 'too long' }],
    );
  }
  if (req.maxTokens !== undefined && req.maxTokens !== 0) {
    if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1 || req.maxTokens > MAX_MAX_TOKENS) {
      throw invalidArgument(
        `generation.max_tokens must be between 1 and ${MAX_MAX_TOKENS} (0 for the default)`,
        [{ field: 'generation.max_tokens', message: `1..${MAX_MAX_TOKENS}` }],
      );
    }
  }
  if (req.temperature !== undefined && !(req.temperature >= 0 && req.temperature <= 2)) {
    throw invalidArgument('generation.temperature must be between 0 and 2', [
      { field: 'generation.temperature', message: '0..2' },
    ]);
  }
  if (req.topP !== undefined && !(req.topP >= 0 && req.topP <= 1)) {
    throw invalidArgument('generation.top_p must be between 0 and 1 (0 for the default)', [
      { field: 'generation.top_p', message: '0..1' },
    ]);
  }
  if ((req.stop?.length ?? 0) > 4) {
    throw invalidArgument('generation.stop takes at most 4 sequences', [
      { field: 'generation.stop', message: 'at most 4' },
    ]);
  }
  return {
    query,
    topK,
    expand,
    selfQuery: req.selfQuery ?? false,
    rerank: req.rerank ?? false,
    history: history.map((m) => ({ role: m.role, content: m.content })),
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

/** LlmError (the port's) → DomainError (the RPC layer's), with a message the caller can act on. */
export function toDomainError(err: unknown): unknown {
  if (!(err instanceof LlmError)) return err;
  switch (err.kind) {
    case 'unavailable':
      return unavailable(`no model backend could answer: ${err.message}`, err);
    case 'timeout':
      return new DomainError(
        'deadline-exceeded',
        `the model backend did not answer in time: ${err.message}`,
        {
          cause: err,
        },
      );
    case 'rejected':
      return new DomainError('failed-precondition', `the model backend refused the request: ${err.message}`, {
        cause: err,
      });
    case 'interrupted':
      return unavailable(`the model backend failed in the middle of the answer: ${err.message}`, err);
  }
}

const isAbort = (err: unknown, signal?: AbortSignal) =>
  signal?.aborted === true || (err instanceof Error && err.name === 'AbortError');

/** What of the request needs a language model before retrieval, for the error when none is configured. */
const understandingNeeds = (valid: ValidRequest): string | undefined =>
  valid.expand > 0 || valid.selfQuery ? 'query expansion and self-query' : undefined;

export class RagService {
  private readonly budget: number;
  private readonly template: AnswerTemplate;
  constructor(private readonly deps: RagDeps) {
    this.budget = deps.contextBudgetTokens ?? DEFAULT_CONTEXT_BUDGET_TOKENS;
    this.template = answerTemplate(deps.promptTemplate);
  }

  async retrieve(req: RagRequest, signal?: AbortSignal): Promise<RetrievalResult> {
    const valid = validateRequest(req);
    const needs = understandingNeeds(valid);
    const llm = needs ? this.llmFor(req.model, needs) : undefined;
    return this.retrieveValid(valid, llm, signal);
  }

  /** The backend for a request, or undefined when the twin answers extractively. */
  private llmFor(model: string | undefined, needFor?: string): LlmBackend | undefined {
    const llm = this.deps.llm;
    if (model === EXTRACTIVE_MODEL || !llm?.hasModels()) {
      if (model && model !== EXTRACTIVE_MODEL) {
        throw notFound(`model ${model} is not configured: ListModels lists the models this router serves`);
      }
      if (needFor) {
        throw failedPrecondition(
          `${needFor} need a language model and none is configured (LLMTWIN_LLM_BACKENDS): ask without them`,
        );
      }
      return undefined;
    }
    return llm.resolve(model || undefined);
  }

  private async retrieveValid(
    valid: ValidRequest,
    llm: LlmBackend | undefined,
    signal?: AbortSignal,
    generationId = '',
  ): Promise<RetrievalResult> {
    if (valid.rerank && !this.deps.reranker) {
      throw failedPrecondition(
        'retrieval.rerank needs a reranker and none is configured (LLMTWIN_RERANKER): ask without it',
      );
    }
    const [expandedQueries, extracted] = await Promise.all([
      llm && valid.expand > 0
        ? this.understand(
            'expansion',
            llm,
            generationId,
            signal,
            () => expandQuery(llm, valid.query, valid.expand, signal),
            [],
          )
        : Promise.resolve([] as string[]),
      llm && valid.selfQuery
        ? this.understand(
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
    const depth = valid.rerank ? Math.max(valid.topK, RERANK_CANDIDATES) : valid.topK;
    const queries = [valid.query, ...expandedQueries];
    let passages = await retrieve({ queries, filters, topK: depth }, this.deps.search, signal);
    let used = filters;
    if (passages.length === 0 && filters !== valid.filters) {
      // The model read a filter into the question that matches nothing: answer from the unfiltered search
      // rather than from no passages at all.
      passages = await retrieve({ queries, filters: valid.filters, topK: depth }, this.deps.search, signal);
      used = valid.filters;
    }
    if (valid.rerank && passages.length > 1) {
      const scores = await this.deps.reranker!.rerank(
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

  /** Runs one query-understanding call; its failure costs the request only that refinement. */
  private async understand<T>(
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
      this.deps.logger.warn(
        { err, generationId, model: llm.model, purpose },
        `${purpose} failed; answering without it`,
      );
      return fallback;
    }
  }

  models(): ModelInfo[] {
    const configured = this.deps.llm?.hasModels() ? this.deps.llm.models() : [];
    return [...configured, { id: EXTRACTIVE_MODEL, backend: 'local', endpoints: [], healthy: true }];
  }

  async *generate(req: RagRequest, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    const started = performance.now();
    const valid = validateRequest(req);
    const llm = this.llmFor(req.model, understandingNeeds(valid));
    if (!llm && req.disableRag) {
      throw failedPrecondition(
        'disable_rag needs a language model and none is configured: without one the twin can only quote its passages',
      );
    }
    const id = newGenerationId();
    const model = llm?.model ?? EXTRACTIVE_MODEL;
    const record: GenerationRecord = {
      _id: id,
      authorId: valid.filters.authorId,
      query: valid.query,
      expandedQueries: [],
      filters: storedFilters(valid.filters),
      retrieved: [],
      promptTemplateVersion: llm
        ? req.disableRag
          ? NO_RAG_TEMPLATE.version
          : this.template.version
        : EXTRACTIVE_TEMPLATE_VERSION,
      model,
      promptTokens: 0,
      completionTokens: 0,
      timeToFirstTokenMs: 0,
      totalLatencyMs: 0,
      answer: '',
      finishReason: 'error',
      error: '',
      traceId: currentTraceId(),
      createdAt: Date.now(),
    };
    const done = trackInflight({ 'gen_ai.request.model': model });
    const state = { answer: '', firstTokenAt: undefined as number | undefined };
    const maxTokens = req.maxTokens || DEFAULT_MAX_TOKENS;
    let failure: unknown;
    try {
      let context: Passage[] = [];
      if (!req.disableRag) {
        const retrieval = await this.retrieveValid(valid, llm, signal, id);
        record.expandedQueries = retrieval.expandedQueries;
        record.filters = storedFilters(retrieval.filters);
        context = assembleContext(retrieval.passages, this.contextBudget(llm, valid, maxTokens));
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
      }
      const citations: Citation[] = context.map((p, i) => ({
        index: i + 1,
        documentId: p.documentId,
        chunkId: p.chunkId,
        title: p.title,
        url: p.url,
        ...(p.publishedAt !== undefined ? { publishedAt: p.publishedAt } : {}),
        score: p.score,
      }));
      yield {
        started: { generationId: id, model, promptTemplateVersion: record.promptTemplateVersion, citations },
      };
      let finishReason: 'stop' | 'length' = 'stop';
      if (llm) {
        const author = await this.authorName(valid.filters.authorId, signal);
        const template = req.disableRag ? NO_RAG_TEMPLATE : this.template;
        const request: ChatRequest = {
          messages: template.render({
            query: valid.query,
            author,
            passages: context,
            history: valid.history,
          }),
          maxTokens,
          ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          ...(req.topP ? { topP: req.topP } : {}),
          ...(req.stop?.length ? { stop: req.stop } : {}),
        };
        const observation = new ModelCallObservation({
          model,
          kind: llm.kind,
          purpose: 'answer',
          request,
          generationId: id,
        });
        try {
          for await (const event of llm.chat(request, signal)) {
            if (event.type === 'delta') {
              if (!event.text) continue;
              observation.firstToken();
              state.firstTokenAt ??= performance.now();
              state.answer += event.text;
              yield { delta: event.text };
            } else {
              finishReason = event.finishReason;
              record.promptTokens = event.promptTokens ?? 0;
              record.completionTokens = event.completionTokens ?? 0;
            }
          }
        } catch (err) {
          observation.fail(err);
          throw toDomainError(err);
        }
        // Backends that do not count (or report 0) get the same approximation as extractive answers.
        if (!record.promptTokens)
          record.promptTokens = approxTokens(request.messages.map((m) => m.content).join('\n'));
        if (!record.completionTokens) record.completionTokens = approxTokens(state.answer);
        observation.end({
          finishReason,
          inputTokens: record.promptTokens,
          outputTokens: record.completionTokens,
          answer: state.answer,
        });
      } else {
        // Counted as if the passages had been put into a prompt, so that extractive and LLM records compare.
        record.promptTokens = approxTokens(valid.query) + approxTokens(formatContext(context));
        for (const piece of extractiveAnswer(valid.query, context, 'the author')) {
          signal?.throwIfAborted();
          state.firstTokenAt ??= performance.now();
          state.answer += piece;
          yield { delta: piece };
        }
        record.completionTokens = approxTokens(state.answer);
      }
      const result: GenerationResult = {
        generationId: id,
        answer: state.answer,
        citations,
        model,
        promptTemplateVersion: record.promptTemplateVersion,
        usage: {
          promptTokens: record.promptTokens,
          completionTokens: record.completionTokens,
          timeToFirstTokenMs: (state.firstTokenAt ?? performance.now()) - started,
          totalLatencyMs: performance.now() - started,
        },
        finishReason,
        extractive: !llm,
      };
      Object.assign(record, {
        answer: state.answer,
        finishReason,
        timeToFirstTokenMs: result.usage.timeToFirstTokenMs,
        totalLatencyMs: result.usage.totalLatencyMs,
      });
      // Stored before `done` is sent: a client that saw the end of its answer can find the record at once.
      await this.deps.store.save(record);
      this.deps.alerts?.observe(result.usage.totalLatencyMs, false);
      yield { done: result };
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      done();
      // Also reached when the consumer stops early (a streaming client that went away): no error, no `done`.
      if (record.finishReason === 'error') {
        const cancelled = failure === undefined || isAbort(failure, signal);
        if (!cancelled && !(failure instanceof DomainError && failure.kind === 'invalid-argument')) {
          this.deps.alerts?.observe(performance.now() - started, true);
        }
        await this.saveFailed(
          record,
          failure ?? new Error('cancelled by the client'),
          state.answer,
          state.firstTokenAt,
          started,
        );
      }
    }
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

  private async authorName(authorId: string, signal?: AbortSignal): Promise<string> {
    if (!this.deps.authorName) return authorId;
    try {
      return (await this.deps.authorName(authorId, signal)) || authorId;
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      return authorId;
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

function storedFilters(f: RetrievalFilters): GenerationRecord['filters'] {
  return {
    authorId: f.authorId,
    categories: f.categories,
    platforms: f.platforms,
    publishedAfter: f.publishedAfter ?? null,
    publishedBefore: f.publishedBefore ?? null,
  };
}
