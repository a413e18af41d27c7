// InferenceService handlers: thin mappings between the proto messages and the RAG service.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import { inferencev1 } from '@llmtwin/contracts';
import { nextPageToken, pageTokenAfter, readPage } from '@llmtwin/host';
import { invalidArgument } from '@llmtwin/runtime/errors';
import { AnswerEdits, type EditedGeneration } from '../domain/answer-edits.js';
import { MAX_QUERY_CONTAINS, type GenerationRecord, type GenerationStore } from '../domain/generations.js';
import type { Citation, GenerationResult, RagRequest, RagService } from '../domain/rag.js';
import type { RetrievalFilters } from '../domain/retrieve.js';
import type { ChatMessage } from '@llmtwin/llm';

export interface InferenceHandlers {
  rag: RagService;
  store: GenerationStore;
}

type Request = Pick<inferencev1.GenerateRequest, 'query' | 'authorId' | 'retrieval' | 'disableRag'> &
  Partial<Pick<inferencev1.GenerateRequest, 'generation' | 'history'>>;

const ms = (t: Timestamp | undefined) => (t ? timestampMs(t) : undefined);

export function toRagRequest(req: Request): RagRequest {
  const r = req.retrieval;
  const g = req.generation;
  const after = ms(r?.publishedAfter);
  const before = ms(r?.publishedBefore);
  return {
    query: req.query,
    authorId: req.authorId,
    topK: r?.topK ?? 0,
    categories: r?.categories ?? [],
    platforms: r?.platforms ?? [],
    ...(after !== undefined ? { publishedAfter: after } : {}),
    ...(before !== undefined ? { publishedBefore: before } : {}),
    expandQueries: r?.expandQueries ?? 0,
    selfQuery: r?.selfQuery ?? false,
    rerank: r?.rerank ?? false,
    model: req.generation?.model ?? '',
    disableRag: req.disableRag,
    // proto3 scalars have no presence: temperature 0 (greedy decoding) is also the default.
    ...(g ? { maxTokens: g.maxTokens, temperature: g.temperature, topP: g.topP, stop: g.stop } : {}),
    history: (req.history ?? []).map((m) => ({ role: m.role as ChatMessage['role'], content: m.content })),
  };
}

const toFilters = (f: RetrievalFilters | GenerationRecord['filters']) => ({
  authorId: f.authorId,
  categories: f.categories,
  platforms: f.platforms,
  ...(f.publishedAfter != null ? { publishedAfter: timestampFromMs(f.publishedAfter) } : {}),
  ...(f.publishedBefore != null ? { publishedBefore: timestampFromMs(f.publishedBefore) } : {}),
});

const toCitation = (c: Citation): MessageInitShape<typeof inferencev1.CitationSchema> => ({
  index: c.index,
  documentId: c.documentId,
  chunkId: c.chunkId,
  title: c.title,
  url: c.url,
  ...(c.publishedAt !== undefined ? { publishTime: timestampFromMs(c.publishedAt) } : {}),
  score: c.score,
  passages: c.passages,
});

export function toGenerateResponse(
  r: GenerationResult,
): MessageInitShape<typeof inferencev1.GenerateResponseSchema> {
  return {
    generationId: r.generationId,
    answer: r.answer,
    citations: r.citations.map(toCitation),
    model: r.model,
    modelVersion: r.modelVersion,
    modelVersionId: r.modelVersionId,
    promptTemplateVersion: r.promptTemplateVersion,
    usage: r.usage,
    finishReason: r.finishReason,
    extractive: r.extractive,
    fallback: r.fallback ?? '',
    modelAnswer: r.modelAnswer ?? '',
    citationsAttributed: r.citationsAttributed ?? false,
  };
}

function toGeneration(g: GenerationRecord): MessageInitShape<typeof inferencev1.GenerationSchema> {
  return {
    id: g._id,
    authorId: g.authorId,
    query: g.query,
    expandedQueries: g.expandedQueries,
    filters: toFilters(g.filters),
    retrieved: g.retrieved.map((r) => ({
      // Older records have none.
      citation: (r.citation as number | undefined) ?? 0,
      chunkId: r.chunkId,
      documentId: r.documentId,
      score: r.score,
      title: r.title,
      url: r.url,
      ...(r.publishedAt !== null ? { publishTime: timestampFromMs(r.publishedAt) } : {}),
      category: r.category,
      platform: r.platform,
    })),
    promptTemplateVersion: g.promptTemplateVersion,
    model: g.model,
    modelVersion: g.modelVersion ?? '',
    modelVersionId: g.modelVersionId ?? '',
    usage: {
      promptTokens: g.promptTokens,
      completionTokens: g.completionTokens,
      timeToFirstTokenMs: g.timeToFirstTokenMs,
      totalLatencyMs: g.totalLatencyMs,
    },
    answer: g.answer,
    finishReason: g.finishReason,
    fallback: g.fallback ?? '',
    modelAnswer: g.modelAnswer ?? '',
    citationsAttributed: g.citationsAttributed ?? false,
    error: g.error,
    traceId: g.traceId,
    createTime: timestampFromMs(g.createdAt),
  };
}

