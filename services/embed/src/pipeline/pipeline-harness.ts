// Test harness for the feature pipeline: clean, chunk and embed modules on embedded adapters in a temporary
// folder, raw events published as ingest would, and a wait until every consumer group has caught up.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { commonv1, ingesteventsv1, topics } from '@llmtwin/contracts';
import { createCleanModule } from '@llmtwin/clean';
import { createChunkModule } from '@llmtwin/chunk';
import { type Chunker } from '@llmtwin/chunking';
import { InProcessDirectory, type ServiceModule } from '@llmtwin/host';
import { publishEvent, type EventBus, type VectorStore, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createVectorStore, createWarehouse } from '@llmtwin/ports/adapters';
import { pino } from 'pino';
import type { Embedder } from '@llmtwin/ports';
import { createEmbedModule, type EmbedModule } from '../module.js';

export interface Pipeline {
  warehouse: Warehouse;
  bus: EventBus;
  vectors: VectorStore;
  embed: EmbedModule;
  modules: ServiceModule[];
  dir: string;
}

const logger = pino({ level: 'silent' });

export async function startPipeline(embedder: Embedder, chunker: Chunker): Promise<Pipeline> {
  const dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-pipeline-'));
  const warehouse = await createWarehouse(`sqlite:${path.join(dir, 'warehouse.db')}`);
  const bus = createEventBus(`log:${path.join(dir, 'events.db')}`);
  const vectors = await createVectorStore(`sqlite:${path.join(dir, 'vectors.db')}`);
  await bus.ensureTopics([topics.documentsRaw]);
  const directory = new InProcessDirectory();
  const retry = { maxAttempts: 2, retryBackoffMs: 10 };
  const clean = await createCleanModule({
    warehouse,
    eventBus: bus,
    logger,
    directory,
    fetchRaw: async (id) => {
      throw new Error(`fake ingest has no document ${id}`);
    },
    ...retry,
  });
  const chunk = await createChunkModule({ warehouse, eventBus: bus, chunker, logger, ...retry });
  const embed = await createEmbedModule({
    warehouse,
    eventBus: bus,
    vectorStore: vectors,
    embedder,
    embedderAdapter: 'fake',
    chunker,
    logger,
    directory,
    ...retry,
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
  const deadline = Date.now() + 30_000;
  for (;;) {
    const lags = await Promise.all([
      p.bus.lag('clean', topics.documentsRaw),
      p.bus.lag('chunk', topics.documentsCleaned),
      p.bus.lag('embed', topics.chunks),
    ]);
    if (lags.every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`pipeline did not drain: lags ${lags.join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
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
  doc: { id: string; version: number; title?: string; paragraphs?: string[]; tombstone?: boolean },
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
      raw: doc.tombstone ? new Uint8Array() : articleHtml(doc.title ?? doc.id, doc.paragraphs ?? []),
      rawContentType: 'text/html; charset=utf-8',
    },
    eventTime: timestampFromMs(Date.now()),
  });
}
