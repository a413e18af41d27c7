import http from 'node:http';

import type { BackendMode } from './backend.js';

export interface ResolvedMode {
  readonly mode: BackendMode;
  /** Why this mode, for the line the harness prints. */
  readonly reason: string;
}

const MODES = ['local', 'testcontainers', 'auto'] as const;

let resolved: Promise<ResolvedMode> | undefined;

/**
 * LLMTWIN_TEST_BACKENDS picks how real backends are started: `local` (server processes from jars/binaries
 * built into the cache; works without Docker), `testcontainers` (Docker containers), or `auto`, the default:
 * testcontainers when a Docker engine answers, local otherwise. The choice is always printed.
 */
export function resolveBackendMode(): Promise<ResolvedMode> {
  resolved ??= resolve();
  return resolved;
}

async function resolve(): Promise<ResolvedMode> {
  const raw = (process.env.LLMTWIN_TEST_BACKENDS ?? 'auto').trim().toLowerCase() || 'auto';
  if (!(MODES as readonly string[]).includes(raw)) {
    throw new Error(`LLMTWIN_TEST_BACKENDS=${raw} is not one of ${MODES.join(', ')}`);
  }
  if (raw === 'local' || raw === 'testcontainers') {
    return { mode: raw, reason: 'LLMTWIN_TEST_BACKENDS' };
  }
  const endpoint = dockerEndpoint();
  if (await dockerAnswers(endpoint)) {
    return { mode: 'testcontainers', reason: `auto: a Docker engine answered at ${describe(endpoint)}` };
  }
  return { mode: 'local', reason: `auto: no Docker engine answered at ${describe(endpoint)}` };
}

type DockerEndpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

function dockerEndpoint(): DockerEndpoint {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost !== undefined && dockerHost !== '') {
    if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
    const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return { socketPath: '/var/run/docker.sock' };
}

function describe(endpoint: DockerEndpoint): string {
  return 'socketPath' in endpoint ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`;
}

/** GET /_ping, the engine's own liveness endpoint: a socket file alone may be stale. */
function dockerAnswers(endpoint: DockerEndpoint): Promise<boolean> {
  return new Promise((resolvePing) => {
    const request = http.get({ ...endpoint, path: '/_ping', timeout: 1500 }, (response) => {
      response.resume();
      resolvePing(response.statusCode === 200);
    });
    request.once('timeout', () => {
      request.destroy();
      resolvePing(false);
    });
    request.once('error', () => resolvePing(false));
  });
}
