// StatusService: the health of every service behind the gateway, as `llmtwin status` shows it.
import { create } from '@bufbuild/protobuf';
import { createClient, type ConnectRouter, type Transport } from '@connectrpc/connect';
import { gatewayv1, healthv1 } from '@llmtwin/contracts';

export interface Upstream {
  name: string;
  address: string;
  transport: Transport;
}

const DEPENDENCY_PREFIX = 'dependency/';

export async function upstreamStatus(upstream: Upstream, timeoutMs = 2000) {
  const health = createClient(healthv1.Health, upstream.transport);
  try {
    const [check, list] = await Promise.all([
      health.check({ service: '' }, { timeoutMs }),
      health.list({}, { timeoutMs }).catch(() => undefined),
    ]);
    const dependencies = Object.entries(list?.statuses ?? {})
      .filter(([name]) => name.startsWith(DEPENDENCY_PREFIX))
      .map(([name, s]) => {
        const [dep = '', adapter = ''] = name.slice(DEPENDENCY_PREFIX.length).split('@');
        return create(gatewayv1.DependencyStatusSchema, {
          name: dep,
          adapter,
          up: s.status === healthv1.HealthCheckResponse_ServingStatus.SERVING,
        });
      });
    return create(gatewayv1.ServiceStatusSchema, {
      name: upstream.name,
      address: upstream.address,
      health:
        check.status === healthv1.HealthCheckResponse_ServingStatus.SERVING
          ? gatewayv1.ServiceHealth.SERVING
          : gatewayv1.ServiceHealth.NOT_SERVING,
      dependencies,
    });
  } catch {
    return create(gatewayv1.ServiceStatusSchema, {
      name: upstream.name,
      address: upstream.address,
      health: gatewayv1.ServiceHealth.UNREACHABLE,
    });
  }
}

export function registerStatusRoutes(
  router: ConnectRouter,
  options: { mode: string; version: string; dataDir: string; upstreams: readonly Upstream[] },
): void {
  router.service(gatewayv1.StatusService, {
    async getStatus() {
      const services = await Promise.all(options.upstreams.map((u) => upstreamStatus(u)));
      return { mode: options.mode, version: options.version, dataDir: options.dataDir, services };
    },
  });
}