function toAnswerEdit(g: EditedGeneration): MessageInitShape<typeof inferencev1.AnswerEditSchema> {
  return {
    generationId: g._id,
    authorId: g.authorId,
    query: g.query,
    originalAnswer: g.answer,
    editedAnswer: g.edit.editedAnswer,
    comment: g.edit.comment,
    editor: g.edit.editor,
    editTime: timestampFromMs(g.edit.editedAt),
  };
}

/** Set by the gateway for author-scoped API keys (gateway/src/auth/auth.interceptor.ts). */
const AUTHOR_HEADER = 'x-llmtwin-author';

export function registerInferenceRoutes(router: ConnectRouter, h: InferenceHandlers): void {
  const edits = new AnswerEdits(h.store);
  router.service(inferencev1.InferenceService, {
    async generate(req, ctx) {
      for await (const event of h.rag.generate(toRagRequest(req), ctx.signal)) {
        if ('done' in event) return toGenerateResponse(event.done);
      }
      throw new Error('the generation ended without a result');
    },
    async *generateStream(req, ctx) {
      for await (const event of h.rag.generate(toRagRequest(req), ctx.signal)) {
        if ('done' in event) yield { event: { case: 'done', value: toGenerateResponse(event.done) } };
        else if ('started' in event) {
          const s = event.started;
          yield {
            event: {
              case: 'started',
              value: {
                generationId: s.generationId,
                model: s.model,
                modelVersion: s.modelVersion,
                modelVersionId: s.modelVersionId,
                promptTemplateVersion: s.promptTemplateVersion,
                citations: s.citations.map(toCitation),
              },
            },
          };
        } else yield { event: { case: 'delta', value: event.delta } };
      }
    },
    async retrieve(req, ctx) {
      const result = await h.rag.retrieve(toRagRequest({ ...req, disableRag: false }), ctx.signal);
      return {
        chunks: result.passages.map((p) => ({
          chunkId: p.chunkId,
          documentId: p.documentId,
          text: p.text,
          score: p.score,
          title: p.title,
          url: p.url,
          ...(p.publishedAt !== undefined ? { publishTime: timestampFromMs(p.publishedAt) } : {}),
          category: p.category,
          platform: p.platform,
        })),
        expandedQueries: result.expandedQueries,
        filters: toFilters(result.filters),
      };
    },
    async listGenerations(req, ctx) {
      const page = readPage(req.page);
      const since = ms(req.since);
      const until = ms(req.until);
      if (since !== undefined && until !== undefined && until <= since) {
        throw invalidArgument(
          `until (${new Date(until).toISOString()}) must be later than since (${new Date(since).toISOString()}): ` +
            'until is exclusive; swap them or leave one out',
          [{ field: 'until', message: 'must be later than since' }],
        );
      }
      if (req.queryContains.length > MAX_QUERY_CONTAINS) {
        throw invalidArgument(
          `query_contains is ${req.queryContains.length} characters; shorten it to at most ${MAX_QUERY_CONTAINS}`,
          [{ field: 'query_contains', message: `at most ${MAX_QUERY_CONTAINS} characters` }],
        );
      }
      const { records, next } = await h.store.list(
        {
          ...(req.authorId ? { authorId: req.authorId } : {}),
          ...(req.model ? { model: req.model } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          ...(req.queryContains ? { queryContains: req.queryContains } : {}),
          ...(page.after ? { before: page.after } : {}),
          limit: page.size,
        },
        ctx.signal,
      );
      return {
        generations: records.map(toGeneration),
        page: { nextPageToken: pageTokenAfter(next) },
      };
    },
    async getGeneration(req, ctx) {
      return { generation: toGeneration(await h.store.get(req.id, ctx.signal)) };
    },
    listModels() {
      return { models: h.rag.models() };
    },
    async editAnswer(req, ctx) {
      const edited = await edits.edit(
        {
          generationId: req.generationId,
          editedAnswer: req.editedAnswer,
          comment: req.comment,
          editor: req.editor,
          actingAuthor: ctx.requestHeader.get(AUTHOR_HEADER) ?? '',
        },
        ctx.signal,
      );
      return { edit: toAnswerEdit(edited) };
    },
    async listAnswerEdits(req, ctx) {
      const page = readPage(req.page);
      const items = await edits.list(
        { authorId: req.authorId, ...(page.after ? { after: page.after } : {}), limit: page.size },
        ctx.signal,
      );
      return { edits: items.map(toAnswerEdit), page: { nextPageToken: nextPageToken(items, page.size) } };
    },
  });
}
