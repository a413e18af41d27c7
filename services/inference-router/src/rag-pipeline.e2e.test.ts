/** @jest-environment ./packages/ports/src/embedder/onnx-test-environment.mjs */
// The inference router over the real feature pipeline: real saved pages go through clean → chunk → embed with
// the real embedder (all-MiniLM-L6-v2 prepared by scripts/prepare-models.mjs), and the router, with no LLM
// configured, answers a question by quoting the page that holds the answer and citing its URL.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createChunkModule } from '@llmtwin/chunk';
import { commonv1, inferencev1, ingesteventsv1, topics } from '@llmtwin/contracts';
import { policyChunker } from '@llmtwin/chunking';
import { createCleanModule } from '@llmtwin/clean';
import { createEmbedModule } from '@llmtwin/embed';
import { type Embedder } from '@llmtwin/ports';
import { createEmbedder } from '@llmtwin/ports/adapters';
import { InProcessDirectory, createModuleHealth } from '@llmtwin/host';
import { publishEvent, type EventBus } from '@llmtwin/ports';
import { buildServer, inProcessTransport } from '@llmtwin/runtime';
import { pino } from 'pino';
import { drained, startPipeline, stopPipeline, type Pipeline } from '@llmtwin/testkit/pipeline';
import { createInferenceRouterModule } from './module.js';

const cacheDir = process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin');
const modelDir = path.join(cacheDir, 'models', 'all-MiniLM-L6-v2');
const fixtures = fileURLToPath(new URL('../../ingest/test/fixtures/', import.meta.url));

const VLAE_URL = 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes';
const pages = [
  {
    id: 'doc_vlae',
    author: 'theahura',
    file: 'substack/kepano-defuddle/tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html',
    url: VLAE_URL,
    title: "Ilya's Papers to Carmack: VLAEs",
    published: Date.parse('2025-03-06T12:48:40Z'),
    category: commonv1.Category.ARTICLE,
  },
  {
    id: 'doc_medium',
    author: 'theahura',
    file: 'medium-export/TryGhost-migrate/packages/mg-medium-export/test/fixtures/export/posts/advanced-post.html',
    url: 'https://medium.com/@example/advanced-post',
    title: 'Advanced post',
    published: Date.parse('2018-08-11T11:23:34Z'),
    category: commonv1.Category.ARTICLE,
  },
  // Another author's page on the same platform: it must never be retrieved for theahura.
  {
    id: 'doc_note',
    author: 'richholmes',
    file: 'substack/kepano-defuddle/tests/fixtures/general--substack-app.html',
    url: 'https://substack.com/@richholmes/note/c-202380205',
    title: 'Rich Holmes (@richholmes)',
    published: Date.parse('2026-03-01T00:00:00Z'),
    category: commonv1.Category.POST,
  },
];

async function publishPage(bus: EventBus, page: (typeof pages)[number]): Promise<void> {
  await publishEvent(bus, topics.documentsRaw, ingesteventsv1.RawDocumentChangedSchema, page.id, {
    eventId: `${page.id}-1`,
    change: ingesteventsv1.ChangeKind.UPDATED,
    document: {
      id: page.id,
      authorId: page.author,
      category: page.category,
      platform: commonv1.Platform.SUBSTACK,
      canonicalUrl: page.url,
      title: page.title,
      publishTime: timestampFromMs(page.published),
      version: 1n,
      raw: new Uint8Array(await readFile(path.join(fixtures, page.file))),
      rawContentType: 'text/html; charset=utf-8',
    },
    eventTime: timestampFromMs(Date.now()),
  });
}

const QUESTION = 'Why would a car classifier put school buses next to Ferraris?';

