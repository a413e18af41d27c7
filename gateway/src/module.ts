// The gateway as a module: the public edge in front of every service. It authenticates every call with an
// API key (auth/), forwards the public services, serves the installation's status and the API keys'
// administration, and its health follows its upstreams and the warehouse that holds the keys.
//
// The plain HTTP side (wrapHttp) composes, outermost first: CORS → the web console (GET /, /assets/*) → the archive upload (POST /v1/archives,
// streamed to ingest) → `httpRoutes` (e.g. the OpenAI-compatible API, handed the same GatewaySecurity) → the
// Connect handler (gRPC, Connect, gRPC-Web).
import type { DescService } from '@bufbuild/protobuf';
import { createClient, type ConnectRouter } from '@connectrpc/connect';
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
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createLogger, unavailable, type NodeHandler } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { ApiKeySecurity, DEFAULT_RATE_LIMIT_PER_MINUTE } from './auth/api-key-security.js';
import { ApiKeyStore } from './auth/api-keys.js';
import { authInterceptor } from './auth/auth.interceptor.js';
import { ensureAdminKeyFile, ensureBootstrapKey } from './auth/bootstrap.js';
import { corsMiddleware } from './auth/cors.js';
import type { GatewaySecurity } from './auth/principal.js';
import { archiveUploadRoutes } from './http/archive-upload.routes.js';
import { consoleRoutes } from './http/console.routes.js';
import { registerAdminRoutes } from './rpc/admin.routes.js';
import { registerPipelineRoutes } from './rpc/pipeline.routes.js';
import { registerProxy } from './rpc/proxy.routes.js';
import { registerStatusRoutes, type Upstream } from './rpc/status.routes.js';

export const publicServices = [
  ['ingest', ingestv1.IngestService],
  ['clean', cleanv1.CleanService],
  ['chunk', chunkv1.ChunkService],
  ['embed', embedv1.EmbedService],
  ['registry', registryv1.RegistryService],
  ['trainer', trainerv1.TrainerService],
  ['inference-router', inferencev1.InferenceService],
] as const;

/** Every service the gateway serves that needs a key (health and reflection need none). */
export const gatewayServices: readonly DescService[] = [
  ...publicServices.map(([, s]) => s),
  gatewayv1.StatusService,
  gatewayv1.AdminService,
  gatewayv1.PipelineService,
];

/** Methods that carry whole files: they get the upload limit instead of the request limit. */
const uploadMethods = new Set([
  'llmtwin.ingest.v1.IngestService/ImportArchive',
  'llmtwin.ingest.v1.IngestService/ExtractPage',
]);

export interface GatewaySecuritySettings {
  /** Requests per minute for keys without their own limit (default 600). */
  defaultRateLimitPerMinute?: number;
  /** Largest request accepted, Connect and plain HTTP alike (default 1 MiB). */
  maxRequestBytes?: number;
  /** Largest request to ImportArchive and ExtractPage (default 32 MiB). */
  maxUploadBytes?: number;
  /** Origins allowed to call from a browser, or ['*']; empty: no CORS headers at all. */
  corsOrigins?: readonly string[];
  /** How long a looked-up key is trusted (default 5 s): revocations reach other replicas within it. */
  keyCacheTtlMs?: number;
  /** Made to exist as an admin key at start (distributed bootstrap). */
  bootstrapAdminKey?: string;
  /** Embedded mode: when no active admin key exists, create one and write it to this file (mode 0600). */
  adminKeyFile?: string;
  /** For tests: the clock of the rate limiter and the key cache. */
  now?: () => number;
}

/** What plain HTTP routes get to work with: the same keys, quotas and size bound as the RPCs. */
export interface HttpRoutesContext {
  security: GatewaySecurity;
  maxRequestBytes: number;
  directory: ServiceDirectory;
  logger: Logger;
}

/**
 * Plain HTTP routes served before the Connect handler (behind CORS): given the context, returns a wrapper
 * that answers its own paths and passes every other request to `next`.
 */
export type HttpRoutes = (context: HttpRoutesContext) => (next: NodeHandler) => NodeHandler;

export interface GatewayDeps {
  directory: ServiceDirectory;
  /** Where each upstream lives, for status output ('in-process' in embedded mode). */
  addresses: Partial<Record<ServiceName, string>>;
  mode: 'embedded' | 'distributed';
  /** Holds the API keys (collection `api_keys`). */
  warehouse: Warehouse;
  /** Optional: lets the status show the pipeline consumers' lag. */
  eventBus?: EventBus;
  version: string;
  dataDir: string;
  security?: GatewaySecuritySettings;
  /** Plain HTTP routes such as the OpenAI-compatible API (gateway/src/http/). */
  httpRoutes?: HttpRoutes;
  /** Where the built web console is (default gateway/console/dist); served at `/`. */
  consoleDir?: string;
  logger?: Logger;
}

