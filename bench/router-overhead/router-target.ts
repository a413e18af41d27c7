// The router under test, on either path (gateway or pool), hosted in its own process: the parent starts it
// with startRouter(), the child (router-overhead.ts --serve-router) serves with serveRouter().
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ingestv1 } from '@llmtwin/contracts';
import { createGatewayModule } from '@llmtwin/gateway';
import {
  InProcessDirectory,
  createModuleHealth,
  hostModule,
  openAdapters,
  serviceNames,
} from '@llmtwin/host';
import { createInferenceRouterModule } from '@llmtwin/inference-router';
import { buildServer } from '@llmtwin/runtime';
import { pino, type Logger } from 'pino';
import { openaiRoutes } from '../../gateway/src/http/openai.routes.js';
import type { ChatMessage } from '@llmtwin/llm';
import { ModelRouter } from '@llmtwin/llm/backends';
import { OpenAiBackend } from '@llmtwin/llm/backends';
import { type Child, benchDir, startChild } from './child-processes.js';

/** What the router child prints when it listens. */
export interface RouterReady {
  origin: string;
  path: string;
  headers: Record<string, string>;
  extraBody?: Record<string, unknown>;
  /** The model names that select the upstream's fixed-latency and streaming profiles. */
  models: { fixed: string; stream: string };
  /** Which path through our code the requests take, in words. */
  description: string;
}

export async function startRouter(
  mode: string,
  upstreamUrl: string,
  nodeArgs: string[],
): Promise<Child & { ready: RouterReady }> {
  const child = startChild('router', [
    ...nodeArgs,
    '--import',
    'tsx',
    path.join(benchDir, 'router-overhead.ts'),
    '--serve-router',
    mode,
    '--upstream',
    upstreamUrl,
  ]);
  const ready = JSON.parse(await child.firstLine) as RouterReady;
  return { ...child, ready };
}

// ROUTER PATHS: the router under test, hosted in its own process (`--serve-router <path> --upstream <url>`).
// It serves two models over the same upstream process: `bench-fixed` (the fixed-latency profile, for the
// non-streaming phase) and `bench-stream` (the streaming profile).
//   gateway  the public path: the gateway's OpenAI-compatible POST /v1/chat/completions (API key, quota,
//            request parsing) → InferenceService Generate/GenerateStream over the in-process transport
//            (direct: messages unserialized), as in embedded mode → RagService with llmtwin.disable_rag →
//            ModelRouter/BackendPool → OpenAiBackend → upstream; every generation is stored in the embedded
//            warehouse, as always.
//   pool     diagnostic: a bare HTTP handler in this file → ModelRouter/BackendPool → OpenAiBackend →
//            upstream, to tell the pool and backend's share from the rest of the path.

const ROUTER_MODELS = { fixed: 'bench-fixed', stream: 'bench-stream' } as const;

async function benchModels(upstreamUrl: string): Promise<ModelRouter> {
  const models = new ModelRouter({ defaultModel: ROUTER_MODELS.fixed });
  for (const profile of ['fixed', 'stream'] as const) {
    const model = ROUTER_MODELS[profile];
    await models.upsert(model, [new OpenAiBackend({ model, baseUrl: `${upstreamUrl}/${profile}/v1` })]);
  }
  // The router module starts the active health checks (one GET /v1/models per backend every 5 s).
  return models;
}

