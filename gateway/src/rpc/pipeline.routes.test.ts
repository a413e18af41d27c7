// PipelineService through an in-memory Connect transport (createRouterTransport over registerPipelineRoutes,
// with the error interceptor the hosts use) on a real embedded event log: a dead letter made the way a
// consumer makes one (subscribe, a handler that throws, maxAttempts 1), listed with its error, replayed once;
// alerts read back newest first. Then the same service behind the real gateway: admin keys only, and
// StatusService/GetCaller saying which kind of key called.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { DescService } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Client,
  type Interceptor,
  type Transport,
} from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { gatewayv1, inferenceeventsv1, ingestv1, topics } from '@llmtwin/contracts';
import { hostModule, type HostedService, type ServiceDirectory } from '@llmtwin/host';
import { publishEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger, errorInterceptor } from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createGatewayModule } from '../module.js';
import { pipelineTopics, registerPipelineRoutes } from './pipeline.routes.js';

const logger = createLogger('pipeline-routes-test', { level: 'silent' });
const interceptors = [errorInterceptor(logger)];

async function rejection(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error('expected the call to fail');
}

/** Publishes an event and lets the group's consumer give up on it at once: one dead letter on `topic`. */
async function deadLetter(bus: EventBus, topic: string, key: string, group: string, error: string) {
  await bus.ensureTopics([topic]);
  await bus.publish(topic, [{ key, value: new Uint8Array([0xff, 0x01, 0x02]) }]);
  let failed!: () => void;
  const handled = new Promise<void>((resolve) => (failed = resolve));
  const subscription = await bus.subscribe({
    group,
    topics: [topic],
    maxAttempts: 1,
    handler: async () => {
      failed();
      throw new Error(error);
    },
  });
  await handled;
  // The letter is written after the handler's last failure; wait until it can be read.
  for (let i = 0; i < 100 && (await bus.deadLetters(topic)).length === 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  await subscription.stop();
}

const pipelineClient = (eventBus?: EventBus): Client<typeof gatewayv1.PipelineService> =>
  createClient(
    gatewayv1.PipelineService,
    createRouterTransport((router) => registerPipelineRoutes(router, eventBus ? { eventBus } : {}), {
      router: { interceptors },
    }),
  );

describe('PipelineService routes over an in-memory transport', () => {
  let root: string;
  let bus: EventBus;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'pipeline-routes-'));
    bus = createEventBus(`log:${path.join(root, 'events.db')}`);
  });

  afterEach(async () => {
    await bus.close();
    await rm(root, { recursive: true, force: true });
  });

  it('ListDeadLetters shows a dead letter with its key, group, error and size; nothing before', async () => {
    const client = pipelineClient(bus);
    expect((await client.listDeadLetters({})).deadLetters).toEqual([]);

    const before = Date.now();
    await deadLetter(bus, topics.documentsRaw, 'doc_poison', 'clean', 'not a RawDocumentChanged');
    const { deadLetters } = await client.listDeadLetters({});
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      topic: topics.documentsRaw,
      key: 'doc_poison',
      group: 'clean',
      error: expect.stringContaining('not a RawDocumentChanged'),
      sizeBytes: 3n,
    });
    expect(deadLetters[0]!.partition).toBeGreaterThanOrEqual(0);
    expect(deadLetters[0]!.offset).toMatch(/^\d+$/);
    const deadMs = Number(deadLetters[0]!.deadTime!.seconds) * 1000;
    expect(deadMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);

    // One topic asked for by name: the same letter; another pipeline topic: none.
    expect((await client.listDeadLetters({ topics: [topics.documentsRaw] })).deadLetters).toHaveLength(1);
    expect((await client.listDeadLetters({ topics: [topics.chunks] })).deadLetters).toEqual([]);
  });

  it('ReplayDeadLetters puts a topic’s letters back once: 1, then 0', async () => {
    await deadLetter(bus, topics.documentsRaw, 'doc_poison', 'clean', 'boom');
    const client = pipelineClient(bus);
    expect((await client.replayDeadLetters({ topic: topics.documentsRaw })).replayed).toBe(1n);
    const messages = await bus.read(topics.documentsRaw);
    expect(messages.map((m) => m.key)).toEqual(['doc_poison', 'doc_poison']);
    expect((await client.replayDeadLetters({ topic: topics.documentsRaw })).replayed).toBe(0n);
    // A pipeline topic that never had a dead letter has nothing to put back.
    expect((await client.replayDeadLetters({ topic: topics.chunks })).replayed).toBe(0n);
  });

  it('refuses an unknown or missing topic and a negative limit with InvalidArgument, naming the topics', async () => {
    const client = pipelineClient(bus);
    const unknown = await rejection(client.replayDeadLetters({ topic: 'llmtwin.nope.v1' }));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toContain('unknown topic "llmtwin.nope.v1"');
    for (const t of pipelineTopics) expect(unknown.rawMessage).toContain(t);

    const listed = await rejection(client.listDeadLetters({ topics: ['llmtwin.nope.v1'] }));
    expect(listed.code).toBe(Code.InvalidArgument);
    expect(listed.rawMessage).toContain(topics.documentsRaw);

    const missing = await rejection(client.replayDeadLetters({ topic: '' }));
    expect(missing.code).toBe(Code.InvalidArgument);
    expect(missing.rawMessage).toMatch(/topic is required/);

    const negative = await rejection(client.listDeadLetters({ limit: -1 }));
    expect(negative.code).toBe(Code.InvalidArgument);
    expect((await rejection(client.listAlerts({ limit: -1 }))).code).toBe(Code.InvalidArgument);
  });

  it('answers FailedPrecondition for every method when the gateway has no event bus', async () => {
    const client = pipelineClient();
    for (const call of [
      client.listDeadLetters({}),
      client.replayDeadLetters({ topic: topics.documentsRaw }),
      client.listAlerts({}),
    ]) {
      const err = await rejection(call);
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toMatch(/without the event bus.*LLMTWIN_EVENT_BUS_URL/);
    }
  });

  it('ListAlerts lists AlertRaised events newest first, and none before the first', async () => {
    const client = pipelineClient(bus);
    expect((await client.listAlerts({})).alerts).toEqual([]);

    await bus.ensureTopics([topics.alerts]);
    const raise = (id: string, rule: string, ms: number) =>
      publishEvent(bus, topics.alerts, inferenceeventsv1.AlertRaisedSchema, id, {
        eventId: id,
        eventTime: timestampFromMs(ms),
        rule,
        value: 1.5,
        threshold: 1,
        message: `${rule} above threshold`,
      });
    await raise('alert_1', 'latency_p95', 1_700_000_000_000);
    await raise('alert_2', 'error_rate', 1_700_000_060_000);

    const { alerts } = await client.listAlerts({});
    expect(alerts.map((a) => [a.eventId, a.rule, a.message])).toEqual([
      ['alert_2', 'error_rate', 'error_rate above threshold'],
      ['alert_1', 'latency_p95', 'latency_p95 above threshold'],
    ]);
    expect((await client.listAlerts({ limit: 1 })).alerts.map((a) => a.eventId)).toEqual(['alert_2']);
  });
});

