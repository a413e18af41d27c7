// What the local Weaviate (weaviate.ts) and the container (testcontainers.ts) share: the pinned release, the
// start options, the URL and the readiness probe. A leaf, so that neither of the two imports the other.
import type { InfraLog } from './backend.js';
import { portAccepts } from './ports.js';

/** The pinned Weaviate release: the local build and the container image both follow it. */
export const WEAVIATE_VERSION = '1.39.0';

export interface WeaviateStartOptions {
  /** REST port on 127.0.0.1; a free one by default. */
  readonly httpPort?: number;
  /** gRPC port (weaviate-client v3 needs it for search and batch); a free one by default. */
  readonly grpcPort?: number;
  /** Data folder, kept after the run; a temporary one by default. Local mode only. */
  readonly dataDir?: string;
  readonly startTimeoutMs?: number;
  readonly log?: InfraLog;
}

/** `http://127.0.0.1:HTTP?grpc=GRPC`: one string carries both ports a weaviate-client needs. */
export function weaviateUrl(host: string, httpPort: number, grpcPort: number): string {
  return `http://${host}:${httpPort}?grpc=${grpcPort}`;
}

/**
 * Ready: /v1/.well-known/ready answers 200 and the gRPC port accepts (weaviate-client health-checks gRPC
 * on connect). Returns the version from /v1/meta, or undefined while not ready.
 */
export async function weaviateReadyVersion(
  host: string,
  httpPort: number,
  grpcPort: number,
): Promise<string | undefined> {
  const base = `http://${host}:${httpPort}`;
  const ready = await fetch(`${base}/v1/.well-known/ready`, { signal: AbortSignal.timeout(2000) });
  await ready.body?.cancel();
  if (ready.status !== 200) return undefined;
  if (!(await portAccepts(grpcPort, host))) return undefined;
  const meta = (await (await fetch(`${base}/v1/meta`, { signal: AbortSignal.timeout(2000) })).json()) as {
    version?: unknown;
  };
  return typeof meta.version === 'string' ? meta.version : WEAVIATE_VERSION;
}
