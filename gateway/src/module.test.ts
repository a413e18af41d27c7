// The gateway's security end to end: a real gateway (hostModule on port 0, the embedded warehouse) in front of
// small real upstream routers that record what reaches them. Keys, quotas, request size, CORS, the access
// policy and author isolation, over Connect JSON (what curl sends), gRPC and plain HTTP.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DescService } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createClient,
  type ConnectRouter,
  type Interceptor,
  type Transport,
} from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import {
  cleanv1,
  chunkv1,
  embedv1,
  gatewayv1,
  inferencev1,
  ingestv1,
  reflectionv1,
  registryv1,
  trainerv1,
} from '@llmtwin/contracts';
import { hostModule, type HostedService, type ServiceDirectory, type ServiceName } from '@llmtwin/host';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import {
  buildServer,
  createLogger,
  HealthService,
  inProcessTransport,
  notFound,
  type NodeHandler,
} from '@llmtwin/runtime';
import { headersFromNode, httpErrorOf, readJsonBody } from './auth/http-body.js';
import { createGatewayModule, type GatewayModule, type HttpRoutes } from './module.js';

const logger = createLogger('gateway-test', { level: 'silent' });
const ADMIN_KEY = 'lt_' + 'A'.repeat(43);
const ORIGIN = 'https://app.example';

/** What the upstreams saw: the author header of the last call, and the calls that reached them. */
const seen = { authorHeader: null as string | null, calls: [] as string[], lastAuthor: '' };

function record(name: string, ctx: { requestHeader: Headers }) {
  seen.calls.push(name);
  seen.authorHeader = ctx.requestHeader.get('x-llmtwin-author');
}

const documents: Record<string, string> = { doc_ada: 'ada', doc_bob: 'bob' };
const sources: Record<string, string> = { src_ada: 'ada', src_bob: 'bob' };

function upstreamRoutes(service: DescService): (router: ConnectRouter) => void {
  const register = (router: ConnectRouter) => {
    if (service === ingestv1.IngestService) {
      router.service(ingestv1.IngestService, {
        getAuthor(req, ctx) {
          record('GetAuthor', ctx);
          if (req.id !== 'ada' && req.id !== 'bob') throw notFound(`author "${req.id}" does not exist`);
          return { author: { id: req.id, displayName: req.id } };
        },
        listSources(req, ctx) {
          record('ListSources', ctx);
          seen.lastAuthor = req.authorId;
          // Answers every author's sources whatever was asked: the gateway must still keep others' out.
          return {
            sources: Object.entries(sources).map(([id, authorId]) => ({
              id,
              authorId,
              url: `https://x/${id}`,
            })),
          };
        },
        removeSource(req, ctx) {
          record(`RemoveSource ${req.id}`, ctx);
          return {};
        },
        crawlNow(req, ctx) {
          record('CrawlNow', ctx);
          seen.lastAuthor = req.authorId;
          return { job: { id: 'job_1', authorId: req.authorId } };
        },
        getDocument(req, ctx) {
          record(`GetDocument ${req.id}`, ctx);
          const authorId = documents[req.id];
          if (!authorId) throw notFound(`document ${req.id} not found`);
          return { document: { id: req.id, authorId } };
        },
        deleteDocument(req, ctx) {
          record(`DeleteDocument ${req.id}`, ctx);
          return { document: { id: req.id, authorId: documents[req.id] ?? '', tombstone: true } };
        },
        importArchive(req, ctx) {
          record('ImportArchive', ctx);
          seen.lastAuthor = req.authorId;
          return { job: { id: 'job_2', authorId: req.authorId, itemsTotal: BigInt(req.content.byteLength) } };
        },
      });
    } else if (service === cleanv1.CleanService) {
      router.service(cleanv1.CleanService, {
        cleanText(req) {
          return { title: 't', text: String(req.raw.byteLength) };
        },
      });
    } else if (service === embedv1.EmbedService) {
      router.service(embedv1.EmbedService, {
        searchChunks(req, ctx) {
          record('SearchChunks', ctx);
          seen.lastAuthor = req.filter?.authorId ?? '';
          return {
            chunks: ['ada', 'bob']
              .filter((a) => !req.filter?.authorId || a === req.filter.authorId)
              .map((a) => ({ chunkId: `chk_${a}`, ref: { documentId: `doc_${a}`, authorId: a }, text: a })),
          };
        },
      });
    } else if (service === inferencev1.InferenceService) {
      router.service(inferencev1.InferenceService, {
        async *generateStream(req) {
          yield { event: { case: 'delta', value: `hello from ${req.authorId}` } };
        },
        getGeneration(req) {
          return { generation: { id: req.id, authorId: req.id === 'gen_bob' ? 'bob' : 'ada' } };
        },
      });
    } else if (service === registryv1.RegistryService) {
      router.service(registryv1.RegistryService, {
        listRuns: () => ({}),
        reviewStageTransition: (req) => ({ transition: { reviewer: req.reviewer } }),
      });
    } else {
      router.service(service, {});
    }
  };
  return buildServer({
    name: service.name,
    register,
    services: [service],
    health: new HealthService({ logger }),
    logger,
  }).routes;
}

