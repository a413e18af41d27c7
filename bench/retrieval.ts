// Retrieval benchmark (BEIR layout: corpus.jsonl[.gz] {_id, title, text}, queries-dev.jsonl, qrels-dev.tsv).
//
//   npm run bench -- retrieval <data folder> --out <predictions.json> [--mode dense|keyword|hybrid|all]
//        [--limit-queries N] [--alpha A | --tune-alpha] [--embedder onnx:<folder or id>] [--no-cache]
//
// The corpus goes through the feature pipeline's own functions: every abstract is cleaned as the clean
// service cleans a post (its title as the first line), chunked by the chunk service's `chunkDocument`
// counting with the embedder's tokenizer, embedded by the real embedder and upserted into the embedded vector
// store in a temporary folder. The dev queries then run in each mode; chunk hits become document hits (a
// document scores its best chunk) and the top 100 documents per query are written as {query id: [doc ids]}.
// `--out x.json` writes x.<mode>.json per mode when several run, x.json when one mode is asked.
//
// --tune-alpha picks the hybrid weight on the TRAIN queries (queries-train.jsonl + qrels-train.tsv), never on
// the dev queries it then reports. Embeddings are cached in ~/.cache/llmtwin/bench (keyed by model, input type
// and text hash), so a rerun embeds nothing; --no-cache embeds everything again.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { type SearchMode, type VectorRecord, type VectorStore } from '@llmtwin/ports';
import { createVectorStore } from '@llmtwin/ports/adapters';
import { cleanRaw } from '../services/clean/src/domain/clean-raw.js';
import { chunkDocument, defaultPolicy } from '../packages/chunking/src/chunker.js';
import { createEmbedder } from '../packages/ports/src/embedder/create-embedder.js';
import type { Embedder, InputType } from '../packages/ports/src/embedder/embedder.port.js';
import { percentile } from './percentiles.js';

const MODES: readonly SearchMode[] = ['dense', 'keyword', 'hybrid'];
const TOP_DOCUMENTS = 100;
/** Chunks asked per search: enough that 100 distinct documents survive when abstracts have several chunks. */
const CHUNK_LIMIT = 300;
const COLLECTION = 'bench_retrieval';
const ALPHA_GRID = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

// ------------------------------------------------------------------------------------------------ data

export interface CorpusDoc {
  _id: string;
  title: string;
  text: string;
}
export interface Query {
  _id: string;
  text: string;
}
export type Qrels = Map<string, Map<string, number>>;

export function readLines(file: string): string[] {
  const bytes = readFileSync(file);
  const text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  return text.split('\n').filter((line) => line.trim().length > 0);
}

export function firstExisting(dir: string, ...names: string[]): string {
  const found = names.map((n) => path.join(dir, n)).find((f) => existsSync(f));
  if (!found) throw new Error(`${dir} has none of ${names.join(', ')}`);
  return found;
}

export function readQrels(file: string): Qrels {
  const qrels: Qrels = new Map();
  for (const line of readLines(file).slice(1)) {
    const [q, d, s] = line.split('\t');
    if (q && d && Number(s) > 0) {
      if (!qrels.has(q)) qrels.set(q, new Map());
      qrels.get(q)!.set(d, Number(s));
    }
  }
  return qrels;
}

/** The corpus and the judged dev queries of a BEIR folder. */
export function loadDevSet(dir: string, limitQueries?: number) {
  const corpus = readLines(firstExisting(dir, 'corpus.jsonl.gz', 'corpus.jsonl')).map(
    (l) => JSON.parse(l) as CorpusDoc,
  );
  const devQrels = readQrels(firstExisting(dir, 'qrels-dev.tsv', 'qrels.tsv'));
  let devQueries = readLines(firstExisting(dir, 'queries-dev.jsonl', 'queries.jsonl'))
    .map((l) => JSON.parse(l) as Query)
    .filter((q) => devQrels.has(q._id));
  if (limitQueries) devQueries = devQueries.slice(0, limitQueries);
  return { corpus, devQrels, devQueries };
}

// ------------------------------------------------------------------------------------------------ metrics

