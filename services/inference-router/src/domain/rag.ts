// One generation from request to record, as a sequence of stages: validate (rag-request.ts), understand the
// question (query-understander.ts), retrieve (passage-retriever.ts), assemble the context
// (context-assembler.ts), generate the answer (answer-generator.ts) and record it (generation-recorder.ts).
// Written as a stream of events so that the unary and the streaming RPC share every step; the unary one simply
// joins the deltas.
import { failedPrecondition, notFound } from '@llmtwin/runtime/errors';
import type { Logger } from 'pino';
import {
  AnswerGenerator,
  newAnswerProgress,
  type AnswerGeneratorDeps,
  type AnswerProgress,
} from './answer-generator.js';
import { ContextAssembler, citationsOf } from './context-assembler.js';
import { EXTRACTIVE_MODEL, EXTRACTIVE_TEMPLATE_VERSION } from './extractive.js';
import type { GenerationEvent } from './generation-events.js';
import { GenerationRecorder } from './generation-recorder.js';
import { GenerationStore, newGenerationId } from './generations.js';
import type { LlmBackend, LoraAdapter } from '@llmtwin/llm';
import type { AdapterFiles } from './adapter-files.port.js';
import type { AuthorModel, AuthorModels } from './author-models.js';
import type { LlmResolver, ModelInfo } from './llm-resolver.port.js';
import type { AlertMonitor } from './monitoring/alerts.js';
import { PassageRetriever, type RetrievalResult } from './passage-retriever.js';
import { answerTemplate } from './prompts.js';
import { QueryUnderstander } from './query-understander.js';
import { DEFAULT_MAX_TOKENS, validateRequest, type RagRequest, type ValidRequest } from './rag-request.js';
import type { Reranker } from './reranker.port.js';
import type { Passage, SearchFn } from './retrieve.js';

// The pipeline's vocabulary, where its importers have always found it.
export {
  DEFAULT_MAX_TOKENS,
  MAX_EXPANSIONS,
  MAX_HISTORY_MESSAGES,
  MAX_MAX_TOKENS,
  MAX_QUERY_CHARS,
  validateRequest,
  type RagRequest,
  type ValidRequest,
} from './rag-request.js';
export type { Citation, GenerationEvent, GenerationResult, GenerationStart } from './generation-events.js';
export type { LlmResolver, ModelInfo } from './llm-resolver.port.js';
export { RERANK_CANDIDATES, type RetrievalResult } from './passage-retriever.js';
export { DEFAULT_CONTEXT_BUDGET_TOKENS } from './context-assembler.js';
export { toDomainError } from './answer-generator.js';

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
  /** Decoding penalties, the repetition guard's span, citation attribution and the extractive fallback (answer-generator.ts). */
  answers?: Pick<AnswerGeneratorDeps, 'penalties' | 'repeatSpanWords' | 'fallback' | 'attribution'>;
  /** Each author's production model version (an adapter over the default model); none = stock answers. */
  authorModels?: AuthorModels;
  /** Makes an author's adapter ready for the backend that answers (its GGUF file for an in-process model). */
  adapterFiles?: AdapterFiles;
}

/** What of the request needs a language model before retrieval, for the error when none is configured. */
const understandingNeeds = (valid: ValidRequest): string | undefined =>
  valid.expand > 0 || valid.selfQuery ? 'query expansion and self-query' : undefined;

export class RagService {
  private readonly baseMismatchLogged = new Set<string>();
  private readonly understander: QueryUnderstander;
  private readonly retriever: PassageRetriever;
  private readonly assembler: ContextAssembler;
  private readonly answers: AnswerGenerator;
  private readonly recorder: GenerationRecorder;

  constructor(private readonly deps: RagDeps) {
    this.understander = new QueryUnderstander(deps.logger);
    this.retriever = new PassageRetriever(deps.search, deps.reranker);
    this.assembler = new ContextAssembler(deps.contextBudgetTokens);
    this.answers = new AnswerGenerator({
      ...deps.answers,
      template: answerTemplate(deps.promptTemplate),
      ...(deps.authorName ? { authorName: deps.authorName } : {}),
    });
    this.recorder = new GenerationRecorder({
      store: deps.store,
      logger: deps.logger,
      ...(deps.alerts ? { alerts: deps.alerts } : {}),
    });
  }

  async retrieve(req: RagRequest, signal?: AbortSignal): Promise<RetrievalResult> {
    const valid = validateRequest(req);
    const needs = understandingNeeds(valid);
    const llm = needs ? this.llmFor(req.model, needs) : undefined;
    return this.retrieveValid(valid, llm, signal);
  }

  models(): ModelInfo[] {
    const configured = this.deps.llm?.hasModels() ? this.deps.llm.models() : [];
    return [...configured, { id: EXTRACTIVE_MODEL, backend: 'local', endpoints: [], healthy: true }];
  }

