// StatusService/GetStatus through an in-memory Connect transport (createRouterTransport over
// registerStatusRoutes, with the error interceptor the hosts use). The upstreams are real grpc.health.v1
// servers (the runtime's HealthService behind registerHealthRoutes, each on its own in-memory transport) put
// in the states a status page must tell apart; consumer lag is read from the embedded event log.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { gatewayv1, healthv1, topics } from '@llmtwin/contracts';
import { type EventBus } from '@llmtwin/ports';
import { createEventBus } from '@llmtwin/ports/adapters';
import {
  createLogger,
  errorInterceptor,
  HealthService,
  registerHealthRoutes,
  ServingStatus,
} from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registerStatusRoutes, type Upstream } from './status.routes.js';

const logger = createLogger('status-routes-test', { level: 'silent' });
const interceptors = [errorInterceptor(logger)];

/** A health server whose listed dependencies are up or down as given. */
function healthUpstream(name: string, dependencies: Record<string, boolean>, shuttingDown = false): Upstream {
  const health = new HealthService();
  for (const [dep, up] of Object.entries(dependencies))
    health.setServiceStatus(`dependency/${dep}`, up ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  if (shuttingDown) health.setShuttingDown();
  return {
    name,
    address: `http://${name}.internal:50051`,
    transport: createRouterTransport((router) => registerHealthRoutes(router, health), {
      router: { interceptors },
    }),
  };
}

describe('StatusService routes over an in-memory transport', () => {
  let root: string;
  let bus: EventBus;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'status-routes-'));
    bus = createEventBus(`log:${path.join(root, 'events.db')}`);
  });

  afterEach(async () => {
    await bus.close();
    await rm(root, { recursive: true, force: true });
  });

  const statusClient = (upstreams: Upstream[], eventBus?: EventBus): Client<typeof gatewayv1.StatusService> =>
    createClient(
      gatewayv1.StatusService,
      createRouterTransport(
        (router) =>
          registerStatusRoutes(router, {
            mode: 'embedded',
            version: '1.2.3',
            dataDir: '/var/lib/llmtwin',
            upstreams,
            ...(eventBus ? { eventBus } : {}),
          }),
        { router: { interceptors } },
      ),
    );

  it('GetStatus reports each upstream as serving, not serving or unreachable, with its dependencies and consumer lag', async () => {
    // Three raw documents published, none consumed by clean yet; nothing ever published to documents.cleaned.
    await bus.ensureTopics([topics.documentsRaw]);
    for (const id of ['doc_1', 'doc_2', 'doc_3'])
      await bus.publish(topics.documentsRaw, [{ key: id, value: new Uint8Array([1]) }]);
    const unreachable: Upstream = {
      name: 'embed',
      address: 'http://embed.internal:50051',
      transport: createRouterTransport(
        (router) =>
          router.service(healthv1.Health, {
            check() {
              throw new ConnectError('connection refused', Code.Unavailable);
            },
          }),
        { router: { interceptors } },
      ),
    };
    const client = statusClient(
      [
        healthUpstream('clean', { 'warehouse@sqlite': true, 'event-bus@log': false }),
        healthUpstream('chunk', { 'warehouse@sqlite': true }, true),
        unreachable,
        healthUpstream('inference-router', {}),
      ],
      bus,
    );

    const res = await client.getStatus({});
    expect(res).toMatchObject({ mode: 'embedded', version: '1.2.3', dataDir: '/var/lib/llmtwin' });
    const byName = Object.fromEntries(res.services.map((s) => [s.name, s]));
    expect(res.services.map((s) => s.name)).toEqual(['clean', 'chunk', 'embed', 'inference-router']);

    expect(byName['clean']).toMatchObject({
      address: 'http://clean.internal:50051',
      health: gatewayv1.ServiceHealth.SERVING,
      consumerLag: { [topics.documentsRaw]: 3n },
    });
    expect(byName['clean']!.dependencies.map((d) => [d.name, d.adapter, d.up]).sort()).toEqual([
      ['event-bus', 'log', false],
      ['warehouse', 'sqlite', true],
    ]);
    // Shutting down: NOT_SERVING; a topic nobody published to has nothing waiting.
    expect(byName['chunk']).toMatchObject({
      health: gatewayv1.ServiceHealth.NOT_SERVING,
      consumerLag: { [topics.documentsCleaned]: 0n },
    });
    expect(byName['embed']).toMatchObject({
      health: gatewayv1.ServiceHealth.UNREACHABLE,
      dependencies: [],
    });
    expect(byName['inference-router']).toMatchObject({
      health: gatewayv1.ServiceHealth.SERVING,
      dependencies: [],
      consumerLag: {},
    });
  });

  it('GetStatus leaves consumer lag out without an event bus, and answers with no services when none are configured', async () => {
    const withoutBus = await statusClient([healthUpstream('clean', {})]).getStatus({});
    expect(withoutBus.services).toEqual([
      create(gatewayv1.ServiceStatusSchema, {
        name: 'clean',
        address: 'http://clean.internal:50051',
        health: gatewayv1.ServiceHealth.SERVING,
      }),
    ]);
    expect((await statusClient([]).getStatus({})).services).toEqual([]);
  });
});