/** The scorer's BEIR metrics (nDCG@10 with 2^rel - 1 gains, Recall@100), for tuning and as a cross-check. */
export function evaluate(predictions: Record<string, string[]>, qrels: Qrels, ids: readonly string[]) {
  let ndcg = 0;
  let recall = 0;
  for (const q of ids) {
    const rel = qrels.get(q)!;
    const ranked = predictions[q] ?? [];
    const dcg = ranked
      .slice(0, 10)
      .reduce((a, d, i) => a + (2 ** (rel.get(d) ?? 0) - 1) / Math.log2(i + 2), 0);
    const ideal = [...rel.values()]
      .sort((a, b) => b - a)
      .slice(0, 10)
      .reduce((a, g, i) => a + (2 ** g - 1) / Math.log2(i + 2), 0);
    ndcg += dcg / ideal;
    recall += ranked.slice(0, 100).filter((d) => rel.has(d)).length / rel.size;
  }
  return { ndcg10: ndcg / ids.length, recall100: recall / ids.length };
}

export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

// ------------------------------------------------------------------------------------------------ embedding cache

/**
 * Vectors by sha256(model, input type, text), appended to one binary file per model: [32-byte key][float32 × dims].
 * A crash mid-append leaves a torn last record, which the reader drops.
 */
export class EmbeddingCache {
  private readonly vectors = new Map<string, Float32Array>();
  private readonly file: string;

