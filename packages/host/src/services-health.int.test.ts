// Every service, each in its own process on the real backends (Kafka, FerretDB, Weaviate), answers a standard
// gRPC health check with SERVING, lists its services through reflection, turns NOT_SERVING within 5 s of a
// backend it needs stopping, and SERVING again once the backend is back.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  grpcHealthCheck,
  grpcReflectionList,
  startFerretDb,
  startKafka,
  startServiceProcess,
  startWeaviate,
  waitForHealth,
  type BackendHandle,
  type ServiceProcess,
} from '@llmtwin/testkit';

const needs: Record<string, ('warehouse' | 'bus' | 'vectors')[]> = {
  ingest: ['warehouse', 'bus'],
  clean: ['warehouse', 'bus'],
  chunk: ['warehouse', 'bus'],
  embed: ['warehouse', 'bus', 'vectors'],
  registry: ['warehouse', 'bus'],
  trainer: ['warehouse', 'bus'],
  // The router retrieves through embed, so it follows embed's backends too.
  'inference-router': ['warehouse', 'bus', 'vectors'],
};
const servesName: Record<string, string> = {
  ingest: 'llmtwin.ingest.v1.IngestService',
  clean: 'llmtwin.clean.v1.CleanService',
  chunk: 'llmtwin.chunk.v1.ChunkService',
  embed: 'llmtwin.embed.v1.EmbedService',
  registry: 'llmtwin.registry.v1.RegistryService',
  trainer: 'llmtwin.trainer.v1.TrainerService',
  'inference-router': 'llmtwin.inference.v1.InferenceService',
};

describe('services on the real backends', () => {
  let kafka: BackendHandle;
  let ferret: BackendHandle;
  let weaviate: BackendHandle;
  const services = new Map<string, ServiceProcess>();
  let gateway: ServiceProcess;

  beforeAll(async () => {
    [kafka, ferret, weaviate] = await Promise.all([startKafka(), startFerretDb(), startWeaviate()]);
    const env = {
      // As deployed (deploy/base config): a consumer leaving its group after a broker restart can take
      // longer than the 10 s default to drain.
      SHUTDOWN_TIMEOUT_MS: '30000',
      LLMTWIN_WAREHOUSE_URL: ferret.url,
      LLMTWIN_EVENT_BUS_URL: kafka.url,
      LLMTWIN_VECTOR_STORE_URL: weaviate.url,
    };
    // Services reach the ones started before them (clean → ingest, embed → clean, router → embed).
    const upstreamEnv: Record<string, string> = {};
    for (const name of Object.keys(needs)) {
      const started = await startServiceProcess(name, { ...env, ...upstreamEnv });
      services.set(name, started);
      upstreamEnv[`LLMTWIN_${name.toUpperCase().replace(/-/g, '_')}_URL`] = started.url;
    }
    const upstreams = Object.fromEntries(
      [...services].map(([name, p]) => [`LLMTWIN_${name.toUpperCase().replace(/-/g, '_')}_URL`, p.url]),
    );
    // The gateway keeps its API keys in the warehouse.
    gateway = await startServiceProcess('gateway', { ...upstreams, LLMTWIN_WAREHOUSE_URL: ferret.url });
  }, 300_000);

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([...services.values()].map((s) => s.stop()));
    await Promise.all([kafka?.dispose(), ferret?.dispose(), weaviate?.dispose()]);
  }, 120_000);

  it('every service answers SERVING to a standard gRPC health client, and lists its services', async () => {
    for (const [name, proc] of [...services, ['gateway', gateway] as const]) {
      await waitForHealth(proc.address, 'SERVING', 15_000);
      const listed = await grpcReflectionList(proc.address);
      expect(listed).toEqual(
        expect.arrayContaining(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']),
      );
      if (name !== 'gateway') expect(listed).toContain(servesName[name]);
      const alpha = await grpcReflectionList(proc.address, 'v1alpha');
      expect(alpha).toEqual(listed);
    }
    expect(await grpcHealthCheck(gateway.address)).toBe('SERVING');
  }, 120_000);

  const outage = async (backend: () => BackendHandle, dependency: 'warehouse' | 'bus' | 'vectors') => {
    const affected = Object.keys(needs).filter((n) => needs[n]!.includes(dependency));
    const unaffected = Object.keys(needs).filter((n) => !needs[n]!.includes(dependency));
    await backend().stop();
    const took = await Promise.all(
      affected.map((n) => waitForHealth(services.get(n)!.address, 'NOT_SERVING', 5_000)),
    );
    expect(Math.max(...took)).toBeLessThan(5_000);
    for (const n of unaffected) expect(await grpcHealthCheck(services.get(n)!.address)).toBe('SERVING');
    // The gateway follows its upstreams.
    await waitForHealth(gateway.address, 'NOT_SERVING', 5_000);

    await backend().restart();
    await Promise.all(affected.map((n) => waitForHealth(services.get(n)!.address, 'SERVING', 30_000)));
    await waitForHealth(gateway.address, 'SERVING', 10_000);
  };

  it(
    'turns NOT_SERVING within 5 s of the warehouse (FerretDB) stopping, and back',
    () => outage(() => ferret, 'warehouse'),
    120_000,
  );
  it(
    'turns NOT_SERVING within 5 s of the event bus (Kafka) stopping, and back',
    () => outage(() => kafka, 'bus'),
    180_000,
  );
  it(
    'turns NOT_SERVING within 5 s of the vector store (Weaviate) stopping, and back',
    () => outage(() => weaviate, 'vectors'),
    120_000,
  );

  // Last: the gateway follows its upstreams, so it is NOT_SERVING afterwards.
  it('shuts down gracefully on SIGTERM: drains and exits with code 0', async () => {
    const chunk = services.get('chunk')!;
    services.delete('chunk');
    const code = await chunk.stop('SIGTERM');
    // The service's own log says why, should it not exit cleanly.
    expect({ code, log: code === 0 ? '' : chunk.output().slice(-4000) }).toEqual({ code: 0, log: '' });
    expect(chunk.output()).toContain('shutting down');
  }, 60_000);
});
