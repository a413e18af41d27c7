// Feature-pipeline throughput and latency: real saved pages as documents.raw events through the real clean,
// chunk and embed modules (embedded adapters, all-MiniLM-L6-v2 int8 ONNX in process) until searchable.
//   npm run bench -- pipeline <folder of saved .html pages> [--docs N] [--latency-docs K] [--out file.json]
// Throughput: N documents published at once, documents/s until the last one's chunks are embedded.
// Latency: K documents published one at a time on an idle pipeline, publish → chunks.embedded event.
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createChunkModule } from '@llmtwin/chunk';
import { commonv1, embedeventsv1, ingesteventsv1, topics } from '@llmtwin/contracts';
import { policyChunker } from '@llmtwin/chunking';
import { createCleanModule } from '@llmtwin/clean';
import { createEmbedModule } from '@llmtwin/embed';
import { createEmbedder } from '@llmtwin/ports/adapters';
import { decodeEvent, publishEvent } from '@llmtwin/ports';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { percentile } from './percentiles.js';
import { startPipeline, stopPipeline } from '@llmtwin/testkit/pipeline';

const { values, positionals } = parseArgs({
  options: {
    docs: { type: 'string', default: '60' },
    'latency-docs': { type: 'string', default: '20' },
    out: { type: 'string' },
  },
  allowPositionals: true,
});
const folder = positionals[0] ?? 'services/ingest/test/fixtures';
const total = Number(values.docs);
const latencyDocs = Number(values['latency-docs']);

async function htmlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.html?$/i.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

const files = await htmlFiles(folder);
if (files.length === 0) throw new Error(`no .html pages under ${folder}`);
const pages = await Promise.all(files.map((f) => readFile(f)));

const cacheDir = process.env['LLMTWIN_CACHE_DIR'] || path.join(homedir(), '.cache', 'llmtwin');
const embedder = await createEmbedder('onnx:all-MiniLM-L6-v2', { cacheDir });
const pipeline = await startPipeline(
  { createCleanModule, createChunkModule, createEmbedModule },
  embedder,
  policyChunker(embedder),
);

// When each document's chunks became searchable: the embed service's event for that version.
const embeddedAt = new Map<string, number>();
let chunks = 0;
const waiters = new Map<string, () => void>();
await pipeline.bus.ensureTopics([topics.chunksEmbedded]);
const sub = await pipeline.bus.subscribe({
  group: 'bench-pipeline',
  topics: [topics.chunksEmbedded],
  from: 'latest',
  handler: async (message) => {
    const event = decodeEvent(embedeventsv1.ChunksEmbeddedSchema, message);
    const id = event.ref?.documentId ?? message.key;
    embeddedAt.set(id, performance.now());
    chunks += event.chunkIds.length;
    waiters.get(id)?.();
  },
});

let seq = 0;
async function publish(): Promise<{ id: string; at: number }> {
  const i = seq++;
  const id = `doc_bench_${i}`;
  const raw = pages[i % pages.length]!;
  const at = performance.now();
  await publishEvent(pipeline.bus, topics.documentsRaw, ingesteventsv1.RawDocumentChangedSchema, id, {
    eventId: `${id}-1`,
    change: ingesteventsv1.ChangeKind.CREATED,
    document: {
      id,
      authorId: 'bench',
      category: commonv1.Category.ARTICLE,
      platform: commonv1.Platform.WEB,
      canonicalUrl: `https://bench.example/${i}`,
      title: `Bench ${i}`,
      publishTime: timestampFromMs(Date.UTC(2024, 0, 1)),
      version: 1n,
      raw,
      rawContentType: 'text/html; charset=utf-8',
    },
    eventTime: timestampFromMs(Date.now()),
  });
  return { id, at };
}

const until = (id: string, timeoutMs = 600_000) =>
  embeddedAt.has(id)
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${id} was not embedded in ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      });

// Latency on an idle pipeline, one document at a time.
const latencies: number[] = [];
for (let k = 0; k < latencyDocs; k++) {
  const { id, at } = await publish();
  await until(id);
  latencies.push(embeddedAt.get(id)! - at);
}

// Throughput: a burst of documents.
const chunksBefore = chunks;
const started = performance.now();
const burst: { id: string; at: number }[] = [];
for (let k = 0; k < total; k++) burst.push(await publish());
await Promise.all(burst.map((d) => until(d.id)));
const seconds = (performance.now() - started) / 1000;
const burstLatencies = burst.map((d) => embeddedAt.get(d.id)! - d.at);

await sub.stop();
await stopPipeline(pipeline);
await embedder.close();

const report = {
  benchmark: 'pipeline',
  model: embedder.model,
  savedPages: files.length,
  idleLatencyMs: {
    documents: latencyDocs,
    p50: +percentile(latencies, 50).toFixed(1),
    p95: +percentile(latencies, 95).toFixed(1),
  },
  burst: {
    documents: total,
    chunks: chunks - chunksBefore,
    seconds: +seconds.toFixed(2),
    documentsPerSecond: +(total / seconds).toFixed(2),
    chunksPerSecond: +((chunks - chunksBefore) / seconds).toFixed(1),
    latencyMs: {
      p50: +percentile(burstLatencies, 50).toFixed(0),
      p95: +percentile(burstLatencies, 95).toFixed(0),
    },
  },
  node: process.version,
};
console.log(JSON.stringify(report, null, 2));
if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
