// Hosts one ServiceModule as a network server: health over its dependencies, one HTTP/2 port for gRPC,
// Connect and gRPC-Web, then the module's background work. Shutdown runs in the documented order:
// NOT_SERVING, drain RPCs, drain consumers, close adapters.
import { buildServer, HealthService, listen, ServingStatus } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import type { ServiceModule } from './service-module.js';

export interface HostedService {
  url: string;
  port: number;
  health: HealthService;
  stop(): Promise<void>;
}

export interface HostOptions {
  port: number;
  host: string;
  logger: Logger;
  shutdownTimeoutMs: number;
  /** Connections older than this are asked to reconnect, so that replicas started later get their share. */
  maxConnectionAgeMs?: number;
  /** Called after the module stopped, e.g. to close adapters. */
  onStopped?: () => Promise<void>;
  /** How often dependencies are checked (ms). */
  healthIntervalMs?: number;
}

/** Health List names each dependency `dependency/<name>@<adapter>`, so status pages can show them. */
export const dependencyHealthName = (dep: { name: string; adapter: string }) =>
  `dependency/${dep.name}@${dep.adapter}`;

/** Stays SERVING while the process answers (until shutdown): for liveness probes, which must not restart a
 * pod because a backend is down. */
export const LIVENESS_SERVICE = 'liveness';

export function createModuleHealth(module: ServiceModule, intervalMs?: number): HealthService {
  const health = new HealthService();
  health.setServiceStatus(LIVENESS_SERVICE, ServingStatus.SERVING);
  for (const dep of module.dependencies) {
    const key = dependencyHealthName(dep);
    health.setServiceStatus(key, ServingStatus.NOT_SERVING);
    const check = async (signal: AbortSignal) => {
      try {
        await dep.check(signal);
        health.setServiceStatus(key, ServingStatus.SERVING);
      } catch (err) {
        health.setServiceStatus(key, ServingStatus.NOT_SERVING);
        throw err;
      }
    };
    health.addDependency(dep.name, check, intervalMs === undefined ? {} : { intervalMs });
  }
  return health;
}

export async function hostModule(module: ServiceModule, options: HostOptions): Promise<HostedService> {
  const health = createModuleHealth(module, options.healthIntervalMs);
  const server = buildServer({
    name: module.name,
    register: (router) => module.register(router),
    services: [...module.services],
    health,
    logger: options.logger,
    ...(module.interceptors ? { interceptors: module.interceptors } : {}),
    ...(module.readMaxBytes !== undefined ? { readMaxBytes: module.readMaxBytes } : {}),
  });
  health.start();
  const handler = module.wrapHttp ? module.wrapHttp(server.handler) : server.handler;
  const listener = await listen(handler, {
    port: options.port,
    host: options.host,
    ...(options.maxConnectionAgeMs ? { maxConnectionAgeMs: options.maxConnectionAgeMs } : {}),
  });
  try {
    await module.start?.();
  } catch (err) {
    health.stop();
    await listener.close(0);
    throw err;
  }
  options.logger.info(
    { url: listener.url, dependencies: module.dependencies.map((d) => `${d.name}=${d.adapter}`) },
    `${module.name} listening`,
  );
  let stopping: Promise<void> | undefined;
  return {
    url: listener.url,
    port: listener.port,
    health,
    stop: () => {
      stopping ??= (async () => {
        health.setShuttingDown();
        await listener.close(options.shutdownTimeoutMs);
        await module.stop?.();
        health.stop();
        await options.onStopped?.();
      })();
      return stopping;
    },
  };
}