  constructor(
    dir: string,
    private readonly model: string,
    private readonly dimensions: number,
    private readonly enabled: boolean,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${model.replace(/[^A-Za-z0-9._-]+/g, '_')}-${dimensions}.emb`);
    if (!enabled || !existsSync(this.file)) return;
    const bytes = readFileSync(this.file);
    const width = 32 + dimensions * 4;
    for (let at = 0; at + width <= bytes.length; at += width) {
      const key = bytes.subarray(at, at + 32).toString('hex');
      const copy = new Uint8Array(dimensions * 4);
      copy.set(bytes.subarray(at + 32, at + width));
      this.vectors.set(key, new Float32Array(copy.buffer));
    }
  }

  get size(): number {
    return this.vectors.size;
  }

  key(inputType: InputType, text: string): string {
    return createHash('sha256').update(`${this.model}\0${inputType}\0${text}`).digest('hex');
  }

  get(key: string): Float32Array | undefined {
    return this.enabled ? this.vectors.get(key) : undefined;
  }

  put(entries: readonly [string, Float32Array][]): void {
    if (entries.length === 0) return;
    const parts: Buffer[] = [];
    for (const [key, vector] of entries) {
      this.vectors.set(key, vector);
      parts.push(Buffer.from(key, 'hex'), Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
    }
    appendFileSync(this.file, Buffer.concat(parts));
  }
}

/** Embeds what the cache lacks, shortest texts together so that batches carry little padding. */
export async function embedAll(
  embedder: Embedder,
  cache: EmbeddingCache,
  texts: readonly string[],
  inputType: InputType,
  onProgress?: (done: number, total: number) => void,
): Promise<{ vectors: Float32Array[]; embedded: number; seconds: number }> {
  const keys = texts.map((t) => cache.key(inputType, t));
  const vectors: (Float32Array | undefined)[] = keys.map((k) => cache.get(k));
  const missing = [...new Set(keys.map((k, i) => (vectors[i] === undefined ? i : -1)).filter((i) => i >= 0))];
  const lengths = new Map(missing.map((i) => [i, embedder.countTokens(texts[i]!, inputType)]));
  missing.sort((a, b) => lengths.get(a)! - lengths.get(b)!);
  const start = performance.now();
  const step = 256;
  for (let i = 0; i < missing.length; i += step) {
    const slice = missing.slice(i, i + step);
    const out = await embedder.embed(
      slice.map((j) => texts[j]!),
      inputType,
    );
    cache.put(slice.map((j, n) => [keys[j]!, out[n]!]));
    slice.forEach((j, n) => (vectors[j] = out[n]));
    onProgress?.(Math.min(i + step, missing.length), missing.length);
  }
  // Duplicate texts share one embedding.
  const byKey = new Map<string, Float32Array>();
  keys.forEach((k, i) => {
    const v = vectors[i];
    if (v !== undefined) byKey.set(k, v);
  });
  return {
    vectors: keys.map((k) => byKey.get(k)!),
    embedded: missing.length,
    seconds: (performance.now() - start) / 1000,
  };
}

// ------------------------------------------------------------------------------------------------ indexing

export interface BenchChunk {
  id: string;
  documentId: string;
  title: string;
  text: string;
  section: string;
  position: number;
}

export interface IndexedCorpus {
  chunks: BenchChunk[];
  cleanChunkSeconds: number;
  /** How many chunks the model embedded (the rest came from the cache), and how long that took. */
  embedded: number;
  embedSeconds: number;
  upsertSeconds: number;
}

/**
 * Cleans, chunks, embeds and upserts a BEIR corpus into `collection` (created here), each document as one
 * author's post, with the pipeline's own functions.
 */
export async function indexCorpus(
  corpus: readonly CorpusDoc[],
  embedder: Embedder,
  cache: EmbeddingCache,
  store: VectorStore,
  collection: string,
  authorId = 'scifact',
): Promise<IndexedCorpus> {
  const t0 = performance.now();
  const chunks: BenchChunk[] = [];
  const policy = defaultPolicy('post', embedder);
  for (const doc of corpus) {
    // SciFact abstracts are plain text, so the clean step's post path is the one that applies; the title
    // leads the text as the first line of a post would, so both dense and keyword search see it.
    const raw = doc.title ? `${doc.title}\n\n${doc.text}` : doc.text;
    const cleaned = cleanRaw({
      category: 'post',
      raw: new TextEncoder().encode(raw),
      rawContentType: 'text/plain; charset=utf-8',
      url: '',
      title: doc.title,
    });
    const input = {
      documentId: doc._id,
      version: 1,
      authorId,
      category: 'post',
      text: cleaned.text,
    } as const;
    for (const chunk of chunkDocument(input, policy, embedder)) {
      chunks.push({
        id: chunk.id,
        documentId: doc._id,
        title: cleaned.title,
        text: chunk.text,
        section: chunk.section,
        position: chunk.position,
      });
    }
  }
  const cleanChunkSeconds = (performance.now() - t0) / 1000;

  let lastReport = 0;
  const passages = await embedAll(
    embedder,
    cache,
    chunks.map((c) => c.text),
    'passage',
    (done, total) => {
      if (performance.now() - lastReport > 15_000 || done === total) {
        lastReport = performance.now();
        console.error(`embedded ${done}/${total} chunks`);
      }
    },
  );

  const t1 = performance.now();
  await store.ensureCollection(collection, { dimensions: embedder.dimensions });
  for (let i = 0; i < chunks.length; i += 500) {
    const records: VectorRecord[] = chunks.slice(i, i + 500).map((c, n) => ({
      id: c.id,
      vector: passages.vectors[i + n]!,
      text: c.text,
      metadata: {
        documentId: c.documentId,
        documentVersion: 1,
        authorId,
        category: 'post',
        platform: 'web',
        url: '',
        title: c.title,
        publishedAt: 0,
        section: c.section,
        position: c.position,
      },
    }));
    await store.upsert(collection, records);
  }
  return {
    chunks,
    cleanChunkSeconds,
    embedded: passages.embedded,
    embedSeconds: passages.seconds,
    upsertSeconds: (performance.now() - t1) / 1000,
  };
}

/** The set's scorer (`score.mjs` two folders up, as in ../shared/bench) on a predictions file. */
export function scorerCommand(dataDir: string, file: string): string[] {
  const scorer = path.resolve(dataDir, '..', '..', 'score.mjs');
  return ['node', scorer, 'retrieval', file, '--truth', path.resolve(dataDir)];
}

export type ScorerResult =
  { ndcg10: number; recall10: number; recall100: number; mrr10: number } | { error: string };

/** Runs the scorer; undefined when the set has none beside it. */
export function runScorer(dataDir: string, file: string): ScorerResult | undefined {
  const command = scorerCommand(dataDir, file);
  if (!existsSync(command[1]!)) return undefined;
  const scored = spawnSync(command[0]!, [...command.slice(1), '--json'], { encoding: 'utf8' });
  return scored.status === 0 ? (JSON.parse(scored.stdout) as ScorerResult) : { error: scored.stderr.trim() };
}

/** The command-line options through which both retrieval benchmarks choose their inputs. */
export interface BenchInputOptions {
  'cache-dir'?: string | undefined;
  embedder?: string | undefined;
  'limit-queries'?: string | undefined;
  'no-cache'?: boolean | undefined;
}

/**
 * What both retrieval benchmarks start from: the dev set of the BEIR folder, the embedder (by default
 * all-MiniLM-L6-v2 from the model cache) and the embedding cache beside the models.
 */
export async function openBenchInputs(dataDir: string, values: BenchInputOptions) {
  const cacheRoot =
    values['cache-dir'] ?? process.env.LLMTWIN_CACHE_DIR ?? path.join(homedir(), '.cache', 'llmtwin');
  const embedderUrl = values.embedder ?? `onnx:${path.join(cacheRoot, 'models', 'all-MiniLM-L6-v2')}`;
  const devSet = loadDevSet(dataDir, values['limit-queries'] ? Number(values['limit-queries']) : undefined);
  const embedder = await createEmbedder(embedderUrl, { cacheDir: cacheRoot });
  const cache = new EmbeddingCache(
    path.join(cacheRoot, 'bench'),
    embedder.model,
    embedder.dimensions,
    !values['no-cache'],
  );
  return { ...devSet, embedder, cache };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      out: { type: 'string' },
      mode: { type: 'string', default: 'all' },
      'limit-queries': { type: 'string' },
      alpha: { type: 'string' },
      'tune-alpha': { type: 'boolean', default: false },
      embedder: { type: 'string' },
      'no-cache': { type: 'boolean', default: false },
      'cache-dir': { type: 'string' },
    },
    allowPositionals: true,
  });
  const dataDir = positionals[0];
  const modeArg = values.mode ?? 'all';
  if (!dataDir || !(modeArg === 'all' || (MODES as readonly string[]).includes(modeArg))) {
    console.error(
      'usage: npm run bench -- retrieval <data folder> --out <predictions.json> [--mode dense|keyword|hybrid|all] ' +
        '[--limit-queries N] [--alpha A | --tune-alpha] [--embedder onnx:<model>] [--no-cache]',
    );
    process.exit(2);
  }
  const modes: SearchMode[] = modeArg === 'all' ? [...MODES] : [modeArg as SearchMode];
  const { corpus, devQrels, devQueries, embedder, cache } = await openBenchInputs(dataDir, values);
  const workDir = mkdtempSync(path.join(tmpdir(), 'llmtwin-bench-retrieval-'));
  let store: VectorStore | undefined;

  try {
    store = await createVectorStore(`sqlite:${path.join(workDir, 'vectors.db')}`);
    const indexed = await indexCorpus(corpus, embedder, cache, store, COLLECTION);
    const { chunks, cleanChunkSeconds, upsertSeconds } = indexed;
    const passages = { embedded: indexed.embedded, seconds: indexed.embedSeconds };
    const indexSeconds = cleanChunkSeconds + passages.seconds + upsertSeconds;

    // ---------------------------------------------------------------------------------------------- search

    /** Chunk hits → documents by their best chunk, best first, at most TOP_DOCUMENTS. */
    const search = async (
      mode: SearchMode,
      text: string,
      vector: Float32Array,
      alpha: number | undefined,
    ): Promise<string[]> => {
      const hits = await store!.search(COLLECTION, {
        mode,
        text,
        vector,
        limit: CHUNK_LIMIT,
        ...(alpha === undefined ? {} : { alpha }),
      });
      const best = new Map<string, number>();
      for (const hit of hits) {
        const doc = hit.metadata.documentId;
        if (!best.has(doc) || best.get(doc)! < hit.score) best.set(doc, hit.score);
      }
      return [...best.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, TOP_DOCUMENTS)
        .map(([doc]) => doc);
    };

    const run = async (
      queries: readonly Query[],
      vectors: readonly Float32Array[],
      mode: SearchMode,
      alpha?: number,
    ) => {
      const predictions: Record<string, string[]> = {};
      const latencies: number[] = [];
      for (const [i, q] of queries.entries()) {
        const start = performance.now();
        predictions[q._id] = await search(mode, q.text, vectors[i]!, alpha);
        latencies.push(performance.now() - start);
      }
      return { predictions, latencies };
    };

    let alpha: number | undefined = values.alpha === undefined ? undefined : Number(values.alpha);
    let tuning: { alpha: number; ndcg10: number; recall100: number }[] | undefined;
    if (values['tune-alpha'] && modes.includes('hybrid')) {
      const trainQrels = readQrels(firstExisting(dataDir, 'qrels-train.tsv'));
      const train = readLines(firstExisting(dataDir, 'queries-train.jsonl'))
        .map((l) => JSON.parse(l) as Query)
        .filter((q) => trainQrels.has(q._id));
      const trainVectors = (
        await embedAll(
          embedder,
          cache,
          train.map((q) => q.text),
          'query',
        )
      ).vectors;
      tuning = [];
      for (const a of ALPHA_GRID) {
        const { predictions } = await run(train, trainVectors, 'hybrid', a);
        const m = evaluate(
          predictions,
          trainQrels,
          train.map((q) => q._id),
        );
        tuning.push({ alpha: a, ndcg10: round(m.ndcg10, 4), recall100: round(m.recall100, 4) });
        console.error(`train alpha ${a}: nDCG@10 ${m.ndcg10.toFixed(4)} R@100 ${m.recall100.toFixed(4)}`);
      }
      alpha = tuning.reduce((best, t) => (t.ndcg10 > best.ndcg10 ? t : best)).alpha;
    }

    // Query embedding timed one query at a time, as a user's request would be; cached vectors skip the model.
    const queryEmbedMs: number[] = [];
    const queryVectors: Float32Array[] = [];
    for (const q of devQueries) {
      const start = performance.now();
      const { vectors, embedded } = await embedAll(embedder, cache, [q.text], 'query');
      if (embedded > 0) queryEmbedMs.push(performance.now() - start);
      queryVectors.push(vectors[0]!);
    }

    const results: Record<string, unknown> = {};
    for (const mode of modes) {
      const { predictions, latencies } = await run(
        devQueries,
        queryVectors,
        mode,
        mode === 'hybrid' ? alpha : undefined,
      );
      const own = evaluate(
        predictions,
        devQrels,
        devQueries.map((q) => q._id),
      );
      const entry: Record<string, unknown> = {
        ndcg10: round(own.ndcg10, 4),
        recall100: round(own.recall100, 4),
        searchMs: { p50: round(percentile(latencies, 50), 2), p95: round(percentile(latencies, 95), 2) },
      };
      if (values.out) {
        const file = modes.length === 1 ? values.out : values.out.replace(/(\.json)?$/, `.${mode}.json`);
        writeFileSync(file, JSON.stringify(predictions));
        entry.predictions = file;
        entry.scorerCommand = scorerCommand(dataDir, file).join(' ');
        const s = values['limit-queries'] ? undefined : runScorer(dataDir, file);
        if (s)
          entry.scorer = 'error' in s ? s : { ndcg10: round(s.ndcg10, 4), recall100: round(s.recall100, 4) };
      }
      results[mode] = entry;
    }

    const summary = {
      set: path.resolve(dataDir),
      embedder: embedder.model,
      maxTokens: embedder.maxTokens,
      documents: corpus.length,
      chunks: chunks.length,
      queries: devQueries.length,
      hybridAlpha: alpha ?? 0.5,
      ...(tuning ? { alphaTuning: { on: 'queries-train.jsonl', grid: tuning } } : {}),
      indexing: {
        embeddingCache: values['no-cache'] ? 'off' : `${cache.size} vectors`,
        chunksEmbedded: passages.embedded,
        // docs/s and chunks/s below count cached vectors as free: compare them only between uncached runs.
        chunksFromCache: chunks.length - passages.embedded,
        cleanChunkSeconds: round(cleanChunkSeconds, 2),
        embedSeconds: round(passages.seconds, 2),
        upsertSeconds: round(upsertSeconds, 2),
        docsPerSecond: round(corpus.length / indexSeconds),
        chunksPerSecond: round(chunks.length / indexSeconds),
        ...(passages.embedded > 0
          ? { embedChunksPerSecond: round(passages.embedded / passages.seconds) }
          : {}),
      },
      queryEmbedMs:
        queryEmbedMs.length > 0
          ? { p50: round(percentile(queryEmbedMs, 50), 2), p95: round(percentile(queryEmbedMs, 95), 2) }
          : 'cached',
      modes: results,
    };
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    await store?.close();
    await embedder.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

// Runs only as the entry point: bench/rag-retrieval.ts imports the helpers above.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
