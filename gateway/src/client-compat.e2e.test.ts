/** @jest-environment ./packages/ports/src/embedder/onnx-test-environment.mjs */
// Standard clients against the gateway, unchanged: the official `openai` npm client (Chat Completions,
// streaming, Models, Embeddings), curl-style REST on the Connect routes (POST and GET), and @grpc/grpc-js
// with protos loaded at run time. Behind the gateway run the real modules in process over the embedded
// adapters, with the real embedder; a saved page goes through clean → chunk → embed, and the twin (no LLM
// configured, so it answers extractively) must cite that page's URL through every client.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createChunkModule } from '@llmtwin/chunk';
import { commonv1, ingesteventsv1, topics } from '@llmtwin/contracts';
import { policyChunker } from '@llmtwin/chunking';
import { createCleanModule } from '@llmtwin/clean';
import { createEmbedModule } from '@llmtwin/embed';
import { type Embedder } from '@llmtwin/ports';
import { createArtifactStore, createEmbedder } from '@llmtwin/ports/adapters';
import {
  InProcessDirectory,
  createModuleHealth,
  hostModule,
  serviceNames,
  type HostedService,
  type ServiceModule,
  type ServiceName,
} from '@llmtwin/host';
import { createIngestModule } from '@llmtwin/ingest';
import { createInferenceRouterModule } from '@llmtwin/inference-router';
import { publishEvent } from '@llmtwin/ports';
import { createRegistryModule } from '@llmtwin/registry';
import { buildServer, type HealthService } from '@llmtwin/runtime';
import { createTrainerModule } from '@llmtwin/trainer';
import OpenAI from 'openai';
import { pino } from 'pino';
import { grpcHealthClient } from '../../packages/runtime/src/grpc-client.fixture.js';
import { drained, startPipeline, stopPipeline, type Pipeline } from '@llmtwin/testkit/pipeline';
import { poll } from '@llmtwin/testkit/poll';
import { openaiHttpRoutes } from './http/openai.routes.js';
import { createGatewayModule } from './module.js';

const logger = pino({ level: 'silent' });
const cacheDir = process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin');
const modelDir = path.join(cacheDir, 'models', 'all-MiniLM-L6-v2');
const fixtures = fileURLToPath(new URL('../../services/ingest/test/fixtures/', import.meta.url));
const protoRoot = fileURLToPath(new URL('../../proto/', import.meta.url));

const AUTHOR = 'theahura';
const VLAE_URL = 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes';
const QUESTION = 'Why would a car classifier put school buses next to Ferraris?';
const MAX_REQUEST_BYTES = 64 * 1024;

async function publishPage(p: Pipeline): Promise<void> {
  const file =
    'substack/kepano-defuddle/tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html';
  await publishEvent(p.bus, topics.documentsRaw, ingesteventsv1.RawDocumentChangedSchema, 'doc_vlae', {
    eventId: 'doc_vlae-1',
    change: ingesteventsv1.ChangeKind.UPDATED,
    document: {
      id: 'doc_vlae',
      authorId: AUTHOR,
      category: commonv1.Category.ARTICLE,
      platform: commonv1.Platform.SUBSTACK,
      canonicalUrl: VLAE_URL,
      title: "Ilya's Papers to Carmack: VLAEs",
      publishTime: timestampFromMs(Date.parse('2025-03-06T12:48:40Z')),
      version: 1n,
      raw: new Uint8Array(await readFile(path.join(fixtures, file))),
      rawContentType: 'text/html; charset=utf-8',
    },
    eventTime: timestampFromMs(Date.now()),
  });
}

/** The OpenAI response fields the twin adds, which the client's types do not know. */
interface TwinExtras {
  citations?: { index: number; url: string; title: string; document_id: string; chunk_id: string }[];
  llmtwin?: { generation_id: string; extractive: boolean };
}

let embedder: Embedder;
let p: Pipeline;
let gateway: HostedService;
const healths: HealthService[] = [];
let authorKey: string;
let adminKey: string;

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
  await publishPage(p);
  await drained(p);

  // Every public service in process, as embedded mode composes them; the pipeline's own modules included.
  const [clean, chunk, embed] = p.modules as [ServiceModule, ServiceModule, ServiceModule];
  const directory = new InProcessDirectory();
  const modules: Record<ServiceName, ServiceModule> = {
    ingest: await createIngestModule({ warehouse: p.warehouse, eventBus: p.bus, logger, dataDir: p.dir }),
    clean,
    chunk,
    embed,
    registry: await createRegistryModule({ warehouse: p.warehouse, eventBus: p.bus }),
    trainer: await createTrainerModule({
      warehouse: p.warehouse,
      eventBus: p.bus,
      directory,
      artifacts: await createArtifactStore(`file:${path.join(p.dir, 'artifacts')}`),
      logger,
    }),
    'inference-router': await createInferenceRouterModule({
      warehouse: p.warehouse,
      directory,
      embedAddress: 'embedded',
      logger,
    }),
  };
  for (const name of serviceNames) {
    const module = modules[name];
    const health = createModuleHealth(module);
    healths.push(health);
    const server = buildServer({
      name,
      register: (r) => module.register(r),
      services: module.services,
      health,
      logger,
    });
    directory.add(name, server.routes);
    health.start();
  }

  const module = await createGatewayModule({
    directory,
    addresses: Object.fromEntries(serviceNames.map((n) => [n, 'in-process'])),
    mode: 'embedded',
    warehouse: p.warehouse,
    version: 'test',
    dataDir: p.dir,
    security: { maxRequestBytes: MAX_REQUEST_BYTES },
    httpRoutes: openaiHttpRoutes,
    logger,
  });
  authorKey = (await module.keys.create({ authorId: AUTHOR, name: 'compat author' })).key;
  adminKey = (await module.keys.create({ admin: true, name: 'compat admin' })).key;
  gateway = await hostModule(module, { port: 0, host: '127.0.0.1', logger, shutdownTimeoutMs: 2000 });
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
  for (const health of healths) health.stop();
  if (p) await stopPipeline(p);
  await embedder?.close();
});