  async *generate(req: RagRequest, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    const started = performance.now();
    const valid = validateRequest(req);
    let llm = this.llmFor(req.model, understandingNeeds(valid));
    if (!llm && req.disableRag) {
      throw failedPrecondition(
        'disable_rag needs a language model and none is configured: without one the twin can only quote its passages',
      );
    }
    // The author's fine-tuned version answers unless the request names a model (the stock one included),
    // on a model serving the checkpoint it was trained on.
    let authorModel =
      llm && !req.model ? this.deps.authorModels?.forAuthor(valid.filters.authorId) : undefined;
    if (llm && authorModel) {
      const onBase = this.modelForAdapter(llm, authorModel);
      llm = onBase ?? llm;
      if (!onBase) authorModel = undefined;
    }
    const generationId = newGenerationId();
    const model = llm?.model ?? EXTRACTIVE_MODEL;
    const promptTemplateVersion = llm
      ? this.answers.templateFor(req.disableRag).version
      : EXTRACTIVE_TEMPLATE_VERSION;
    const modelVersion = authorModel?.label ?? '';
    const modelVersionId = authorModel?.modelVersionId ?? '';
    const recording = this.recorder.open(valid, {
      generationId,
      model,
      modelVersion,
      modelVersionId,
      promptTemplateVersion,
      started,
    });
    const progress: AnswerProgress = newAnswerProgress();
    const maxTokens = req.maxTokens || DEFAULT_MAX_TOKENS;
    let failure: unknown;
    try {
      const adapter = authorModel && llm ? await this.adapterFor(authorModel, llm, signal) : undefined;
      let context: Passage[] = [];
      if (!req.disableRag) {
        const retrieval = await this.retrieveValid(valid, llm, signal, generationId);
        context = this.assembler.assemble(retrieval.passages, llm, valid, maxTokens);
        recording.retrieved(retrieval, context);
      }
      const citations = citationsOf(context);
      yield {
        started: { generationId, model, modelVersion, modelVersionId, promptTemplateVersion, citations },
      };
      // Delegated rather than re-yielded: one generator hop per delta less on the hot path.
      if (llm) {
        yield* this.answers.withModel(
          llm,
          { req, valid, context, maxTokens, generationId, ...(adapter ? { adapter } : {}) },
          progress,
          signal,
        );
        yield* this.answers.attribute(progress, context);
        const fallback = this.answers.fallbackFor(progress, valid, context);
        if (fallback) yield* this.answers.fallBack(fallback, valid, context, progress, signal);
      } else {
        yield* this.answers.extractively(valid, context, progress, signal);
      }
      yield { done: await recording.complete(progress, citations, !llm) };
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      recording.close();
      // Also reached when the consumer stops early (a streaming client that went away): no error, no `done`.
      if (!recording.completed) await recording.fail(failure, progress, signal);
    }
  }

  /**
   * The model an author's adapter applies to: the one chosen when its checkpoint is the adapter's base (or
   * either is unknown), else another model serving that base. None: the stock model answers, and the
   * mismatch is logged once per version (an adapter on the wrong base would fail or answer nonsense).
   */
  private modelForAdapter(llm: LlmBackend, authorModel: AuthorModel): LlmBackend | undefined {
    const want = authorModel.baseModel;
    if (!want || !llm.baseModel || llm.baseModel === want) return llm;
    const other = this.deps.llm?.forBase?.(want);
    if (other) return other;
    if (!this.baseMismatchLogged.has(authorModel.modelVersionId)) {
      this.baseMismatchLogged.add(authorModel.modelVersionId);
      this.deps.logger.warn(
        {
          author: authorModel.authorId,
          modelVersion: authorModel.label,
          adapterBase: want,
          model: llm.model,
          modelBase: llm.baseModel,
        },
        `the author's model version was trained on ${want}, which no configured model serves: the stock model answers (add a backend for ${want} to LLMTWIN_LLM_BACKENDS)`,
      );
    }
    return undefined;
  }

  private async adapterFor(
    authorModel: AuthorModel,
    llm: LlmBackend,
    signal?: AbortSignal,
  ): Promise<LoraAdapter> {
    if (!this.deps.adapterFiles) {
      return { id: authorModel.modelVersionId, name: authorModel.servingName };
    }
    return this.deps.adapterFiles.prepare(authorModel, llm.kind, signal);
  }

  /** Understand, then retrieve: shared by the Retrieve RPC and generation. */
  private async retrieveValid(
    valid: ValidRequest,
    llm: LlmBackend | undefined,
    signal?: AbortSignal,
    generationId = '',
  ): Promise<RetrievalResult> {
    this.retriever.checkRerank(valid);
    const understood = await this.understander.understand(valid, llm, generationId, signal);
    return this.retriever.retrieve(valid, understood, signal);
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
}
