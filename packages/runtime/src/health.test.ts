import { describe, expect, it } from '@jest/globals';
import { Code, createClient, createRouterTransport } from '@connectrpc/connect';
import { healthv1 } from '@llmtwin/contracts';
import { HealthService, registerHealthRoutes, ServingStatus } from './health.js';

function flakyDependency() {
  const state = { up: true };
  const check = (): Promise<void> =>
    state.up ? Promise.resolve() : Promise.reject(new Error('connection refused'));
  return { state, check };
}

function clientFor(health: HealthService) {
  return createClient(
    healthv1.Health,
    createRouterTransport((router) => registerHealthRoutes(router, health)),
  );
}

describe('HealthService', () => {
  it('is SERVING without dependencies', () => {
    const health = new HealthService();
    expect(health.status()).toBe(ServingStatus.SERVING);
  });

  it('is NOT_SERVING until a dependency has passed a check', async () => {
    const db = flakyDependency();
    const health = new HealthService().addDependency('db', db.check);
    expect(health.status()).toBe(ServingStatus.NOT_SERVING);
    expect(health.snapshot().dependencies).toEqual([
      { name: 'db', up: false, detail: 'not checked yet', lastCheck: null },
    ]);
    await health.checkNow();
    expect(health.status()).toBe(ServingStatus.SERVING);
  });

  it('flips to NOT_SERVING while a dependency fails, and back', async () => {
    const db = flakyDependency();
    const cache = flakyDependency();
    const health = new HealthService()
      .addDependency('db', db.check)
      .addDependency('cache', cache.check)
      .registerService('llmtwin.clean.v1.CleanService');
    await health.checkNow();
    expect(health.status('llmtwin.clean.v1.CleanService')).toBe(ServingStatus.SERVING);

    db.state.up = false;
    await health.checkNow();
    expect(health.status()).toBe(ServingStatus.NOT_SERVING);
    expect(health.status('llmtwin.clean.v1.CleanService')).toBe(ServingStatus.NOT_SERVING);
    const snapshot = health.snapshot();
    expect(snapshot.status).toBe('NOT_SERVING');
    expect(snapshot.dependencies.find((d) => d.name === 'db')).toMatchObject({
      up: false,
      detail: 'connection refused',
    });
    expect(snapshot.dependencies.find((d) => d.name === 'cache')).toMatchObject({ up: true, detail: 'ok' });

    db.state.up = true;
    await health.checkNow();
    expect(health.status()).toBe(ServingStatus.SERVING);
  });

  it('counts a check that never settles as failed after its timeout', async () => {
    let aborted = false;
    const health = new HealthService().addDependency(
      'hung',
      (signal) =>
        new Promise<void>(() => {
          signal.addEventListener('abort', () => (aborted = true));
        }),
      { timeoutMs: 20 },
    );
    await health.checkNow();
    expect(health.status()).toBe(ServingStatus.NOT_SERVING);
    expect(health.snapshot().dependencies[0]?.detail).toBe('check timed out after 20 ms');
    expect(aborted).toBe(true);
  });

  it('polls dependencies once started', async () => {
    const db = flakyDependency();
    const health = new HealthService().addDependency('db', db.check, { intervalMs: 5 });
    const serving = new Promise<void>((resolve) =>
      health.onChange((service, status) => {
        if (service === '' && status === ServingStatus.SERVING) resolve();
      }),
    );
    health.start();
    await serving;
    const notServing = new Promise<void>((resolve) =>
      health.onChange((service, status) => {
        if (service === '' && status === ServingStatus.NOT_SERVING) resolve();
      }),
    );
    db.state.up = false;
    await notServing;
    health.stop();
  });

  it('lets one service be pinned, but shutdown wins', () => {
    const health = new HealthService().registerService('a.A', 'b.B');
    health.setServiceStatus('b.B', ServingStatus.NOT_SERVING);
    expect(health.status('a.A')).toBe(ServingStatus.SERVING);
    expect(health.status('b.B')).toBe(ServingStatus.NOT_SERVING);
    health.setShuttingDown();
    expect(health.services().map((s) => health.status(s))).toEqual([
      ServingStatus.NOT_SERVING,
      ServingStatus.NOT_SERVING,
      ServingStatus.NOT_SERVING,
    ]);
    expect(health.snapshot().shuttingDown).toBe(true);
  });
});

describe('grpc.health.v1 routes', () => {
  it('Check answers per service and NotFound for unknown ones', async () => {
    const health = new HealthService().registerService('llmtwin.clean.v1.CleanService');
    const client = clientFor(health);
    expect((await client.check({ service: '' })).status).toBe(ServingStatus.SERVING);
    expect((await client.check({ service: 'llmtwin.clean.v1.CleanService' })).status).toBe(
      ServingStatus.SERVING,
    );
    await expect(client.check({ service: 'nope.Nope' })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it('List returns every known service', async () => {
    const db = flakyDependency();
    db.state.up = false;
    const health = new HealthService().addDependency('db', db.check).registerService('x.X');
    await health.checkNow();
    const res = await clientFor(health).list({});
    expect(Object.fromEntries(Object.entries(res.statuses).map(([k, v]) => [k, v.status]))).toEqual({
      '': ServingStatus.NOT_SERVING,
      'x.X': ServingStatus.NOT_SERVING,
    });
  });

  it('Watch sends the current status, then every change, and ends at shutdown', async () => {
    const db = flakyDependency();
    const health = new HealthService().addDependency('db', db.check);
    await health.checkNow();
    const controller = new AbortController();
    const stream = clientFor(health).watch({ service: '' }, { signal: controller.signal });
    const it = stream[Symbol.asyncIterator]();

    expect((await it.next()).value?.status).toBe(ServingStatus.SERVING);
    db.state.up = false;
    await health.checkNow();
    expect((await it.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    db.state.up = true;
    await health.checkNow();
    expect((await it.next()).value?.status).toBe(ServingStatus.SERVING);
    health.setShuttingDown();
    expect((await it.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    expect((await it.next()).done).toBe(true);
  });

  it('Watch of an unknown service says SERVICE_UNKNOWN and ends when the call is aborted', async () => {
    const health = new HealthService();
    const controller = new AbortController();
    const stream = clientFor(health).watch({ service: 'later.Later' }, { signal: controller.signal });
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
    health.registerService('later.Later');
    expect((await it.next()).value?.status).toBe(ServingStatus.SERVING);
    controller.abort();
    await expect(it.next()).rejects.toMatchObject({ code: Code.Canceled });
  });
});
