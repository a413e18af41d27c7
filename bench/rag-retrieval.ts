// RAG retrieval benchmark: the inference router's own retrieval (RagService.retrieve) on a BEIR set.
//
//   npm run bench -- rag-retrieval <data folder> --out <predictions.json> [--top-k 50,10]
//        [--reranker <cross-encoder folder>] [--limit-queries N] [--embedder onnx:<folder or id>] [--no-cache]
//
// The corpus is indexed exactly as `bench/retrieval.ts` indexes it (its exported helpers: cleanRaw →
// chunkDocument → the ONNX embedder → the embedded vector store), into a collection that the live alias
// `chunks` points at. An embed module over that store serves EmbedService in this process, and the router's
// RagService searches it with the router's own `embedSearch` (SearchChunks, hybrid) through an in-process
// transport. So every dev query takes the router's path: request validation, SearchChunks with limit
// 4 × top_k, fusion and dedupe by chunk, (rerank,) top_k. The router returns chunks; a document ranks where
// its best chunk does.
//
// top_k counts chunks and is at most 50, so a query yields at most 50 chunks (≈ 40 distinct abstracts on
// SciFact): the scorer's Recall@100 is then a recall at that depth. Each --top-k value is one variant; the
// first is written to --out, the others beside it as <out>.top<k>.json. --reranker adds the variant
// `rerank: true, top_k 10` (the router reranks its first RERANK_CANDIDATES chunks) as <out>.rerank.json.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { policyChunker } from '@llmtwin/chunking';
import { embedv1 } from '@llmtwin/contracts';
import { createEmbedModule, LIVE_ALIAS } from '@llmtwin/embed';
import { InProcessDirectory } from '@llmtwin/host';
import { embedSearch } from '@llmtwin/inference-router';
import { GenerationStore } from '../services/inference-router/src/domain/generations.js';
import { RagService, RERANK_CANDIDATES } from '../services/inference-router/src/domain/rag.js';
import { OnnxReranker } from '../services/inference-router/src/adapters/onnx-reranker.js';
import { MAX_TOP_K } from '../services/inference-router/src/domain/retrieve.js';
import { type EventBus, type VectorStore, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createVectorStore, createWarehouse } from '@llmtwin/ports/adapters';
import { pino } from 'pino';
import { evaluate, indexCorpus, openBenchInputs, round, runScorer, scorerCommand } from './retrieval.js';
import { percentile } from './percentiles.js';

const AUTHOR = 'scifact';
const COLLECTION = 'bench_rag_retrieval';

const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string' },
    'top-k': { type: 'string', default: String(MAX_TOP_K) + ',10' },
    reranker: { type: 'string' },
    'limit-queries': { type: 'string' },
    embedder: { type: 'string' },
    'no-cache': { type: 'boolean', default: false },
    'cache-dir': { type: 'string' },
  },
  allowPositionals: true,
});
const dataDir = positionals[0];
const topKs = (values['top-k'] ?? '').split(',').map(Number);
if (!dataDir || topKs.some((k) => !Number.isInteger(k) || k < 1 || k > MAX_TOP_K)) {
  console.error(
    'usage: npm run bench -- rag-retrieval <data folder> --out <predictions.json> ' +
      `[--top-k K[,K...] (1..${MAX_TOP_K})] [--reranker <folder>] [--limit-queries N] [--embedder onnx:<model>] ` +
      '[--no-cache]',
  );
  process.exit(2);
}
const { corpus, devQrels, devQueries, embedder, cache } = await openBenchInputs(dataDir, values);
const workDir = mkdtempSync(path.join(tmpdir(), 'llmtwin-bench-rag-'));
let store: VectorStore | undefined;
let warehouse: Warehouse | undefined;
let bus: EventBus | undefined;
let reranker: OnnxReranker | undefined;
const silent = pino({ level: 'silent' });

