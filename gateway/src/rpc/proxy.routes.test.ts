// registerProxy through in-memory Connect transports: a client calls the gateway's router, which forwards to
// an upstream router. The upstreams are FAKE IngestService and InferenceService handlers that record what
// reached them (the real services are tested beside their own routes). What the proxy owes its callers: every
// unary and server-streaming method is served, answers and upstream errors come back unchanged (code and
// message), the resolved author travels and nothing else of the caller's headers does, the deadline travels,
// and a caller that goes away cancels the upstream call.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import {
  Code,
  createClient,
  createConnectRouter,
  createRouterTransport,
  type ConnectRouter,
  type HandlerContext,
  type Transport,
} from '@connectrpc/connect';
import { chunkv1, cleanv1, embedv1, inferencev1, ingestv1, registryv1, trainerv1 } from '@llmtwin/contracts';
import { createLogger, errorInterceptor, invalidArgument, notFound } from '@llmtwin/runtime';
import { rejection } from '@llmtwin/testkit/routes';
import { registerProxy } from './proxy.routes.js';

const logger = createLogger('proxy-routes-test', { level: 'silent' });
const interceptors = [errorInterceptor(logger)];

interface Seen {
  author: string | null;
  authorization: string | null;
  timeoutMs: number | undefined;
}

describe('registerProxy over in-memory transports', () => {
  let seen: Seen[];
  /** Resolves with the upstream's signal once SlowCall (GetDocument) has started. */
  let slowStarted: (signal: AbortSignal) => void;
  let slow: Promise<AbortSignal>;

  const record = (ctx: HandlerContext) =>
    seen.push({
      author: ctx.requestHeader.get('x-llmtwin-author'),
      authorization: ctx.requestHeader.get('authorization'),
      timeoutMs: ctx.timeoutMs(),
    });

  /** FAKE upstreams: an IngestService and an InferenceService that record what reached them. */
  const upstream = (register: (router: ConnectRouter) => void): Transport =>
    createRouterTransport(register, { router: { interceptors } });
  const ingestUpstream = () =>
    upstream((router) =>
      router.service(ingestv1.IngestService, {
        getAuthor(req, ctx) {
          record(ctx);
          if (req.id !== 'ada')
            throw notFound(`author "${req.id}" does not exist: create it first (CreateAuthor)`);
          return { author: { id: 'ada', displayName: 'Ada Lovelace' } };
        },
        addSource(req, ctx) {
          record(ctx);
          throw invalidArgument(`url must use http or https, not ${new URL(req.url).protocol}`, [
            { field: 'url', message: 'must be an absolute http(s) URL' },
          ]);
        },
        async getDocument(_req, ctx) {
          record(ctx);
          slowStarted(ctx.signal);
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          return {};
        },
      }),
    );
  const inferenceUpstream = () =>
    upstream((router) =>
      router.service(inferencev1.InferenceService, {
        async *generateStream(req, ctx) {
          record(ctx);
          if (!req.query.trim()) throw invalidArgument('query is empty: ask a question');
          yield { event: { case: 'started', value: { generationId: 'gen_1', model: 'm' } } };
          for (const word of req.query.split(' ')) yield { event: { case: 'delta', value: word } };
          yield { event: { case: 'done', value: { generationId: 'gen_1', answer: req.query } } };
        },
      }),
    );

  const gateway = () =>
    createRouterTransport(
      (router) => {
        registerProxy(router, ingestv1.IngestService, ingestUpstream());
        registerProxy(router, inferencev1.InferenceService, inferenceUpstream());
      },
      { router: { interceptors } },
    );

  beforeEach(() => {
    seen = [];
    slow = new Promise((resolve) => (slowStarted = resolve));
  });

  afterEach(() => {
    slowStarted(new AbortController().signal); // nothing waits on it any longer
  });

  it('serves every unary and server-streaming method of each public service', () => {
    const services: DescService[] = [
      ingestv1.IngestService,
      cleanv1.CleanService,
      chunkv1.ChunkService,
      embedv1.EmbedService,
      registryv1.RegistryService,
      trainerv1.TrainerService,
      inferencev1.InferenceService,
    ];
    for (const service of services) {
      const router = createConnectRouter();
      registerProxy(router, service, ingestUpstream());
      const forwarded = (service.methods as DescMethod[]).filter(
        (m) => m.methodKind === 'unary' || m.methodKind === 'server_streaming',
      );
      expect(forwarded.length).toBeGreaterThan(0);
      expect(router.handlers.map((h) => h.requestPath).sort()).toEqual(
        forwarded.map((m) => `/${service.typeName}/${m.name}`).sort(),
      );
    }
  });

  it('forwards a unary call and its answer, with the resolved author and the deadline, and no other caller header', async () => {
    const ingest = createClient(ingestv1.IngestService, gateway());
    const res = await ingest.getAuthor(
      { id: 'ada' },
      { headers: { 'x-llmtwin-author': 'ada', authorization: 'Bearer secret' }, timeoutMs: 30_000 },
    );
    expect(res.author).toMatchObject({ id: 'ada', displayName: 'Ada Lovelace' });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.author).toBe('ada');
    expect(seen[0]!.authorization).toBeNull();
    expect(seen[0]!.timeoutMs).toBeGreaterThan(0);
    expect(seen[0]!.timeoutMs).toBeLessThanOrEqual(30_000);

    await ingest.getAuthor({ id: 'ada' });
    expect(seen[1]).toEqual({ author: null, authorization: null, timeoutMs: undefined });
  });

  it("passes an upstream's refusal back with its code and message", async () => {
    const ingest = createClient(ingestv1.IngestService, gateway());
    const missing = await rejection(ingest.getAuthor({ id: 'nobody' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toBe('author "nobody" does not exist: create it first (CreateAuthor)');
    const bad = await rejection(ingest.addSource({ authorId: 'ada', url: 'ftp://example.com/' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toBe(
      'url must use http or https, not ftp: (url: must be an absolute http(s) URL)',
    );
    // A method the upstream does not implement stays Unimplemented rather than becoming an internal error.
    const unimplemented = await rejection(ingest.listAuthors({}));
    expect(unimplemented.code).toBe(Code.Unimplemented);
  });

  it('forwards a server stream message by message, and the error an upstream stream fails with', async () => {
    const inference = createClient(inferencev1.InferenceService, gateway());
    const events: string[] = [];
    for await (const m of inference.generateStream(
      { query: 'sourdough needs time', authorId: 'ada' },
      { headers: { 'x-llmtwin-author': 'ada' } },
    )) {
      events.push(m.event.case === 'delta' ? m.event.value : String(m.event.case));
    }
    expect(events).toEqual(['started', 'sourdough', 'needs', 'time', 'done']);
    expect(seen.map((s) => s.author)).toEqual(['ada']);

    const err = await rejection(
      (async () => {
        for await (const _ of inference.generateStream({ query: '  ' })) void _;
      })(),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe('query is empty: ask a question');
  });

  it('cancels the upstream call when the caller goes away', async () => {
    const ingest = createClient(ingestv1.IngestService, gateway());
    const caller = new AbortController();
    const call = rejection(ingest.getDocument({ id: 'doc_1' }, { signal: caller.signal }));
    const upstreamSignal = await slow;
    expect(upstreamSignal.aborted).toBe(false);
    caller.abort();
    expect((await call).code).toBe(Code.Canceled);
    await new Promise((resolve) =>
      upstreamSignal.aborted ? resolve(undefined) : upstreamSignal.addEventListener('abort', resolve),
    );
    expect(upstreamSignal.aborted).toBe(true);
  });
});
