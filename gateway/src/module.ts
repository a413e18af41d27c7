// The gateway as a module: the public edge in front of every service. It serves the public services by
// forwarding them, the installation's status, and health that follows its upstreams.
import { createClient } from '@connectrpc/connect';
import {
  cleanv1,
  chunkv1,
  embedv1,
  gatewayv1,
  healthv1,
  inferencev1,
  ingestv1,
  registryv1,
  trainerv1,
} from '@llmtwin/contracts';
import { type ServiceDirectory, type ServiceModule, type ServiceName } from '@llmtwin/host';
import type { EventBus } from '@llmtwin/ports';
import { unavailable } from '@llmtwin/runtime';
import { registerProxy } from './rpc/proxy.routes.js';
import { registerStatusRoutes, type Upstream } from './rpc/status.routes.js';

const publicServices = [
  ['ingest', ingestv1.IngestService],
  ['clean', cleanv1.CleanService],
  ['chunk', chunkv1.ChunkService],
  ['embed', embedv1.EmbedService],
  ['registry', registryv1.RegistryService],
  ['trainer', trainerv1.TrainerService],
  ['inference-router', inferencev1.InferenceService],
] as const;

export interface GatewayDeps {
  directory: ServiceDirectory;
  /** Where each upstream lives, for status output ('in-process' in embedded mode). */
  addresses: Partial<Record<ServiceName, string>>;
  mode: 'embedded' | 'distributed';
  /** Optional: lets the status show the pipeline consumers' lag. */
  eventBus?: EventBus;
  version: string;
  dataDir: string;
}

export async function createGatewayModule(deps: GatewayDeps): Promise<ServiceModule> {
  const upstreams: Upstream[] = publicServices.map(([name]) => ({
    name,
    address: deps.addresses[name] ?? '',
    transport: deps.directory.transport(name),
  }));
  return {
    name: 'gateway',
    services: [...publicServices.map(([, s]) => s), gatewayv1.StatusService],
    register: (router) => {
      for (const [name, service] of publicServices)
        registerProxy(router, service, deps.directory.transport(name));
      registerStatusRoutes(router, {
        mode: deps.mode,
        version: deps.version,
        dataDir: deps.dataDir,
        upstreams,
        ...(deps.eventBus ? { eventBus: deps.eventBus } : {}),
      });
    },
    // The edge is only as healthy as the services it forwards to.
    dependencies: upstreams.map((u) => ({
      name: u.name,
      adapter: u.address,
      check: async (signal: AbortSignal) => {
        const res = await createClient(healthv1.Health, u.transport).check({ service: '' }, { signal });
        if (res.status !== healthv1.HealthCheckResponse_ServingStatus.SERVING) {
          throw unavailable(`${u.name} is not serving`);
        }
      },
    })),
  };
}
