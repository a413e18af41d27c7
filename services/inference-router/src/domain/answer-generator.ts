// Stage 4, generate: the answer's text, from the model (prompt rendered from the template, streamed, observed)
// or, without one, quoted from the passages. Both write what they produced into one AnswerProgress, which the
// record reads whether the answer finishes or fails half way.
import { DomainError, unavailable } from '@llmtwin/runtime/errors';
import { attributeSources } from './attribution.js';
import { isAbort } from './cancellation.js';
import { extractiveAnswer, fallbackIntro, selectQuotes } from './extractive.js';
import type { AnswerFallback } from './generation-events.js';
import {
  LlmError,
  type ChatRequest,
  type DecodingPenalties,
  type LlmBackend,
  type LoraAdapter,
} from '@llmtwin/llm';
import { ModelCallObservation } from './monitoring/genai-telemetry.js';
import { NO_RAG_TEMPLATE, type AnswerTemplate } from './prompts.js';
import type { RagRequest, ValidRequest } from './rag-request.js';
import { citedSources, DEFAULT_REPEAT_SPAN_WORDS, RepetitionDetector } from './repetition.js';
import { approxTokens, formatContext, groupByDocument, type Passage } from './retrieve.js';

/** What the answer stage has produced so far. */
export interface AnswerProgress {
  answer: string;
  /** performance.now() at the first text piece. */
  firstTokenAt: number | undefined;
  /** 'repetition' when the guard stopped the model. */
  finishReason: 'stop' | 'length' | 'repetition';
  promptTokens: number;
  completionTokens: number;
  /** Set when the model's answer was withdrawn for quotes; `answer` is then the quotes. */
  fallback?: AnswerFallback;
  modelAnswer?: string;
  /** The model cited nothing and the router named the sources its sentences were found in (attribution.ts). */
  citationsAttributed?: boolean;
}

export const newAnswerProgress = (): AnswerProgress => ({
  answer: '',
  firstTokenAt: undefined,
  finishReason: 'stop',
  promptTokens: 0,
  completionTokens: 0,
});

export interface AnswerInput {
  req: RagRequest;
  valid: ValidRequest;
  context: Passage[];
  maxTokens: number;
  generationId: string;
  /** The author's fine-tuned adapter, when their production version answers. */
  adapter?: LoraAdapter;
}

export interface AnswerGeneratorDeps {
  template: AnswerTemplate;
  /** The author's display name for the prompt; defaults to the id. */
  authorName?: (authorId: string, signal?: AbortSignal) => Promise<string>;
  /** Decoding penalties sent with every answer (not with JSON requests); unset = each backend's default. */
  penalties?: DecodingPenalties;
  /** Words in a repeated span that stop an answer (repetition.ts); 0 turns the guard off. Default 12. */
  repeatSpanWords?: number;
  /** Whether an answer that cites none of its sources, or that the guard stopped, gives way to quotes. Default on. */
  fallback?: boolean;
  /** Whether an answer that cites none of its sources is credited with those its sentences come from. Default on. */
  attribution?: boolean;
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

export class AnswerGenerator {
  constructor(private readonly deps: AnswerGeneratorDeps) {}

  /** The template a model answer is rendered from. */
  templateFor(disableRag: boolean | undefined): AnswerTemplate {
    return disableRag ? NO_RAG_TEMPLATE : this.deps.template;
  }

  /** Streams the model's answer as `delta` events; its errors leave as DomainErrors. */
  async *withModel(
    llm: LlmBackend,
    input: AnswerInput,
    progress: AnswerProgress,
    signal?: AbortSignal,
  ): AsyncGenerator<{ delta: string }> {
    const { req, valid, context, maxTokens, generationId, adapter } = input;
    const author = await this.authorName(valid.filters.authorId, signal);
    const template = this.templateFor(req.disableRag);
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
      ...(adapter ? { adapter } : {}),
      ...(this.deps.penalties ? { penalties: this.deps.penalties } : {}),
    };
    const span = this.deps.repeatSpanWords ?? DEFAULT_REPEAT_SPAN_WORDS;
    // On the text, not the backend's tokens, so that it stops a loop from any backend the same way.
    const guard = span > 0 ? new RepetitionDetector(span) : undefined;
    const observation = new ModelCallObservation({
      model: llm.model,
      kind: llm.kind,
      purpose: 'answer',
      request,
      generationId,
    });
    try {
      for await (const event of llm.chat(request, signal)) {
        if (event.type === 'delta') {
          if (!event.text) continue;
          observation.firstToken();
          progress.firstTokenAt ??= performance.now();
          progress.answer += event.text;
          yield { delta: event.text };
          if (guard?.push(event.text)) {
            // Leaving the loop closes the backend's stream, which stops its generation.
            progress.finishReason = 'repetition';
            break;
          }
        } else {
          progress.finishReason = event.finishReason;
          progress.promptTokens = event.promptTokens ?? 0;
          progress.completionTokens = event.completionTokens ?? 0;
        }
      }
    } catch (err) {
      observation.fail(err);
      throw toDomainError(err);
    }
    // Backends that do not count (or report 0) get the same approximation as extractive answers.
    if (!progress.promptTokens)
      progress.promptTokens = approxTokens(request.messages.map((m) => m.content).join('\n'));
    if (!progress.completionTokens) progress.completionTokens = approxTokens(progress.answer);
    observation.end({
      finishReason: progress.finishReason,
      inputTokens: progress.promptTokens,
      outputTokens: progress.completionTokens,
      answer: progress.answer,
    });
  }

