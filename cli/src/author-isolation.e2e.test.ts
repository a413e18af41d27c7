// Author isolation through the gateway, composed as in embedded mode: the real ingest, embed and
// inference-router modules on the embedded adapters (SQLite warehouse and vector index), reached through
// in-process transports, behind a real gateway on a port. Only the embedder is a tiny stand-in (hashed words)
// so the test needs no model. Author A's key never retrieves author B's passages.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { embedv1, gatewayv1, inferencev1, ingestv1 } from '@llmtwin/contracts';
import type { Chunker } from '@llmtwin/chunking';
import { createEmbedModule, LIVE_ALIAS } from '@llmtwin/embed';
import { type Embedder } from '@llmtwin/ports';
import { createGatewayModule } from '@llmtwin/gateway';
import {
  InProcessDirectory,
  createModuleHealth,
  hostModule,
  openAdapters,
  type Adapters,
  type HostedService,
  type ServiceModule,
} from '@llmtwin/host';
import { createIngestModule } from '@llmtwin/ingest';
import { createInferenceRouterModule } from '@llmtwin/inference-router';
import { buildServer, createLogger } from '@llmtwin/runtime';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedAdapterUrls } from './embedded.js';

const logger = createLogger('isolation-test', { level: 'silent' });
const ADMIN_KEY = 'lt_' + 'Q'.repeat(43);
const DIMENSIONS = 16;

function vectorOf(text: string): Float32Array {
  const v = new Float32Array(DIMENSIONS);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    v[createHash('sha256').update(word).digest()[0]! % DIMENSIONS]! += 1;
  }
  v[DIMENSIONS - 1]! += 0.01;
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const tinyEmbedder: Embedder = {
  model: 'tiny-hashed-words',
  dimensions: DIMENSIONS,
  maxTokens: 256,
  embed: async (texts) => texts.map(vectorOf),
  countTokens: (text) => text.split(/\s+/).length + 2,
  tokenize: (text) => ({ ids: text.split(/\s+/).map((_, i) => i) }),
  ping: async () => undefined,
  close: async () => undefined,
};
// Nothing is chunked here: the passages are put straight into the live collection.
const noChunker: Chunker = { chunk: () => [], policies: () => [] };

const passages = [
  { id: 'chk_ada_1', author: 'ada', text: 'the analytical engine weaves algebraic patterns' },
  { id: 'chk_ada_2', author: 'ada', text: 'notes on the engine and its punched cards' },
  { id: 'chk_bob_1', author: 'bob', text: 'the engine of a steam locomotive and its cards' },
];