export interface GatewayModule extends ServiceModule {
  readonly security: GatewaySecurity;
  readonly keys: ApiKeyStore;
}

/** Registers services method by method where some methods need their own request-size limit. */
function withUploadLimit(router: ConnectRouter, uploadBytes: number): ConnectRouter {
  const limited: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, implementation, options) {
      const impl = implementation as Record<string, unknown>;
      for (const method of service.methods) {
        const fn = impl[method.localName];
        if (fn !== undefined) limited.rpc(method, fn as never, options);
      }
      return limited;
    },
    rpc(method, implementation, options) {
      const upload = uploadMethods.has(`${method.parent.typeName}/${method.name}`);
      router.rpc(method, implementation, { ...options, ...(upload ? { readMaxBytes: uploadBytes } : {}) });
      return limited;
    },
  };
  return limited;
}

export async function createGatewayModule(deps: GatewayDeps): Promise<GatewayModule> {
  const settings = deps.security ?? {};
  const logger = deps.logger ?? createLogger('gateway');
  const maxRequestBytes = settings.maxRequestBytes ?? 1024 * 1024;
  const maxUploadBytes = settings.maxUploadBytes ?? 32 * 1024 * 1024;
  const keys = new ApiKeyStore(deps.warehouse, {
    ...(settings.keyCacheTtlMs !== undefined ? { cacheTtlMs: settings.keyCacheTtlMs } : {}),
    ...(settings.now ? { now: settings.now } : {}),
  });
  await keys.init();
  if (settings.bootstrapAdminKey) await ensureBootstrapKey(keys, settings.bootstrapAdminKey, logger);
  if (settings.adminKeyFile) await ensureAdminKeyFile(keys, settings.adminKeyFile, logger);
  const security = new ApiKeySecurity(keys, {
    defaultRateLimitPerMinute: settings.defaultRateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE,
    ...(settings.now ? { now: settings.now } : {}),
  });

  const upstreams: Upstream[] = publicServices.map(([name]) => ({
    name,
    address: deps.addresses[name] ?? '',
    transport: deps.directory.transport(name),
  }));
  const ingestTransport = () => deps.directory.transport('ingest');
  let ingestClient: ReturnType<typeof createClient<typeof ingestv1.IngestService>> | undefined;
  const cors = corsMiddleware(settings.corsOrigins ?? []);
  const httpRoutes = deps.httpRoutes?.({
    security,
    maxRequestBytes,
    directory: deps.directory,
    logger: logger.child({ component: 'http' }),
  });

  const webConsole = consoleRoutes(deps.consoleDir !== undefined ? { dir: deps.consoleDir } : {});
  const archiveUpload = archiveUploadRoutes({
    security,
    directory: deps.directory,
    logger: logger.child({ component: 'archive-upload' }),
  });

  return {
    name: 'gateway',
    services: gatewayServices,
    security,
    keys,
    interceptors: [
      authInterceptor({
        security,
        ingest: () => (ingestClient ??= createClient(ingestv1.IngestService, ingestTransport())),
      }),
    ],
    readMaxBytes: maxRequestBytes,
    wrapHttp: (next) => cors(webConsole(archiveUpload(httpRoutes ? httpRoutes(next) : next))),
    register: (router) => {
      const limited = withUploadLimit(router, maxUploadBytes);
      for (const [name, service] of publicServices)
        registerProxy(limited, service, deps.directory.transport(name));
      registerStatusRoutes(router, {
        mode: deps.mode,
        version: deps.version,
        dataDir: deps.dataDir,
        upstreams,
        ...(deps.eventBus ? { eventBus: deps.eventBus } : {}),
      });
      registerAdminRoutes(router, { keys, ingest: ingestTransport });
      registerPipelineRoutes(router, deps.eventBus ? { eventBus: deps.eventBus } : {});
    },
    // The edge is only as healthy as the services it forwards to, and cannot check a key without the
    // warehouse.
    dependencies: [
      {
        name: 'warehouse',
        adapter: deps.warehouse.adapter,
        check: (signal: AbortSignal) => deps.warehouse.ping(signal),
      },
      ...upstreams.map((u) => ({
        name: u.name,
        adapter: u.address,
        check: async (signal: AbortSignal) => {
          const res = await createClient(healthv1.Health, u.transport).check({ service: '' }, { signal });
          if (res.status !== healthv1.HealthCheckResponse_ServingStatus.SERVING) {
            throw unavailable(`${u.name} is not serving`);
          }
        },
      })),
    ],
  };
}