describe('PipelineService and GetCaller behind the gateway', () => {
  const ADMIN_KEY = 'lt_' + 'P'.repeat(43);
  let root: string;
  let bus: EventBus;
  let warehouse: Warehouse;
  let hosted: HostedService;
  let authorKey: string;
  let authorKeyId: string;

  const withKey =
    (key: string): Interceptor =>
    (next) =>
    (req) => {
      req.header.set('authorization', `Bearer ${key}`);
      return next(req);
    };
  const client = <S extends DescService>(service: S, key: string) =>
    createClient(
      service,
      createConnectTransport({ baseUrl: hosted.url, httpVersion: '1.1', interceptors: [withKey(key)] }),
    );

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'pipeline-gateway-'));
    bus = createEventBus(`log:${path.join(root, 'events.db')}`);
    warehouse = await createWarehouse('sqlite::memory:');
    // Creating an author key asks ingest whether the author exists; nothing else calls an upstream.
    const ingest: Transport = createRouterTransport((router) =>
      router.service(ingestv1.IngestService, {
        getAuthor: (req) => ({ author: { id: req.id, displayName: req.id } }),
      }),
    );
    const directory: ServiceDirectory = { transport: () => ingest };
    const gateway = await createGatewayModule({
      directory,
      addresses: {},
      mode: 'embedded',
      version: 'test',
      dataDir: root,
      warehouse,
      eventBus: bus,
      logger,
      security: { bootstrapAdminKey: ADMIN_KEY },
    });
    hosted = await hostModule(gateway, { port: 0, host: '127.0.0.1', logger, shutdownTimeoutMs: 1000 });
    const created = await client(gatewayv1.AdminService, ADMIN_KEY).createApiKey({
      authorId: 'ada',
      name: 'ada',
    });
    authorKey = created.key;
    authorKeyId = created.apiKey!.id;
  });

  afterAll(async () => {
    await hosted?.stop();
    await bus?.close();
    await warehouse?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('GetCaller says whether the key is an admin key or whose author key it is', async () => {
    const admin = await client(gatewayv1.StatusService, ADMIN_KEY).getCaller({});
    expect(admin).toMatchObject({ admin: true, authorId: '' });
    expect(admin.keyId).not.toBe('');
    expect(admin.keyId).not.toBe(authorKeyId);

    const author = await client(gatewayv1.StatusService, authorKey).getCaller({});
    expect(author).toMatchObject({ admin: false, authorId: 'ada', keyId: authorKeyId });
    // Never the secret.
    expect(JSON.stringify([admin.keyId, author.keyId])).not.toContain(authorKey);
  });

  it('serves PipelineService to admin keys only', async () => {
    expect((await client(gatewayv1.PipelineService, ADMIN_KEY).listDeadLetters({})).deadLetters).toEqual([]);
    const pipeline = client(gatewayv1.PipelineService, authorKey);
    for (const call of [
      pipeline.listDeadLetters({}),
      pipeline.replayDeadLetters({ topic: topics.documentsRaw }),
      pipeline.listAlerts({}),
    ]) {
      expect((await rejection(call)).code).toBe(Code.PermissionDenied);
    }
  });
});
