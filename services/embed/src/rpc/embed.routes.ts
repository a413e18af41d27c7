// EmbedService handlers: embeddings for callers, search over the live collection, and reindex control.
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import { embedv1 } from '@llmtwin/contracts';
import type { SearchMode, VectorFilter, VectorStore } from '@llmtwin/ports';
import { invalidArgument } from '@llmtwin/runtime';
import { LIVE_ALIAS } from '../domain/collections.js';
import type { ReindexRecord } from '../domain/embed-state.js';
import type { Reindexer } from '../domain/reindex.js';
import { categoryEnum, categoryName, platformEnum, platformName } from '../domain/vector-records.js';
import type { Embedder } from '@llmtwin/ports';

export interface EmbedHandlers {
  embedder: Embedder;
  embedderAdapter: string;
  vectorStore: VectorStore;
  reindexer: Reindexer;
}

const modes: Record<embedv1.SearchMode, SearchMode | undefined> = {
  [embedv1.SearchMode.UNSPECIFIED]: 'hybrid',
  [embedv1.SearchMode.DENSE]: 'dense',
  [embedv1.SearchMode.KEYWORD]: 'keyword',
  [embedv1.SearchMode.HYBRID]: 'hybrid',
};
const states: Record<ReindexRecord['state'], embedv1.ReindexState> = {
  running: embedv1.ReindexState.RUNNING,
  swapped: embedv1.ReindexState.SWAPPED,
  failed: embedv1.ReindexState.FAILED,
};

const toReindex = (r: ReindexRecord) => ({
  id: r._id,
  state: states[r.state],
  targetCollection: r.target,
  documentsTotal: BigInt(r.documentsTotal),
  documentsDone: BigInt(r.documentsDone),
  chunksEmbedded: BigInt(r.chunksEmbedded),
  error: r.error,
  startTime: timestampFromMs(r.startedAt),
  ...(r.endedAt !== null ? { endTime: timestampFromMs(r.endedAt) } : {}),
});

export function toVectorFilter(f: embedv1.SearchFilter | undefined): VectorFilter | undefined {
  if (!f) return undefined;
  const filter: VectorFilter = {
    ...(f.authorId ? { authorId: f.authorId } : {}),
    ...(f.categories.length ? { categories: f.categories.map(categoryName) } : {}),
    ...(f.platforms.length ? { platforms: f.platforms.map(platformName) } : {}),
    ...(f.publishedAfter ? { publishedAfter: timestampMs(f.publishedAfter) } : {}),
    ...(f.publishedBefore ? { publishedBefore: timestampMs(f.publishedBefore) } : {}),
    ...(f.documentIds.length ? { documentIds: f.documentIds } : {}),
  };
  return Object.keys(filter).length ? filter : undefined;
}

export function registerEmbedRoutes(router: ConnectRouter, h: EmbedHandlers): void {
  router.service(embedv1.EmbedService, {
    async embedTexts(req, ctx) {
      const type = req.inputType === embedv1.InputType.PASSAGE ? 'passage' : 'query';
      const vectors = await h.embedder.embed(req.texts, type, ctx.signal);
      return {
        embeddings: vectors.map((v, i) => ({
          values: Array.from(v),
          tokenCount: h.embedder.countTokens(req.texts[i] ?? '', type),
        })),
        model: h.embedder.model,
      };
    },
    async getEmbedderInfo() {
      return {
        model: h.embedder.model,
        dimensions: h.embedder.dimensions,
        maxTokens: h.embedder.maxTokens,
        adapter: h.embedderAdapter,
        liveCollection: (await h.vectorStore.resolveAlias(LIVE_ALIAS)) ?? '',
      };
    },
    async searchChunks(req, ctx) {
      const mode = modes[req.mode];
      if (!mode)
        throw invalidArgument('unknown search mode', [
          { field: 'mode', message: 'dense, keyword or hybrid' },
        ]);
      if (!req.query.trim())
        throw invalidArgument('query is required', [{ field: 'query', message: 'required' }]);
      const limit = req.limit > 0 ? Math.min(req.limit, 200) : 10;
      const vector =
        mode === 'keyword' ? undefined : (await h.embedder.embed([req.query], 'query', ctx.signal))[0];
      const filter = toVectorFilter(req.filter);
      const hits = await h.vectorStore.search(
        LIVE_ALIAS,
        {
          mode,
          limit,
          ...(vector ? { vector } : {}),
          ...(mode !== 'dense' ? { text: req.query } : {}),
          ...(filter ? { filter } : {}),
          ...(mode === 'hybrid' && req.alpha > 0 ? { alpha: req.alpha } : {}),
        },
        ctx.signal,
      );
      return {
        chunks: hits.map((hit) => ({
          chunkId: hit.id,
          ref: {
            documentId: hit.metadata.documentId,
            version: BigInt(hit.metadata.documentVersion),
            authorId: hit.metadata.authorId,
          },
          text: hit.text,
          score: hit.score,
          title: hit.metadata.title,
          canonicalUrl: hit.metadata.url,
          ...(hit.metadata.publishedAt ? { publishTime: timestampFromMs(hit.metadata.publishedAt) } : {}),
          category: categoryEnum(hit.metadata.category),
          platform: platformEnum(hit.metadata.platform),
          section: hit.metadata.section,
        })),
      };
    },
    async startReindex(req) {
      return { reindex: toReindex(await h.reindexer.start({ authorId: req.authorId })) };
    },
    async getReindex(req) {
      return { reindex: toReindex(await h.reindexer.get(req.id)) };
    },
  });
}