try {
  store = await createVectorStore(`sqlite:${path.join(workDir, 'vectors.db')}`);
  const indexed = await indexCorpus(corpus, embedder, cache, store, COLLECTION, AUTHOR);
  await store.setAlias(LIVE_ALIAS, COLLECTION);

  // The embed module is only registered, not started: its consumer has nothing to consume here, and the
  // live alias already points at the indexed collection.
  warehouse = await createWarehouse(`sqlite:${path.join(workDir, 'warehouse.db')}`);
  bus = createEventBus(`log:${path.join(workDir, 'events.db')}`);
  const embed = await createEmbedModule({
    warehouse,
    eventBus: bus,
    vectorStore: store,
    embedder,
    embedderAdapter: 'onnx',
    chunker: policyChunker(embedder),
    logger: silent,
  });
  const directory = new InProcessDirectory();
  directory.add('embed', (router) => embed.register(router));
  const client = createClient(embedv1.EmbedService, directory.transport('embed'));
  const generations = new GenerationStore(warehouse);
  await generations.init();
  if (values.reranker) reranker = await OnnxReranker.load(values.reranker);
  const rag = new RagService({
    search: embedSearch(() => client),
    store: generations,
    logger: silent,
    ...(reranker ? { reranker } : {}),
  });

  const runs = topKs.map((topK, n) => ({
    name: `hybrid-top${topK}`,
    topK,
    rerank: false,
    suffix: n === 0 ? '' : `.top${topK}`,
  }));
  if (reranker) runs.push({ name: 'hybrid-rerank-top10', topK: 10, rerank: true, suffix: '.rerank' });
  const variants: Record<string, unknown> = {};
  for (const { name, topK, rerank, suffix } of runs) {
    const predictions: Record<string, string[]> = {};
    const latencies: number[] = [];
    let documents = 0;
    for (const q of devQueries) {
      const start = performance.now();
      const { passages } = await rag.retrieve({ query: q.text, authorId: AUTHOR, topK, rerank });
      latencies.push(performance.now() - start);
      // Passages come best first, so a document's first passage is its best rank.
      const ranked = [...new Set(passages.map((p) => p.documentId))];
      predictions[q._id] = ranked;
      documents += ranked.length;
    }
    const own = evaluate(
      predictions,
      devQrels,
      devQueries.map((q) => q._id),
    );
    const entry: Record<string, unknown> = {
      topK,
      ...(rerank ? { rerank: `${reranker!.name}, first ${Math.max(topK, RERANK_CANDIDATES)} chunks` } : {}),
      documentsPerQuery: round(documents / devQueries.length, 1),
      ndcg10: round(own.ndcg10, 4),
      recallAtDepth: round(own.recall100, 4),
      retrieveMs: { p50: round(percentile(latencies, 50), 1), p95: round(percentile(latencies, 95), 1) },
    };
    if (values.out) {
      const file = suffix ? values.out.replace(/(\.json)?$/, `${suffix}.json`) : values.out;
      writeFileSync(file, JSON.stringify(predictions));
      entry.predictions = file;
      entry.scorerCommand = scorerCommand(dataDir, file).join(' ');
      const s = values['limit-queries'] ? undefined : runScorer(dataDir, file);
      if (s) {
        entry.scorer =
          'error' in s
            ? s
            : {
                ndcg10: round(s.ndcg10, 4),
                recall10: round(s.recall10, 4),
                recall100: round(s.recall100, 4),
                mrr10: round(s.mrr10, 4),
              };
      }
    }
    variants[name] = entry;
    console.error(
      `${name}: nDCG@10 ${own.ndcg10.toFixed(4)}, recall at ${entry.documentsPerQuery} documents ` +
        `${own.recall100.toFixed(4)}, retrieve p50 ${percentile(latencies, 50).toFixed(1)} ms`,
    );
  }

  console.log(
    JSON.stringify(
      {
        set: path.resolve(dataDir),
        path: 'RagService.retrieve → EmbedService.SearchChunks (hybrid, in process) → fusion, dedupe, (rerank,) top_k',
        embedder: embedder.model,
        documents: corpus.length,
        chunks: indexed.chunks.length,
        queries: devQueries.length,
        indexing: {
          chunksEmbedded: indexed.embedded,
          chunksFromCache: indexed.chunks.length - indexed.embedded,
          cleanChunkSeconds: round(indexed.cleanChunkSeconds, 2),
          embedSeconds: round(indexed.embedSeconds, 2),
          upsertSeconds: round(indexed.upsertSeconds, 2),
        },
        variants,
      },
      null,
      2,
    ),
  );
} finally {
  await reranker?.close();
  await warehouse?.close();
  await bus?.close();
  await store?.close();
  await embedder.close();
  rmSync(workDir, { recursive: true, force: true });
}