async function serveGateway(upstreamUrl: string, logger: Logger): Promise<RouterReady> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'llmtwin-bench-router-'));
  const adapters = await openAdapters(
    { warehouse: `sqlite:${path.join(dataDir, 'warehouse.db')}` },
    { logger },
  );
  const warehouse = adapters.warehouse!;
  const directory = new InProcessDirectory();
  const router = await createInferenceRouterModule({
    warehouse,
    logger,
    directory,
    // disable_rag skips retrieval, so nothing is ever searched (and embed is not a dependency).
    search: () => Promise.resolve([]),
    models: await benchModels(upstreamUrl),
  });
  const routerHealth = createModuleHealth(router);
  const routerServer = buildServer({
    name: router.name,
    register: (r) => router.register(r),
    services: [...router.services],
    health: routerHealth,
    logger,
  });
  directory.add('inference-router', routerServer.routes);
  // The router asks ingest for the author's display name (cached a minute): a stand-in answers it. The other
  // services the gateway forwards are not run and would answer Unimplemented.
  directory.add('ingest', (r) => {
    r.service(ingestv1.IngestService, {
      getAuthor: (req) => ({ author: { id: req.id, displayName: 'Bench Author' } }),
    });
  });
  for (const name of serviceNames) {
    if (name !== 'inference-router' && name !== 'ingest') directory.add(name, () => undefined);
  }
  routerHealth.start();
  await router.start?.();
  const gateway = await createGatewayModule({
    directory,
    addresses: Object.fromEntries(serviceNames.map((n) => [n, 'in-process'])),
    mode: 'embedded',
    version: 'bench',
    warehouse,
    dataDir,
    security: { defaultRateLimitPerMinute: 1_000_000 },
    httpRoutes: (ctx) =>
      openaiRoutes({
        directory: ctx.directory,
        security: ctx.security,
        maxBodyBytes: ctx.maxRequestBytes,
        logger: ctx.logger,
      }),
    logger,
  });
  // An author's key with the highest quota the key store allows: the benchmark measures the path, not the
  // rate limiter's refusals.
  const { key } = await gateway.keys.create({
    authorId: 'bench',
    name: 'bench',
    rateLimitPerMinute: 1_000_000,
  });
  const hosted = await hostModule(gateway, {
    port: 0,
    host: '127.0.0.1',
    logger,
    shutdownTimeoutMs: 2_000,
    onStopped: async () => {
      await router.stop?.();
      routerHealth.stop();
      await adapters.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
  stopRouter = () => hosted.stop();
  return {
    origin: hosted.url.replace(/\/$/, ''),
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${key}` },
    extraBody: { llmtwin: { disable_rag: true } },
    models: ROUTER_MODELS,
    description:
      'client → gateway POST /v1/chat/completions (API key, quota, OpenAI request mapping) → InferenceService ' +
      'Generate/GenerateStream (in-process direct transport, as in embedded mode) → RagService with disable_rag ' +
      '(generation record stored in the embedded sqlite warehouse) → ModelRouter/BackendPool → OpenAiBackend ' +
      '(streams from the upstream) → upstream',
  };
}

async function servePool(upstreamUrl: string): Promise<RouterReady> {
  const models = await benchModels(upstreamUrl);
  models.start();
  const server = createHttpServer((req, res) => {
    void (async () => {
      const parts: Buffer[] = [];
      for await (const c of req) parts.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
        model?: string;
        messages: ChatMessage[];
        max_tokens?: number;
        stream?: boolean;
      };
      const ctl = new AbortController();
      res.once('close', () => ctl.abort());
      const events = models
        .resolve(body.model)
        .chat({ messages: body.messages, maxTokens: body.max_tokens ?? 16 }, ctl.signal);
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      try {
        if (body.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for await (const e of events) {
            res.write(e.type === 'delta' ? chunk({ content: e.text }, null) : chunk({}, e.finishReason));
          }
          res.end('data: [DONE]\n\n');
        } else {
          let text = '';
          let finish = 'stop';
          for await (const e of events) {
            if (e.type === 'delta') text += e.text;
            else finish = e.finishReason;
          }
          const payload = JSON.stringify({
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
          });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(payload);
        }
      } catch (err) {
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: String(err) } }));
        }
      }
    })();
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  stopRouter = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await models.close();
  };
  return {
    origin: `http://127.0.0.1:${port}`,
    path: '/v1/chat/completions',
    headers: {},
    models: ROUTER_MODELS,
    description: 'client → bare HTTP handler (bench) → ModelRouter/BackendPool → OpenAiBackend → upstream',
  };
}

let stopRouter: (() => Promise<void>) | undefined;

export async function serveRouter(mode: string, upstreamUrl: string): Promise<void> {
  // Logs go to stderr: stdout carries the one line the benchmark waits for.
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
  let ready: RouterReady;
  if (mode === 'gateway') ready = await serveGateway(upstreamUrl, logger);
  else if (mode === 'pool') ready = await servePool(upstreamUrl);
  else throw new Error(`unknown router path ${mode}: gateway or pool`);
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  const stop = () => void (stopRouter?.() ?? Promise.resolve()).finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop).resume();
}