const serviceOf: Record<ServiceName, DescService> = {
  ingest: ingestv1.IngestService,
  clean: cleanv1.CleanService,
  chunk: chunkv1.ChunkService,
  embed: embedv1.EmbedService,
  registry: registryv1.RegistryService,
  trainer: trainerv1.TrainerService,
  'inference-router': inferencev1.InferenceService,
};

const directory: ServiceDirectory = {
  transport: (() => {
    const transports = new Map<ServiceName, Transport>();
    return (name: ServiceName) => {
      let t = transports.get(name);
      if (!t) transports.set(name, (t = inProcessTransport(upstreamRoutes(serviceOf[name]))));
      return t;
    };
  })(),
};

/** A plain HTTP route in front of Connect, as the OpenAI routes plug in: authenticated and size-bounded. */
const pingRoutes: HttpRoutes = (ctx) => (next: NodeHandler) => (req, res) => {
  if (req.url !== '/v1/ping') return next(req, res);
  void (async () => {
    try {
      const principal = await ctx.security.authenticate(headersFromNode(req.headers));
      const body = await readJsonBody(req, ctx.maxRequestBytes);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ principal, body }));
    } catch (err) {
      const e = httpErrorOf(err);
      res.writeHead(e.status, { 'content-type': 'application/json', ...e.headers });
      res.end(JSON.stringify({ error: { message: e.message } }));
    }
  })();
};

const withKey =
  (
    key: string,
    header: 'authorization' | 'x-api-key' = 'authorization',
    extra: Record<string, string> = {},
  ) =>
  (): Interceptor =>
  (next) =>
  (req) => {
    req.header.set(header, header === 'authorization' ? `Bearer ${key}` : key);
    for (const [k, v] of Object.entries(extra)) req.header.set(k, v);
    return next(req);
  };

async function connectError(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error('expected the call to fail');
}