describe('the official openai client', () => {
  const client = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: authorKey, maxRetries: 0 });

  it('lists the twin models and the embedder', async () => {
    const ids: string[] = [];
    for await (const model of client().models.list()) ids.push(model.id);
    expect(ids).toContain('extractive');
    expect(ids).toContain(embedder.model);
  });

  it('answers a chat completion that cites the ingested page', async () => {
    const completion = await client().chat.completions.create({
      model: 'llmtwin',
      messages: [
        { role: 'system', content: 'Answer as the author.' },
        { role: 'user', content: QUESTION },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('extractive');
    const choice = completion.choices[0]!;
    expect(choice.message.role).toBe('assistant');
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.content).toContain('school buses are close to the trucks');
    const extras = completion as unknown as TwinExtras;
    const cited = extras.citations!.find((c) => c.url === VLAE_URL);
    expect(cited).toBeDefined();
    expect(cited!.document_id).toBe('doc_vlae');
    expect(choice.message.content).toContain(`[${cited!.index}]`);
    expect(extras.llmtwin).toMatchObject({
      extractive: true,
      generation_id: completion.id.slice('chatcmpl-'.length),
    });
    expect(completion.usage!.total_tokens).toBe(
      completion.usage!.prompt_tokens + completion.usage!.completion_tokens,
    );
  });

  it('streams a chat completion whose chunks add up to the answer, then the citations and usage', async () => {
    const stream = await client().chat.completions.create({
      model: 'extractive',
      messages: [{ role: 'user', content: QUESTION }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let citations: TwinExtras['citations'];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    const ids = new Set<string>();
    let generationId: string | undefined;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe('chat.completion.chunk');
      ids.add(chunk.id);
      generationId ??= (chunk as unknown as TwinExtras).llmtwin?.generation_id;
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      citations ??= (chunk as unknown as TwinExtras).citations;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    // Every chunk carries one id: the generation's, so the monitoring record can be found from it.
    expect([...ids]).toEqual([`chatcmpl-${generationId}`]);
    expect(finish).toBe('stop');
    expect(text).toContain('school buses are close to the trucks');
    expect(citations!.some((c) => c.url === VLAE_URL)).toBe(true);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('embeds texts, and the base64 the client asks for decodes to what EmbedTexts returns', async () => {
    const res = await client().embeddings.create({
      model: embedder.model,
      input: ['school buses', 'Ferraris'],
    });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data[0]!.embedding).toHaveLength(embedder.dimensions);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
    const direct = await fetch(`${gateway.url}/llmtwin.embed.v1.EmbedService/EmbedTexts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${authorKey}` },
      body: JSON.stringify({ texts: ['school buses'] }),
    });
    const values = ((await direct.json()) as { embeddings: { values: number[] }[] }).embeddings[0]!.values;
    res.data[0]!.embedding.forEach((v, i) => expect(v).toBeCloseTo(values[i]!, 5));
  });

  it('surfaces a bad key as AuthenticationError and an unknown model as NotFoundError', async () => {
    const bad = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'lt_' + 'x'.repeat(43), maxRetries: 0 });
    await expect(bad.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(
      client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: QUESTION }] }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('lets an admin key choose the author with the llmtwin extension', async () => {
    const admin = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: adminKey, maxRetries: 0 });
    const completion = await admin.chat.completions.create({
      model: 'llmtwin',
      messages: [{ role: 'user', content: QUESTION }],
      // @ts-expect-error the twin's extension field is not in OpenAI's request type
      llmtwin: { author_id: AUTHOR, top_k: 2 },
    });
    const extras = completion as unknown as TwinExtras;
    expect(extras.citations!.length).toBeLessThanOrEqual(2);
    expect(extras.citations!.some((c) => c.url === VLAE_URL)).toBe(true);
  });
});

