// What every LLM Twin service is, independent of how it is hosted: the gRPC services it serves, the
// dependencies its health reflects, and the background work (consumers, schedulers) it runs. The same module
// runs alone in its own process (distributed) or beside the others in one process (embedded).
import type { DescService } from '@bufbuild/protobuf';
import type { ConnectRouter, Interceptor, Transport } from '@connectrpc/connect';
import type { NodeHandler } from '@llmtwin/runtime';
import type { Logger } from 'pino';

export interface Dependency {
  /** 'warehouse', 'event-bus', 'vector-store', or an upstream service name. */
  name: string;
  /** Which adapter or address backs it, e.g. 'embedded', 'kafka', 'http://ingest:8080'. */
  adapter: string;
  check: (signal: AbortSignal) => Promise<void>;
}

export interface ServiceModule {
  /** Folder name of the service: 'ingest', 'clean', ..., 'gateway'. */
  readonly name: string;
  readonly services: readonly DescService[];
  register(router: ConnectRouter): void;
  readonly dependencies: readonly Dependency[];
  /** Starts consumers and schedulers, after the server listens. */
  start?(): Promise<void>;
  /** Stops background work, draining in-flight batches. Adapters are closed by the host afterwards. */
  stop?(): Promise<void>;
  /** Run on every RPC after tracing and error mapping (the gateway's authentication and quotas). */
  readonly interceptors?: readonly Interceptor[];
  /** Largest request message accepted, in bytes (default 4 MiB). */
  readonly readMaxBytes?: number;
  /** Wraps the HTTP handler of the listening server: plain HTTP routes (the gateway's OpenAI API, CORS). */
  wrapHttp?(next: NodeHandler): NodeHandler;
}

/** How a module reaches other services: in-process transports (embedded) or gRPC over the network. */
export interface ServiceDirectory {
  transport(service: ServiceName): Transport;
}

export const serviceNames = [
  'ingest',
  'clean',
  'chunk',
  'embed',
  'registry',
  'trainer',
  'inference-router',
] as const;
export type ServiceName = (typeof serviceNames)[number];

export interface ModuleContext {
  logger: Logger;
  directory: ServiceDirectory;
}
