// StatusService: the health of every service behind the gateway, as `llmtwin status` shows it.
import { create } from '@bufbuild/protobuf';
import { createClient, type ConnectRouter, type Transport } from '@connectrpc/connect';
import { gatewayv1, healthv1, topics } from '@llmtwin/contracts';
import type { EventBus } from '@llmtwin/ports';
import { isDomainError } from '@llmtwin/runtime';
import { principalKey } from '../auth/api-key-security.js';

/** The topics each pipeline service consumes, with the service name as its consumer group. */
export const consumedTopics: Record<string, readonly string[]> = {
  clean: [topics.documentsRaw],
  chunk: [topics.documentsCleaned],
  embed: [topics.chunks],
};

/** Events not yet processed, per consumed topic; empty when the lag cannot be read. */
async function consumerLag(bus: EventBus | undefined, service: string): Promise<Record<string, bigint>> {
  const lag: Record<string, bigint> = {};
  if (!bus) return lag;
  for (const topic of consumedTopics[service] ?? []) {
    try {
      lag[topic] = BigInt(await bus.lag(service, topic));
    } catch (err) {
      // A topic nobody has published to yet has nothing waiting; any other unreadable lag is left out
      // rather than failing the status.
      if (isDomainError(err, 'failed-precondition') || isDomainError(err, 'not-found')) lag[topic] = 0n;
    }
  }
  return lag;
}

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
  options: {
    mode: string;
    version: string;
    dataDir: string;
    upstreams: readonly Upstream[];
    /** When given, the status includes each pipeline consumer's lag. */
    eventBus?: EventBus;
  },
): void {
  router.service(gatewayv1.StatusService, {
    async getStatus() {
      const services = await Promise.all(
        options.upstreams.map(async (u) => {
          const status = await upstreamStatus(u);
          status.consumerLag = await consumerLag(options.eventBus, u.name);
          return status;
        }),
      );
      return { mode: options.mode, version: options.version, dataDir: options.dataDir, services };
    },
    getCaller(_req, ctx) {
      const principal = ctx.values.get(principalKey);
      return {
        keyId: principal?.keyId ?? '',
        admin: principal?.admin ?? false,
        authorId: principal?.authorId ?? '',
      };
    },
  });
}