describe('the inference router on the real feature pipeline, with no LLM configured', () => {
  let embedder: Embedder;
  let p: Pipeline;
  let client: Client<typeof inferencev1.InferenceService>;

  beforeAll(async () => {
    if (!existsSync(path.join(modelDir, 'config.json'))) {
      throw new Error(
        `the embedding model is not prepared in ${modelDir}: run \`node scripts/prepare-models.mjs\``,
      );
    }
    embedder = await createEmbedder('onnx:all-MiniLM-L6-v2', { cacheDir });
    p = await startPipeline(
      { createCleanModule, createChunkModule, createEmbedModule },
      embedder,
      policyChunker(embedder),
    );
    for (const page of pages) await publishPage(p.bus, page);
    await drained(p);
    const directory = new InProcessDirectory();
    directory.add('embed', (router) => p.embed.register(router));
    const router = await createInferenceRouterModule({
      warehouse: p.warehouse,
      directory,
      logger: pino({ level: 'silent' }),
    });
    // Through buildServer, as the hosts serve it: domain errors reach the client as Connect codes.
    const server = buildServer({
      name: router.name,
      register: (r) => router.register(r),
      services: router.services,
      health: createModuleHealth(router),
      logger: pino({ level: 'silent' }),
    });
    client = createClient(inferencev1.InferenceService, inProcessTransport(server.routes));
  }, 180_000);

  afterAll(async () => {
    if (p) await stopPipeline(p);
    await embedder?.close();
  });

  it('Generate quotes the page that holds the answer and cites its URL', async () => {
    const res = await client.generate({ query: QUESTION, authorId: 'theahura' });
    expect(res.extractive).toBe(true);
    expect(res.model).toBe('extractive');
    expect(res.promptTemplateVersion).toBe('extractive-v1');
    expect(res.finishReason).toBe('stop');
    expect(res.answer).toMatch(/^No language model is configured, so this is an extractive answer/);
    expect(res.answer).toContain('school buses are close to the trucks');
    const cited = res.citations.find((c) => c.url === VLAE_URL);
    expect(cited).toBeDefined();
    expect(res.answer).toContain(`[${cited!.index}]`);
    expect(cited!.documentId).toBe('doc_vlae');
    expect(cited!.chunkId).not.toBe('');
    expect(cited!.title).toBe("Ilya's Papers to Carmack: VLAEs");
    expect(cited!.publishTime).toBeDefined();
    expect(res.citations.map((c) => c.index)).toEqual(res.citations.map((_, i) => i + 1));
    expect(res.citations.length).toBeLessThanOrEqual(5);
    expect(res.usage!.promptTokens).toBeGreaterThan(0);
    expect(res.usage!.completionTokens).toBeGreaterThan(0);
  });

  it('GenerateStream yields deltas, then done with the same answer and citations', async () => {
    const unary = await client.generate({ query: QUESTION, authorId: 'theahura' });
    const deltas: string[] = [];
    let done: inferencev1.GenerateResponse | undefined;
    for await (const msg of client.generateStream({ query: QUESTION, authorId: 'theahura' })) {
      expect(done).toBeUndefined();
      if (msg.event.case === 'delta') deltas.push(msg.event.value);
      else if (msg.event.case === 'done') done = msg.event.value;
    }
    expect(deltas.length).toBeGreaterThan(1);
    expect(done).toBeDefined();
    expect(done!.answer).toBe(deltas.join(''));
    expect(done!.answer).toBe(unary.answer);
    expect(done!.citations.map((c) => [c.url, c.chunkId])).toEqual(
      unary.citations.map((c) => [c.url, c.chunkId]),
    );
    expect(done!.citations.some((c) => c.url === VLAE_URL)).toBe(true);
    expect(done!.generationId).not.toBe(unary.generationId);
  });

  it('stores a generation record that GetGeneration and ListGenerations return', async () => {
    const res = await client.generate({ query: QUESTION, authorId: 'theahura', retrieval: { topK: 3 } });
    const { generation } = await client.getGeneration({ id: res.generationId });
    expect(generation).toMatchObject({
      id: res.generationId,
      authorId: 'theahura',
      query: QUESTION,
      promptTemplateVersion: 'extractive-v1',
      model: 'extractive',
      answer: res.answer,
      finishReason: 'stop',
      error: '',
    });
    expect(generation!.filters!.authorId).toBe('theahura');
    // The record lists chunks in rank order; the citations group them by document, each chunk under its [n].
    expect(generation!.retrieved.map((r) => [r.chunkId, r.score, r.citation])).toEqual(
      res.citations
        .flatMap((c) => c.passages.map((p) => ({ rank: p.rank, row: [p.chunkId, p.score, c.index] })))
        .sort((a, b) => a.rank - b.rank)
        .map((p) => p.row),
    );
    expect(generation!.retrieved.length).toBeLessThanOrEqual(3);
    expect(generation!.usage!.totalLatencyMs).toBeGreaterThan(0);
    expect(generation!.usage!.timeToFirstTokenMs).toBeLessThanOrEqual(generation!.usage!.totalLatencyMs);

    const list = await client.listGenerations({ authorId: 'theahura' });
    expect(list.generations[0]!.id).toBe(res.generationId);
    expect(list.generations.length).toBeGreaterThanOrEqual(3);
    const paged = await client.listGenerations({ authorId: 'theahura', page: { pageSize: 1 } });
    expect(paged.generations.map((g) => g.id)).toEqual([res.generationId]);
    const next = await client.listGenerations({
      authorId: 'theahura',
      page: { pageSize: 1, pageToken: paged.page!.nextPageToken },
    });
    expect(next.generations[0]!.id).toBe(list.generations[1]!.id);
    expect((await client.listGenerations({ authorId: 'richholmes' })).generations).toEqual([]);
  });

  it("Retrieve returns the author's chunks with the filters it used, never another author's", async () => {
    const res = await client.retrieve({
      query: 'user interfaces generated by AI agents',
      authorId: 'theahura',
    });
    expect(res.filters!.authorId).toBe('theahura');
    expect(res.chunks.length).toBeGreaterThan(0);
    expect(res.chunks.every((c) => c.documentId !== 'doc_note')).toBe(true);
    const other = await client.retrieve({
      query: 'user interfaces generated by AI agents',
      authorId: 'richholmes',
    });
    expect(other.chunks.map((c) => c.documentId)).toContain('doc_note');
    const posts = await client.retrieve({
      query: QUESTION,
      authorId: 'theahura',
      retrieval: { categories: [commonv1.Category.POST] },
    });
    expect(posts.chunks).toEqual([]);
  });

  it('answers InvalidArgument with a clear message for an empty query or top_k out of range', async () => {
    const empty = await client.generate({ query: '   ', authorId: 'theahura' }).catch((e: unknown) => e);
    expect(ConnectError.from(empty).code).toBe(Code.InvalidArgument);
    expect(ConnectError.from(empty).rawMessage).toMatch(/query is empty/);
    const stream = (async () => {
      for await (const _ of client.generateStream({ query: '', authorId: 'theahura' })) void _;
    })().catch((e: unknown) => e);
    expect(ConnectError.from(await stream).code).toBe(Code.InvalidArgument);
    const topK = await client
      .retrieve({ query: QUESTION, authorId: 'theahura', retrieval: { topK: 500 } })
      .catch((e: unknown) => e);
    expect(ConnectError.from(topK).code).toBe(Code.InvalidArgument);
    expect(ConnectError.from(topK).rawMessage).toMatch(/top_k must be between 1 and 50/);
  });

  it('lists the extractive pseudo-model', async () => {
    const { models } = await client.listModels({});
    expect(models.map((m) => m.id)).toEqual(['extractive']);
  });
});