describe('the gateway in front of its upstreams', () => {
  let warehouse: Warehouse;
  let gateway: GatewayModule;
  let hosted: HostedService;
  let clock = 1_700_000_000_000;
  let adaKey: string;

  const client = <S extends DescService>(service: S, key?: string, extra?: Record<string, string>) =>
    createClient(
      service,
      createConnectTransport({
        baseUrl: hosted.url,
        httpVersion: '1.1',
        useBinaryFormat: false,
        interceptors: key ? [withKey(key, 'authorization', extra)()] : [],
      }),
    );
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${hosted.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    warehouse = await createWarehouse('sqlite::memory:');
    gateway = await createGatewayModule({
      directory,
      addresses: {},
      mode: 'distributed',
      version: 'test',
      dataDir: '',
      warehouse,
      logger,
      httpRoutes: pingRoutes,
      security: {
        bootstrapAdminKey: ADMIN_KEY,
        maxRequestBytes: 4096,
        maxUploadBytes: 64 * 1024,
        corsOrigins: [ORIGIN],
        now: () => clock,
      },
    });
    hosted = await hostModule(gateway, { port: 0, host: '127.0.0.1', logger, shutdownTimeoutMs: 1000 });
    const created = await client(gatewayv1.AdminService, ADMIN_KEY).createApiKey({
      authorId: 'ada',
      name: 'ada',
    });
    adaKey = created.key;
  });

  afterAll(async () => {
    await hosted?.stop();
    await warehouse?.close();
  });

  describe('authentication', () => {
    it('leaves health open to anyone (probes, curl)', async () => {
      const res = await post('/grpc.health.v1.Health/Check', {});
      expect(res.status).toBe(200);
      expect(await res.json()).toHaveProperty('status');
    });

    it('leaves server reflection open to a standard gRPC client', async () => {
      const reflection = createClient(
        reflectionv1.ServerReflection,
        createGrpcTransport({ baseUrl: hosted.url }),
      );
      const names: string[] = [];
      for await (const res of reflection.serverReflectionInfo(
        (async function* () {
          yield { messageRequest: { case: 'listServices' as const, value: '' } };
        })(),
      )) {
        if (res.messageResponse.case === 'listServicesResponse')
          names.push(...res.messageResponse.value.service.map((s) => s.name));
      }
      expect(names).toEqual(expect.arrayContaining(['llmtwin.gateway.v1.AdminService']));
    });

    it('refuses a call without a key: Unauthenticated, and 401 over HTTP JSON, saying how to get one', async () => {
      const err = await connectError(client(gatewayv1.StatusService).getStatus({}));
      expect(err.code).toBe(Code.Unauthenticated);
      expect(err.rawMessage).toMatch(/llmtwin keys create/);

      const res = await post('/llmtwin.ingest.v1.IngestService/ListSources', {});
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'unauthenticated' });
      expect(seen.calls).not.toContain('ListSources');
    });

    it('refuses a garbage key, a well-formed unknown key and a malformed Authorization header', async () => {
      const attempts: Record<string, string>[] = [
        { authorization: 'Bearer nonsense' },
        { authorization: `Bearer lt_${'z'.repeat(43)}` },
        { authorization: `Basic ${ADMIN_KEY}` },
        { 'x-api-key': 'lt_short' },
      ];
      for (const headers of attempts) {
        const res = await post('/llmtwin.gateway.v1.StatusService/GetStatus', {}, headers);
        expect({ headers, status: res.status }).toEqual({ headers, status: 401 });
      }
    });

    it('accepts the key as x-api-key as well as a bearer token', async () => {
      const res = await post('/llmtwin.gateway.v1.StatusService/GetStatus', {}, { 'x-api-key': adaKey });
      expect(res.status).toBe(200);
    });

    it('refuses a revoked key', async () => {
      const admin = client(gatewayv1.AdminService, ADMIN_KEY);
      const { key, apiKey } = await admin.createApiKey({ authorId: 'bob' });
      await client(gatewayv1.StatusService, key).getStatus({});
      await admin.revokeApiKey({ id: apiKey!.id });
      const err = await connectError(client(gatewayv1.StatusService, key).getStatus({}));
      expect(err.code).toBe(Code.Unauthenticated);
      expect(err.rawMessage).toMatch(/revoked/);
    });
  });

  describe('limits', () => {
    it('answers ResourceExhausted once a key spent its per-minute quota, with retry-after', async () => {
      const { key } = await client(gatewayv1.AdminService, ADMIN_KEY).createApiKey({
        authorId: 'ada',
        rateLimitPerMinute: 3,
      });
      const status = client(gatewayv1.StatusService, key);
      for (let i = 0; i < 3; i++) await status.getStatus({});
      const err = await connectError(status.getStatus({}));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toMatch(/3 requests per minute.*retry in 20 s/);

      const res = await post(
        '/llmtwin.gateway.v1.StatusService/GetStatus',
        {},
        { authorization: `Bearer ${key}` },
      );
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('20');

      clock += 20_000; // one request's worth of tokens back
      await status.getStatus({});
      await expect(status.getStatus({})).rejects.toMatchObject({ code: Code.ResourceExhausted });
    });

    it('rejects a request larger than the limit before it reaches an upstream', async () => {
      const err = await connectError(
        client(cleanv1.CleanService, ADMIN_KEY).cleanText({ raw: new Uint8Array(10_000) }),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
    });

    it('lets uploads (ImportArchive) be as large as the upload limit', async () => {
      const res = await client(ingestv1.IngestService, ADMIN_KEY).importArchive({
        authorId: 'ada',
        fileName: 'medium-export.zip',
        content: new Uint8Array(20_000),
      });
      expect(res.job?.itemsTotal).toBe(20_000n);
      const err = await connectError(
        client(ingestv1.IngestService, ADMIN_KEY).importArchive({
          authorId: 'ada',
          fileName: 'medium-export.zip',
          content: new Uint8Array(100_000),
        }),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
    });
  });

  describe('access policy and author isolation', () => {
    it('fills in the key author when the request names none, and refuses another author', async () => {
      const ingest = client(ingestv1.IngestService, adaKey);
      const listed = await ingest.listSources({});
      expect(seen.lastAuthor).toBe('ada');
      // The upstream answered bob's source too; the gateway leaves it out.
      expect(listed.sources.map((s) => s.id)).toEqual(['src_ada']);

      const err = await connectError(ingest.listSources({ authorId: 'bob' }));
      expect(err.code).toBe(Code.PermissionDenied);
      expect(err.rawMessage).toMatch(/belongs to author "ada"/);
    });

    it("answers NotFound for another author's record fetched by id", async () => {
      const ingest = client(ingestv1.IngestService, adaKey);
      expect((await ingest.getDocument({ id: 'doc_ada' })).document?.authorId).toBe('ada');
      expect((await connectError(ingest.getDocument({ id: 'doc_bob' }))).code).toBe(Code.NotFound);
      const inference = client(inferencev1.InferenceService, adaKey);
      expect((await connectError(inference.getGeneration({ id: 'gen_bob' }))).code).toBe(Code.NotFound);
      expect((await inference.getGeneration({ id: 'gen_ada' })).generation?.authorId).toBe('ada');
    });

    it("never forwards a delete or removal of another author's records", async () => {
      const ingest = client(ingestv1.IngestService, adaKey);
      seen.calls = [];
      expect((await connectError(ingest.deleteDocument({ id: 'doc_bob' }))).code).toBe(Code.NotFound);
      expect((await connectError(ingest.removeSource({ id: 'src_bob' }))).code).toBe(Code.NotFound);
      expect(
        (await connectError(ingest.crawlNow({ target: { case: 'sourceId', value: 'src_bob' } }))).code,
      ).toBe(Code.NotFound);
      expect(seen.calls).not.toContain('DeleteDocument doc_bob');
      expect(seen.calls).not.toContain('RemoveSource src_bob');
      expect(seen.calls).not.toContain('CrawlNow');

      await ingest.deleteDocument({ id: 'doc_ada' });
      await ingest.removeSource({ id: 'src_ada' });
      expect(seen.calls).toEqual(expect.arrayContaining(['DeleteDocument doc_ada', 'RemoveSource src_ada']));
    });

    it("keeps search to the key's author: another author is refused, no author means the key's", async () => {
      const embed = client(embedv1.EmbedService, adaKey);
      const err = await connectError(embed.searchChunks({ query: 'q', filter: { authorId: 'bob' } }));
      expect(err.code).toBe(Code.PermissionDenied);
      const res = await embed.searchChunks({ query: 'q' });
      expect(seen.lastAuthor).toBe('ada');
      expect(res.chunks.map((c) => c.ref?.authorId)).toEqual(['ada']);
      // An admin key searches any author.
      const all = await client(embedv1.EmbedService, ADMIN_KEY).searchChunks({ query: 'q' });
      expect(all.chunks.map((c) => c.ref?.authorId).sort()).toEqual(['ada', 'bob']);
    });

    it('scopes server-streaming requests too', async () => {
      const inference = client(inferencev1.InferenceService, adaKey);
      const deltas: string[] = [];
      for await (const m of inference.generateStream({ query: 'hi' })) {
        if (m.event.case === 'delta') deltas.push(m.event.value);
      }
      expect(deltas).toEqual(['hello from ada']);
      const err = await connectError(
        (async () => {
          for await (const _ of inference.generateStream({ query: 'hi', authorId: 'bob' }));
        })(),
      );
      expect(err.code).toBe(Code.PermissionDenied);
    });

    it('keeps admin-only methods from author keys', async () => {
      for (const call of [
        () => client(registryv1.RegistryService, adaKey).reviewStageTransition({ modelVersionId: 'mv_1' }),
        () => client(gatewayv1.AdminService, adaKey).listApiKeys({}),
        () => client(ingestv1.IngestService, adaKey).createAuthor({ displayName: 'Eve' }),
        () => client(embedv1.EmbedService, adaKey).startReindex({}),
      ]) {
        const err = await connectError(call());
        expect(err.code).toBe(Code.PermissionDenied);
        expect(err.rawMessage).toMatch(/needs an admin API key/);
      }
      await client(registryv1.RegistryService, ADMIN_KEY).listRuns({});
    });

    it('stamps who reviewed with the key that authorised it, keeping the name the caller gave', async () => {
      const registry = client(registryv1.RegistryService, ADMIN_KEY);
      const named = await registry.reviewStageTransition({
        modelVersionId: 'mv_1',
        approve: true,
        reviewer: 'alice',
      });
      expect(named.transition?.reviewer).toMatch(/^alice \(key:[^)]+\)$/);
      const anonymous = await registry.reviewStageTransition({ modelVersionId: 'mv_1', approve: true });
      expect(anonymous.transition?.reviewer).toMatch(/^key:[^ ]+$/);
      const forged = await registry.reviewStageTransition({
        modelVersionId: 'mv_1',
        approve: true,
        reviewer: anonymous.transition?.reviewer ?? '',
      });
      expect(forged.transition?.reviewer).toBe(anonymous.transition?.reviewer);
    });

    it('sets the author header upstream services trust from the key, never from the caller', async () => {
      await client(ingestv1.IngestService, adaKey, { 'x-llmtwin-author': 'bob' }).listSources({});
      expect(seen.authorHeader).toBe('ada');
      await client(ingestv1.IngestService, ADMIN_KEY, { 'x-llmtwin-author': 'bob' }).listSources({});
      expect(seen.authorHeader).toBeNull();
    });
  });

  describe('AdminService', () => {
    it('creates author keys only for authors that exist, and admin keys without an author', async () => {
      const admin = client(gatewayv1.AdminService, ADMIN_KEY);
      expect((await connectError(admin.createApiKey({ authorId: 'nobody' }))).code).toBe(
        Code.InvalidArgument,
      );
      expect((await connectError(admin.createApiKey({ authorId: 'ada', admin: true }))).code).toBe(
        Code.InvalidArgument,
      );
      expect((await connectError(admin.createApiKey({}))).code).toBe(Code.InvalidArgument);
      const created = await admin.createApiKey({ admin: true, name: 'ops' });
      expect(created.key).toMatch(/^lt_[A-Za-z0-9_-]{43}$/);
      expect(created.apiKey).toMatchObject({ admin: true, authorId: '', name: 'ops' });
      expect(created.key.startsWith(created.apiKey!.prefix)).toBe(true);
    });

    it('lists keys without their secrets or hashes', async () => {
      const res = await post(
        '/llmtwin.gateway.v1.AdminService/ListApiKeys',
        {},
        { authorization: `Bearer ${ADMIN_KEY}` },
      );
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(text).not.toContain(adaKey);
      expect(text).not.toContain(ADMIN_KEY);
      expect(text).not.toMatch(/hash/i);
      expect(text).not.toMatch(/[0-9a-f]{64}/);
      expect((JSON.parse(text) as { apiKeys: unknown[] }).apiKeys.length).toBeGreaterThanOrEqual(3);
    });

    it('refuses to revoke the last active admin key', async () => {
      const admin = client(gatewayv1.AdminService, ADMIN_KEY);
      const admins = (await admin.listApiKeys({})).apiKeys.filter((k) => k.admin && !k.revokeTime);
      for (const k of admins.slice(1)) await admin.revokeApiKey({ id: k.id });
      const err = await connectError(admin.revokeApiKey({ id: admins[0]!.id }));
      expect(err.code).toBe(Code.FailedPrecondition);
    });
  });

  describe('CORS', () => {
    it('answers a preflight from an allowed origin with the Connect and gRPC-Web headers', async () => {
      const res = await fetch(`${hosted.url}/llmtwin.inference.v1.InferenceService/Generate`, {
        method: 'OPTIONS',
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type, connect-protocol-version',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
      const allowed = res.headers.get('access-control-allow-headers')!.split(/,\s*/);
      expect(allowed).toEqual(
        expect.arrayContaining([
          'authorization',
          'x-api-key',
          'content-type',
          'connect-protocol-version',
          'connect-timeout-ms',
          'grpc-timeout',
          'x-grpc-web',
          'x-user-agent',
        ]),
      );
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    });

    it('refuses a preflight from another origin and exposes headers on real responses', async () => {
      const refused = await fetch(`${hosted.url}/llmtwin.inference.v1.InferenceService/Generate`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();

      const res = await post('/llmtwin.gateway.v1.StatusService/GetStatus', {}, { origin: ORIGIN });
      expect(res.status).toBe(401);
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(res.headers.get('access-control-expose-headers')).toMatch(/retry-after/);
      expect(res.headers.get('access-control-expose-headers')).toMatch(/grpc-status/);
    });
  });

  describe('plain HTTP routes (httpRoutes)', () => {
    it('authenticate with the same keys and bound the body with the same limit', async () => {
      expect((await post('/v1/ping', {})).status).toBe(401);
      const ok = await post('/v1/ping', { hi: 1 }, { authorization: `Bearer ${adaKey}` });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({
        principal: { authorId: 'ada', admin: false },
        body: { hi: 1 },
      });
      const large = await post(
        '/v1/ping',
        { text: 'x'.repeat(10_000) },
        { authorization: `Bearer ${adaKey}` },
      );
      expect(large.status).toBe(413);
      // CORS wraps them too.
      const cors = await post('/v1/ping', {}, { origin: ORIGIN });
      expect(cors.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    });
  });
});
