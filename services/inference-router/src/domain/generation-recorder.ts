// Stage 5, record: every generation leaves one monitoring record (and an in-flight count and an alert sample),
// finished or failed or abandoned by its client; the record is opened before any work so that a failure at any
// stage is still written down.
import { trace } from '@opentelemetry/api';
import { DomainError } from '@llmtwin/runtime/errors';
import type { Logger } from 'pino';
import type { AnswerProgress } from './answer-generator.js';
import { isAbort } from './cancellation.js';
import type { Citation, GenerationResult } from './generation-events.js';
import { GenerationStore, type GenerationRecord } from './generations.js';
import type { AlertMonitor } from './monitoring/alerts.js';
import { trackInflight } from './monitoring/genai-telemetry.js';
import type { RetrievalResult } from './passage-retriever.js';
import type { ValidRequest } from './rag-request.js';
import { approxTokens, groupByDocument, type Passage, type RetrievalFilters } from './retrieve.js';

export interface GenerationRecorderDeps {
  store: GenerationStore;
  logger: Logger;
  alerts?: AlertMonitor;
}

export interface GenerationIdentity {
  generationId: string;
  model: string;
  /** The author's model version that answers ('' for the stock model). */
  modelVersion: string;
  modelVersionId: string;
  promptTemplateVersion: string;
  /** performance.now() when the request arrived. */
  started: number;
}

export class GenerationRecorder {
  constructor(private readonly deps: GenerationRecorderDeps) {}

  /** Starts the record (and the in-flight count) of one generation. */
  open(valid: ValidRequest, identity: GenerationIdentity): GenerationRecording {
    return new GenerationRecording(this.deps, valid, identity);
  }
}

/** One generation's record while it runs: complete() it, or fail() it; close() it either way. */
export class GenerationRecording {
  private readonly record: GenerationRecord;
  private readonly started: number;
  private readonly done: () => void;

  constructor(
    private readonly deps: GenerationRecorderDeps,
    valid: ValidRequest,
    identity: GenerationIdentity,
  ) {
    this.started = identity.started;
    this.record = {
      _id: identity.generationId,
      authorId: valid.filters.authorId,
      query: valid.query,
      expandedQueries: [],
      filters: storedFilters(valid.filters),
      retrieved: [],
      promptTemplateVersion: identity.promptTemplateVersion,
      model: identity.model,
      modelVersion: identity.modelVersion,
      modelVersionId: identity.modelVersionId,
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
    this.done = trackInflight({ 'gen_ai.request.model': identity.model });
  }

  /** What the retrieval found and which passages went into the context. */
  retrieved(retrieval: RetrievalResult, context: readonly Passage[]): void {
    this.record.expandedQueries = retrieval.expandedQueries;
    this.record.filters = storedFilters(retrieval.filters);
    // Which [n] of the answer each context chunk is cited under (its document's number).
    const citationOf = new Map(groupByDocument(context).map((s, i) => [s.documentId, i + 1]));
    this.record.retrieved = context.map((p) => ({
      citation: citationOf.get(p.documentId) ?? 0,
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

  /** Stores the finished generation and returns its result. */
  async complete(
    progress: AnswerProgress,
    citations: Citation[],
    extractive: boolean,
  ): Promise<GenerationResult> {
    const record = this.record;
    const result: GenerationResult = {
      generationId: record._id,
      answer: progress.answer,
      citations,
      model: record.model,
      modelVersion: record.modelVersion ?? '',
      modelVersionId: record.modelVersionId ?? '',
      promptTemplateVersion: record.promptTemplateVersion,
      usage: {
        promptTokens: progress.promptTokens,
        completionTokens: progress.completionTokens,
        timeToFirstTokenMs: (progress.firstTokenAt ?? performance.now()) - this.started,
        totalLatencyMs: performance.now() - this.started,
      },
      finishReason: progress.finishReason,
      extractive: extractive || progress.fallback !== undefined,
      ...(progress.fallback ? { fallback: progress.fallback, modelAnswer: progress.modelAnswer } : {}),
      ...(progress.citationsAttributed ? { citationsAttributed: true } : {}),
    };
    Object.assign(record, {
      answer: progress.answer,
      finishReason: progress.finishReason,
      ...(progress.fallback ? { fallback: progress.fallback, modelAnswer: progress.modelAnswer } : {}),
      ...(progress.citationsAttributed ? { citationsAttributed: true } : {}),
      promptTokens: progress.promptTokens,
      completionTokens: progress.completionTokens,
      timeToFirstTokenMs: result.usage.timeToFirstTokenMs,
      totalLatencyMs: result.usage.totalLatencyMs,
    });
    // Saved before `done` is sent: a client that saw the end of its answer can find the record at once (the
    // router's store writes in batches, and its reads write what is queued first: batched-generation-store.ts).
    await this.deps.store.save(record);
    this.deps.alerts?.observe(result.usage.totalLatencyMs, false);
    return result;
  }

  /** Ends the in-flight count; called once the generation ends, however it ends. */
  close(): void {
    this.done();
  }

  /** Whether complete() stored the generation; otherwise fail() must. */
  get completed(): boolean {
    return this.record.finishReason !== 'error';
  }

  /** Stores the generation as failed, or as cancelled when there is no `failure` or it was the abort. */
  async fail(failure: unknown, progress: AnswerProgress, signal?: AbortSignal): Promise<void> {
    const cancelled = failure === undefined || isAbort(failure, signal);
    if (!cancelled && !(failure instanceof DomainError && failure.kind === 'invalid-argument')) {
      this.deps.alerts?.observe(performance.now() - this.started, true);
    }
    await this.saveFailed(failure ?? new Error('cancelled by the client'), progress);
  }

  private async saveFailed(err: unknown, progress: AnswerProgress): Promise<void> {
    const record = this.record;
    Object.assign(record, {
      answer: progress.answer,
      finishReason: 'error',
      error: err instanceof Error ? err.message : String(err),
      promptTokens: progress.promptTokens,
      completionTokens: approxTokens(progress.answer),
      timeToFirstTokenMs: progress.firstTokenAt !== undefined ? progress.firstTokenAt - this.started : 0,
      totalLatencyMs: performance.now() - this.started,
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

function currentTraceId(): string {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && ctx.traceId !== '00000000000000000000000000000000' ? ctx.traceId : '';
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