  /**
   * When the model's finished answer cites none of its numbered sources but is made of their words (at least
   * half of its sentences found in one, attribution.ts), names those sources after it (" [1][3]"), streamed
   * like the rest, so that the answer is kept instead of giving way to quotes. Never for an answer the guard
   * stopped.
   */
  *attribute(progress: AnswerProgress, context: readonly Passage[]): Generator<{ delta: string }> {
    if (this.deps.attribution === false || context.length === 0) return;
    if (progress.finishReason === 'repetition') return;
    const sources = groupByDocument(context);
    if (citedSources(progress.answer, sources.length).length > 0) return;
    const { cited } = attributeSources(
      progress.answer,
      sources.map((s, i) => ({
        number: i + 1,
        text: `${s.title}\n${s.passages.map((p) => p.text).join('\n')}`,
      })),
    );
    if (cited.length === 0) return;
    const markers = `${/\s$/.test(progress.answer) ? '' : ' '}${cited.map((n) => `[${n}]`).join('')}`;
    progress.answer += markers;
    progress.citationsAttributed = true;
    yield { delta: markers };
  }

  /**
   * Why the model's finished answer should give way to quotes: the guard stopped it, or it cites none of the
   * numbered sources (so nothing in it can be checked against them). Never without sources to quote, or when
   * the quotes would be empty.
   */
  fallbackFor(
    progress: AnswerProgress,
    valid: ValidRequest,
    context: readonly Passage[],
  ): AnswerFallback | undefined {
    if (this.deps.fallback === false || context.length === 0) return undefined;
    const reason: AnswerFallback | undefined =
      progress.finishReason === 'repetition'
        ? 'repetition'
        : citedSources(progress.answer, groupByDocument(context).length).length === 0
          ? 'no_citations'
          : undefined;
    if (!reason || selectQuotes(valid.query, context).length === 0) return undefined;
    return reason;
  }

  /**
   * Replaces the model's answer with quotes of the passages, saying why. Streamed after the model's text
   * (which a streaming client has already shown), behind a blank line; the answer becomes the quotes alone.
   */
  async *fallBack(
    reason: AnswerFallback,
    valid: ValidRequest,
    context: Passage[],
    progress: AnswerProgress,
    signal?: AbortSignal,
  ): AsyncGenerator<{ delta: string }> {
    const author = await this.authorName(valid.filters.authorId, signal);
    progress.fallback = reason;
    progress.modelAnswer = progress.answer;
    progress.answer = '';
    yield { delta: '\n\n' };
    for (const piece of extractiveAnswer(valid.query, context, author, fallbackIntro(reason, author))) {
      signal?.throwIfAborted();
      progress.answer += piece;
      yield { delta: piece };
    }
  }

  /** Quotes the passages, as `delta` events, when no model is configured. */
  *extractively(
    valid: ValidRequest,
    context: Passage[],
    progress: AnswerProgress,
    signal?: AbortSignal,
  ): Generator<{ delta: string }> {
    // Counted as if the passages had been put into a prompt, so that extractive and LLM records compare.
    progress.promptTokens = approxTokens(valid.query) + approxTokens(formatContext(context));
    for (const piece of extractiveAnswer(valid.query, context, 'the author')) {
      signal?.throwIfAborted();
      progress.firstTokenAt ??= performance.now();
      progress.answer += piece;
      yield { delta: piece };
    }
    progress.completionTokens = approxTokens(progress.answer);
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
}