describe('author isolation through the gateway (real modules)', () => {
  let dir: string;
  let adapters: Adapters;
  let modules: ServiceModule[];
  let hosted: HostedService;
  let adaKey: string;

  const client = <S extends DescService>(service: S, key: string) =>
    createClient(
      service,
      createConnectTransport({
        baseUrl: hosted.url,
        httpVersion: '1.1',
        interceptors: [
          (next) => (req) => {
            req.header.set('authorization', `Bearer ${key}`);
            return next(req);
          },
        ],
      }),
    );

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-isolation-'));
    adapters = await openAdapters(embeddedAdapterUrls(dir));
    const { warehouse, eventBus, vectorStore } = adapters as Required<Adapters>;
    const directory = new InProcessDirectory();
    const ingest = await createIngestModule({ warehouse, eventBus, logger, dataDir: dir });
    const embed = await createEmbedModule({
      warehouse,
      eventBus,
      vectorStore,
      embedder: tinyEmbedder,
      embedderAdapter: 'fake',
      chunker: noChunker,
      logger,
      directory,
    });
    const router = await createInferenceRouterModule({
      warehouse,
      logger,
      directory,
      embedAddress: 'embedded',
    });
    modules = [ingest, embed, router];
    for (const [name, module] of [
      ['ingest', ingest],
      ['embed', embed],
      ['inference-router', router],
    ] as const) {
      const server = buildServer({
        name,
        register: (r) => module.register(r),
        services: [...module.services],
        health: createModuleHealth(module),
        logger,
      });
      directory.add(name, server.routes);
    }
    // The services this test does not need answer Unimplemented, which the gateway only forwards.
    for (const name of ['clean', 'chunk', 'registry', 'trainer'] as const)
      directory.add(name, () => undefined);
    await embed.start?.();
    await vectorStore.upsert(
      LIVE_ALIAS,
      passages.map((p, position) => ({
        id: p.id,
        vector: vectorOf(p.text),
        text: p.text,
        metadata: {
          documentId: `doc_${p.id}`,
          documentVersion: 1,
          authorId: p.author,
          category: 'article',
          platform: 'web',
          url: `https://example.com/${p.id}`,
          title: p.id,
          publishedAt: 0,
          section: '',
          position,
        },
      })),
    );

    const gateway = await createGatewayModule({
      directory,
      addresses: { ingest: 'in-process', embed: 'in-process', 'inference-router': 'in-process' },
      mode: 'embedded',
      version: 'test',
      warehouse,
      dataDir: dir,
      logger,
      security: { bootstrapAdminKey: ADMIN_KEY },
    });
    hosted = await hostModule(gateway, { port: 0, host: '127.0.0.1', logger, shutdownTimeoutMs: 1000 });

    const admin = client(ingestv1.IngestService, ADMIN_KEY);
    await admin.createAuthor({ id: 'ada', displayName: 'Ada' });
    await admin.createAuthor({ id: 'bob', displayName: 'Bob' });
    adaKey = (await client(gatewayv1.AdminService, ADMIN_KEY).createApiKey({ authorId: 'ada' })).key;
  });

  afterAll(async () => {
    await hosted?.stop();
    for (const m of [...(modules ?? [])].reverse()) await m.stop?.();
    await adapters?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses SearchChunks for another author's passages", async () => {
    const err = await client(embedv1.EmbedService, adaKey)
      .searchChunks({ query: 'engine cards', mode: embedv1.SearchMode.HYBRID, filter: { authorId: 'bob' } })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
  });

  it("searches only the key's author when no author is given", async () => {
    const res = await client(embedv1.EmbedService, adaKey).searchChunks({
      query: 'engine cards',
      mode: embedv1.SearchMode.HYBRID,
      limit: 10,
    });
    expect(res.chunks.map((c) => c.chunkId).sort()).toEqual(['chk_ada_1', 'chk_ada_2']);
    // An admin key sees every author's passages: the data is there, the key keeps it out.
    const all = await client(embedv1.EmbedService, ADMIN_KEY).searchChunks({
      query: 'engine cards',
      mode: embedv1.SearchMode.HYBRID,
      limit: 10,
    });
    expect(all.chunks.map((c) => c.chunkId)).toContain('chk_bob_1');
  });

  it("retrieves and answers with the key's author only (the router's RAG path)", async () => {
    const inference = client(inferencev1.InferenceService, adaKey);
    const retrieved = await inference.retrieve({ query: 'engine cards', retrieval: { topK: 10 } });
    expect(retrieved.chunks.length).toBeGreaterThan(0);
    expect(retrieved.chunks.every((c) => c.chunkId.startsWith('chk_ada'))).toBe(true);
    await expect(inference.retrieve({ query: 'engine cards', authorId: 'bob' })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });

    const answer = await inference.generate({ query: 'engine cards', retrieval: { topK: 10 } });
    expect(answer.citations.length).toBeGreaterThan(0);
    expect(answer.citations.every((c) => c.chunkId.startsWith('chk_ada'))).toBe(true);
    // Its generation record is the author's; another author's key cannot read it.
    const gen = await inference.getGeneration({ id: answer.generationId });
    expect(gen.generation?.authorId).toBe('ada');
    const bobKey = (await client(gatewayv1.AdminService, ADMIN_KEY).createApiKey({ authorId: 'bob' })).key;
    await expect(
      client(inferencev1.InferenceService, bobKey).getGeneration({ id: answer.generationId }),
    ).rejects.toMatchObject({ code: Code.NotFound });
  });

  it('refuses an author key for an author that does not exist', async () => {
    await expect(
      client(gatewayv1.AdminService, ADMIN_KEY).createApiKey({ authorId: 'nobody' }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
