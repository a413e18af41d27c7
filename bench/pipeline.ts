// Feature-pipeline latency and throughput: real saved pages as documents.raw events through the real clean,
// chunk and embed modules (embedded adapters, all-MiniLM-L6-v2 int8 ONNX in process) until searchable.
//   npm run bench -- pipeline <folder of saved .html pages> [--modes idle,sustained,burst]
//     [--latency-docs K] [--rate R --seconds S] [--docs N] [--embedder onnx:…|fake]
//     [--embed-delay-ms D] [--concurrency 1,4] [--repeat N] [--out file.json]
// Searchable = the embed service's chunks.embedded event for the document (its vectors are in the live
// collection by then). Every latency is also split by stage: publish → documents.cleaned (clean),
// → chunks (chunk), → chunks.embedded (embed, including the wait for the embedder).
// idle: K documents published one at a time on an idle pipeline.
// sustained: documents published at a steady R per second for S seconds (open loop: on schedule whether or
//   not earlier ones are done); latency counted from each one's due time, p50/p95/max.
// burst: N documents published at once; documents/s and chunks/s until the last one is embedded, and each
//   one's latency.
// --embedder fake (a bag-of-words embedder, no model) leaves the bus, the consumers and the stores: the
// pipeline's own overhead without the model's compute. --embed-delay-ms D makes every embed call wait D ms
// more without using the CPU, as a remote embedder's round trip does (text-embeddings-inference elsewhere).
// --concurrency: the consumers' messages at once per partition (SubscribeOptions.concurrency), one fresh
// pipeline per value, alternating (--repeat times), so that values are compared under the same load; the
// JSON has one run per value and repeat. Default: the modules' own default.
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createChunkModule } from '@llmtwin/chunk';
import { commonv1, embedeventsv1, ingesteventsv1, topics } from '@llmtwin/contracts';
import { policyChunker } from '@llmtwin/chunking';
import { createCleanModule } from '@llmtwin/clean';
import { createEmbedModule } from '@llmtwin/embed';
import { createEmbedder } from '@llmtwin/ports/adapters';
import { decodeEvent, publishEvent, type Embedder, type Subscription } from '@llmtwin/ports';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir, loadavg } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Distribution } from './percentiles.js';
import { fakeEmbedder, startPipeline, stopPipeline } from '@llmtwin/testkit/pipeline';

const { values, positionals } = parseArgs({
  options: {
    modes: { type: 'string', default: 'idle,sustained,burst' },
    docs: { type: 'string', default: '60' },
    'latency-docs': { type: 'string', default: '10' },
    rate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
    embedder: { type: 'string', default: 'onnx:all-MiniLM-L6-v2' },
    'timeout-s': { type: 'string', default: '600' },
    concurrency: { type: 'string', default: 'default' },
    repeat: { type: 'string', default: '1' },
    'embed-delay-ms': { type: 'string', default: '0' },
    out: { type: 'string' },
  },
  allowPositionals: true,
});
const folder = positionals[0] ?? 'services/ingest/test/fixtures';
const modes = new Set(values.modes.split(',').map((m) => m.trim()));
for (const m of modes)
  if (!['idle', 'sustained', 'burst'].includes(m))
    throw new Error(`unknown mode ${m} (idle, sustained, burst)`);
const burstDocs = Number(values.docs);
const latencyDocs = Number(values['latency-docs']);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const timeoutMs = Number(values['timeout-s']) * 1000;

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
const baseEmbedder: Embedder =
  values.embedder === 'fake' ? fakeEmbedder(384) : await createEmbedder(values.embedder, { cacheDir });
const embedDelayMs = Number(values['embed-delay-ms']);
const embedder: Embedder =
  embedDelayMs > 0
    ? {
        model: baseEmbedder.model,
        dimensions: baseEmbedder.dimensions,
        maxTokens: baseEmbedder.maxTokens,
        embed: async (texts, inputType, signal) => {
          await sleep(embedDelayMs);
          return baseEmbedder.embed(texts, inputType, signal);
        },
        countTokens: (text, inputType) => baseEmbedder.countTokens(text, inputType),
        tokenize: (text) => baseEmbedder.tokenize(text),
        ping: (signal) => baseEmbedder.ping(signal),
        close: () => baseEmbedder.close(),
      }
    : baseEmbedder;
const concurrencies = values.concurrency
  .split(',')
  .map((c) => (c.trim() === 'default' ? undefined : Number(c)));
const repeat = Number(values.repeat);
const ms = (v: number): number => +v.toFixed(v < 100 ? 1 : 0);

// How long the process's event loop was blocked (every stage and this driver share it): a high value
// delays every consumer's next message and the publisher's schedule.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const loopDelayMs = () => {
  const r = {
    p50: ms(loopDelay.percentile(50) / 1e6),
    p99: ms(loopDelay.percentile(99) / 1e6),
    max: ms(loopDelay.max / 1e6),
  };
  loopDelay.reset();
  return r;
};