describe('plain HTTP on the OpenAI routes', () => {
  const chat = (body: string, headers: Record<string, string> = { authorization: `Bearer ${authorKey}` }) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  const valid = JSON.stringify({ model: 'llmtwin', messages: [{ role: 'user', content: QUESTION }] });

  it('answers 401 without a key', async () => {
    const res = await chat(valid, {});
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { type: 'authentication_error', code: 'invalid_api_key' },
    });
  });

  it('answers 400 to a body that is not a chat request', async () => {
    const res = await chat(JSON.stringify({ model: 'llmtwin', prompt: QUESTION }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'messages', type: 'invalid_request_error' } });
  });

  it('answers 413 to a body over the gateway limit', async () => {
    const res = await chat(
      JSON.stringify({
        model: 'llmtwin',
        messages: [{ role: 'user', content: 'x'.repeat(MAX_REQUEST_BYTES) }],
      }),
    );
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'request_too_large' } });
  });
});

describe('curl-style REST on the Connect routes', () => {
  const service = 'llmtwin.inference.v1.InferenceService';

  it('POSTs JSON to Generate with the key and gets the cited answer', async () => {
    const res = await fetch(`${gateway.url}/${service}/Generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${authorKey}` },
      body: JSON.stringify({ query: QUESTION }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { answer: string; extractive: boolean; citations: { url: string }[] };
    expect(body.extractive).toBe(true);
    expect(body.answer).toContain('school buses are close to the trucks');
    expect(body.citations.map((c) => c.url)).toContain(VLAE_URL);
  });

  it('GETs a side-effect-free method (Retrieve) with the message in the query string', async () => {
    const message = encodeURIComponent(JSON.stringify({ query: QUESTION, retrieval: { topK: 3 } }));
    const res = await fetch(
      `${gateway.url}/${service}/Retrieve?connect=v1&encoding=json&message=${message}`,
      {
        headers: { 'x-api-key': authorKey },
      },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { chunks: { url: string }[]; filters: { authorId: string } };
    expect(body.filters.authorId).toBe(AUTHOR);
    expect(body.chunks.length).toBeLessThanOrEqual(3);
    expect(body.chunks.map((c) => c.url)).toContain(VLAE_URL);
  });

  it('answers unauthenticated without a key', async () => {
    const res = await fetch(`${gateway.url}/${service}/Generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUESTION }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'unauthenticated' });
  });
});

describe('@grpc/grpc-js', () => {
  interface GrpcGenerateResponse {
    answer: string;
    extractive: boolean;
    citations: { url: string }[];
  }
  interface GrpcStreamResponse {
    event: 'delta' | 'done';
    delta?: string;
    done?: GrpcGenerateResponse;
  }
  type InferenceClient = grpc.Client & {
    Generate(
      req: { query: string },
      metadata: grpc.Metadata,
      callback: (err: grpc.ServiceError | null, res: GrpcGenerateResponse) => void,
    ): void;
    GenerateStream(
      req: { query: string },
      metadata: grpc.Metadata,
    ): grpc.ClientReadableStream<GrpcStreamResponse>;
  };

  let client: InferenceClient;
  const address = () => `127.0.0.1:${gateway.port}`;
  const withKey = (key: string) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    return metadata;
  };
  const generate = (metadata: grpc.Metadata) =>
    new Promise<GrpcGenerateResponse>((resolve, reject) =>
      client.Generate({ query: QUESTION }, metadata, (err, res) => (err ? reject(err) : resolve(res))),
    );

  beforeAll(() => {
    const definition = protoLoader.loadSync(path.join(protoRoot, 'llmtwin/inference/v1/inference.proto'), {
      includeDirs: [protoRoot],
      keepCase: true,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      llmtwin: {
        inference: {
          v1: { InferenceService: new (a: string, c: grpc.ChannelCredentials) => InferenceClient };
        };
      };
    };
    client = new loaded.llmtwin.inference.v1.InferenceService(address(), grpc.credentials.createInsecure());
  });

  afterAll(() => client?.close());

  it('calls Generate with the key in metadata', async () => {
    const res = await generate(withKey(authorKey));
    expect(res.extractive).toBe(true);
    expect(res.citations.map((c) => c.url)).toContain(VLAE_URL);
  });

  it('streams GenerateStream: deltas, then done with the citations', async () => {
    const events: GrpcStreamResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.GenerateStream({ query: QUESTION }, withKey(authorKey));
      call.on('data', (event: GrpcStreamResponse) => events.push(event));
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    const deltas = events.filter((e) => e.event === 'delta').map((e) => e.delta);
    expect(deltas.length).toBeGreaterThan(1);
    const done = events[events.length - 1]!;
    expect(done.event).toBe('done');
    expect(done.done!.answer).toBe(deltas.join(''));
    expect(done.done!.citations.map((c) => c.url)).toContain(VLAE_URL);
  });

  it('answers UNAUTHENTICATED without a key', async () => {
    await expect(generate(new grpc.Metadata())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('serves grpc.health.v1 without a key, SERVING once the upstreams are', async () => {
    const health = grpcHealthClient(address());
    try {
      const status = await poll(async () => (await health.check('')).status, {
        what: 'the gateway to report SERVING',
        intervalMs: 50,
        until: (s) => s === 'SERVING',
      });
      expect(status).toBe('SERVING');
    } finally {
      health.close();
    }
  });
});
