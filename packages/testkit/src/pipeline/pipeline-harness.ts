// Test harness for the feature pipeline: clean, chunk and embed modules on embedded adapters in a temporary
// folder, raw events published as ingest would, and a wait until every consumer group has caught up.
// packages/ never import a service, so the caller hands in the three module factories (a test imports them
// from the services' package entries) and the harness only composes them; their dependencies are described
// here structurally, as the subset of each service's deps the harness provides.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { commonv1, ingesteventsv1, topics } from '@llmtwin/contracts';
import type { Chunker } from '@llmtwin/chunking';
import { InProcessDirectory, type ServiceDirectory, type ServiceModule } from '@llmtwin/host';
import { publishEvent, type Embedder, type EventBus, type VectorStore, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createVectorStore, createWarehouse } from '@llmtwin/ports/adapters';
import { pino, type Logger } from 'pino';
import { poll } from '../poll.js';

/** What every pipeline module is given: the shared adapters, a silent logger and fast retries. */
interface StageDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
  logger: Logger;
  maxAttempts: number;
  retryBackoffMs: number;
  /** Each consumer's messages at once per partition; the modules' own default when absent. */
  concurrency?: number;
}

/** The module factories the harness composes: `createCleanModule` from @llmtwin/clean, and so on. */
export interface PipelineFactories<E extends ServiceModule = ServiceModule> {
  createCleanModule: (
    deps: StageDeps & {
      directory: ServiceDirectory;
      /** There is no ingest behind the harness: every raw document arrives in its event. */
      fetchRaw: (id: string) => Promise<never>;
    },
  ) => Promise<ServiceModule>;
  createChunkModule: (deps: StageDeps & { chunker: Chunker }) => Promise<ServiceModule>;
  createEmbedModule: (
    deps: StageDeps & {
      vectorStore: VectorStore;
      embedder: Embedder;
      embedderAdapter: string;
      chunker: Chunker;
      /** Reaches the clean module (a reindex reads the cleaned snapshot there). */
      directory: ServiceDirectory;
    },
  ) => Promise<E>;
}

/** A running pipeline; `E` is the embed module's type, for tests that use more of it than a ServiceModule. */
export interface Pipeline<E extends ServiceModule = ServiceModule> {
  warehouse: Warehouse;
  bus: EventBus;
  vectors: VectorStore;
  embed: E;
  /** clean, chunk and embed, in that order. */
  modules: ServiceModule[];
  dir: string;
}

const logger = pino({ level: 'silent' });

export async function startPipeline<E extends ServiceModule>(
  factories: PipelineFactories<E>,
  embedder: Embedder,
  chunker: Chunker,
  options: { concurrency?: number } = {},
): Promise<Pipeline<E>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-pipeline-'));
  const warehouse = await createWarehouse(`sqlite:${path.join(dir, 'warehouse.db')}`);
  const bus = createEventBus(`log:${path.join(dir, 'events.db')}`);
  const vectors = await createVectorStore(`sqlite:${path.join(dir, 'vectors.db')}`);
  await bus.ensureTopics([topics.documentsRaw]);
  const directory = new InProcessDirectory();
  const shared: StageDeps = {
    warehouse,
    eventBus: bus,
    logger,
    maxAttempts: 2,
    retryBackoffMs: 10,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
  };
  const clean = await factories.createCleanModule({
    ...shared,
    directory,
    fetchRaw: async (id) => {
      throw new Error(`fake ingest has no document ${id}`);
    },
  });
  const chunk = await factories.createChunkModule({ ...shared, chunker });
  const embed = await factories.createEmbedModule({
    ...shared,
    vectorStore: vectors,
    embedder,
    embedderAdapter: 'fake',
    chunker,
    directory,
  });
  directory.add('clean', (router) => clean.register(router));
  const modules = [clean, chunk, embed];
  for (const m of modules) await m.start?.();
  return { warehouse, bus, vectors, embed, modules, dir };
}

export async function stopPipeline(p: Pipeline): Promise<void> {
  for (const m of [...p.modules].reverse()) await m.stop?.();
  await p.bus.close();
  await p.vectors.close();
  await p.warehouse.close();
  await rm(p.dir, { recursive: true, force: true });
}

/** Waits until every consumer group has committed everything on its topic. */
export async function drained(p: Pipeline): Promise<void> {
  await poll(
    () =>
      Promise.all([
        p.bus.lag('clean', topics.documentsRaw),
        p.bus.lag('chunk', topics.documentsCleaned),
        p.bus.lag('embed', topics.chunks),
      ]),
    {
      what: 'the pipeline to drain (lags of clean, chunk, embed)',
      timeoutMs: 30_000,
      until: (lags) => lags.every((n) => n === 0),
    },
  );
}

export function articleHtml(title: string, paragraphs: string[]): Uint8Array {
  return new TextEncoder().encode(
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>` +
      `<nav><a href="/">Home</a> <a href="/about">About</a></nav><article><h1>${title}</h1>` +
      paragraphs.map((p) => `<p>${p}</p>`).join('') +
      `</article><footer>© Example footer, all rights reserved</footer></body></html>`,
  );
}

export async function publishRaw(
  bus: EventBus,
  doc: {
    id: string;
    version: number;
    title?: string;
    paragraphs?: string[];
    tombstone?: boolean;
    draft?: boolean;
  },
): Promise<void> {
  await publishEvent(bus, topics.documentsRaw, ingesteventsv1.RawDocumentChangedSchema, doc.id, {
    eventId: `${doc.id}-${doc.version}-${Math.random()}`,
    change: doc.tombstone ? ingesteventsv1.ChangeKind.TOMBSTONED : ingesteventsv1.ChangeKind.UPDATED,
    document: {
      id: doc.id,
      authorId: 'jane',
      category: commonv1.Category.ARTICLE,
      platform: commonv1.Platform.WEB,
      canonicalUrl: `https://example.com/${doc.id}`,
      title: doc.title ?? doc.id,
      publishTime: timestampFromMs(Date.UTC(2024, 0, 2)),
      version: BigInt(doc.version),
      tombstone: doc.tombstone ?? false,
      draft: doc.draft ?? false,
      raw: doc.tombstone ? new Uint8Array() : articleHtml(doc.title ?? doc.id, doc.paragraphs ?? []),
      rawContentType: 'text/html; charset=utf-8',
    },
    eventTime: timestampFromMs(Date.now()),
  });
}