async function measure(concurrency: number | undefined): Promise<Record<string, unknown>> {
  const pipeline = await startPipeline(
    { createCleanModule, createChunkModule, createEmbedModule },
    embedder,
    policyChunker(embedder),
    concurrency === undefined ? {} : { concurrency },
  );

  // When each document reached each stage, by document id (the events' key).
  interface Doc {
    id: string;
    /** Due (sustained) or publish (idle, burst) time. */
    at: number;
    cleaned?: number;
    chunked?: number;
    embedded?: number;
    chunks?: number;
  }
  const docs = new Map<string, Doc>();
  const waiters = new Map<string, () => void>();
  await pipeline.bus.ensureTopics([topics.documentsCleaned, topics.chunks, topics.chunksEmbedded]);
  const watch = (topic: string, stage: 'cleaned' | 'chunked'): Promise<Subscription> =>
    pipeline.bus.subscribe({
      group: `bench-pipeline-${stage}`,
      topics: [topic],
      from: 'latest',
      handler: async (message) => {
        const doc = docs.get(message.key);
        if (doc) doc[stage] ??= performance.now();
      },
    });
  const subs = [
    await watch(topics.documentsCleaned, 'cleaned'),
    await watch(topics.chunks, 'chunked'),
    await pipeline.bus.subscribe({
      group: 'bench-pipeline-embedded',
      topics: [topics.chunksEmbedded],
      from: 'latest',
      handler: async (message) => {
        const doc = docs.get(message.key);
        if (!doc || doc.embedded !== undefined) return;
        doc.embedded = performance.now();
        doc.chunks = decodeEvent(embedeventsv1.ChunksEmbeddedSchema, message).chunkIds.length;
        waiters.get(doc.id)?.();
      },
    }),
  ];

  let seq = 0;
  async function publish(at = performance.now()): Promise<Doc> {
    const i = seq++;
    const id = `doc_bench_${i}`;
    const doc: Doc = { id, at };
    docs.set(id, doc);
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
        raw: pages[i % pages.length]!,
        rawContentType: 'text/html; charset=utf-8',
      },
      eventTime: timestampFromMs(Date.now()),
    });
    return doc;
  }

  const until = (doc: Doc): Promise<void> =>
    doc.embedded !== undefined
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${doc.id} was not embedded in ${timeoutMs} ms`)),
            timeoutMs,
          );
          waiters.set(doc.id, () => {
            clearTimeout(timer);
            waiters.delete(doc.id);
            resolve();
          });
        });

  function summary(samples: number[]): { p50: number; p95: number; max: number } {
    const d = new Distribution(samples);
    return { p50: ms(d.percentile(50)), p95: ms(d.percentile(95)), max: ms(d.max) };
  }
  /** Total latency and the share of each stage, over a set of documents. */
  function latencies(set: Doc[]) {
    const stage = (f: (d: Doc) => number | undefined) =>
      summary(set.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v)));
    return {
      total: stage((d) => d.embedded! - d.at),
      clean: stage((d) => (d.cleaned === undefined ? undefined : d.cleaned - d.at)),
      chunk: stage((d) =>
        d.chunked === undefined || d.cleaned === undefined ? undefined : d.chunked - d.cleaned,
      ),
      embed: stage((d) => (d.chunked === undefined ? undefined : d.embedded! - d.chunked)),
    };
  }
  const chunkCount = (set: Doc[]): number => set.reduce((n, d) => n + (d.chunks ?? 0), 0);

  const report: Record<string, unknown> = { concurrency: concurrency ?? 'default' };

  // Warm-up: the first document pays for lazy loading (model session, extractor) in every stage.
  await until(await publish());
  loopDelay.reset();
  loopDelay.enable();

  if (modes.has('idle')) {
    const set: Doc[] = [];
    for (let k = 0; k < latencyDocs; k++) {
      const doc = await publish();
      await until(doc);
      set.push(doc);
    }
    report['idle'] = {
      documents: latencyDocs,
      chunks: chunkCount(set),
      latencyMs: latencies(set),
      eventLoopDelayMs: loopDelayMs(),
    };
  }

  if (modes.has('sustained')) {
    const count = Math.round(rate * seconds);
    const set: Doc[] = [];
    const start = performance.now();
    let lateMs = 0;
    for (let k = 0; k < count; k++) {
      const due = start + (k * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else lateMs = Math.max(lateMs, -wait);
      set.push(await publish(due));
    }
    const published = performance.now();
    await Promise.all(set.map(until));
    const done = performance.now();
    const chunks = chunkCount(set);
    report['sustained'] = {
      rate,
      seconds,
      documents: count,
      chunks,
      chunksPerSecondOffered: +((chunks / count) * rate).toFixed(1),
      // How long the pipeline kept working after the last publish: ~0 when it keeps up with the rate.
      drainSeconds: +((done - published) / 1000).toFixed(2),
      publisherLateMs: ms(lateMs),
      latencyMs: latencies(set),
      eventLoopDelayMs: loopDelayMs(),
    };
  }

  if (modes.has('burst')) {
    const set: Doc[] = [];
    const started = performance.now();
    for (let k = 0; k < burstDocs; k++) set.push(await publish());
    await Promise.all(set.map(until));
    const elapsed = (performance.now() - started) / 1000;
    const chunks = chunkCount(set);
    report['burst'] = {
      documents: burstDocs,
      chunks,
      seconds: +elapsed.toFixed(2),
      documentsPerSecond: +(burstDocs / elapsed).toFixed(2),
      chunksPerSecond: +(chunks / elapsed).toFixed(1),
      latencyMs: latencies(set),
      eventLoopDelayMs: loopDelayMs(),
    };
  }

  loopDelay.disable();
  for (const sub of subs) await sub.stop();
  await stopPipeline(pipeline);
  report['loadAverageAtEnd'] = loadavg().map((v) => +v.toFixed(2));
  return report;
}

const report = {
  benchmark: 'pipeline',
  model: embedder.model,
  embedDelayMs,
  savedPages: files.length,
  machine: { cpus: availableParallelism(), loadAverageAtStart: loadavg().map((v) => +v.toFixed(2)) },
  runs: [] as Record<string, unknown>[],
  node: process.version,
};
for (let r = 0; r < repeat; r++) {
  for (const concurrency of concurrencies) {
    const run = await measure(concurrency);
    report.runs.push(run);
    console.error(JSON.stringify(run));
  }
}
await embedder.close();
console.log(JSON.stringify(report, null, 2));
if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
