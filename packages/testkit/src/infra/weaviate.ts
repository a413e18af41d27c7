import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

import { defaultInfraLog, seconds, type InfraLog, type WeaviateHandle } from './backend.js';
import { resolveBackendMode } from './backend-mode.js';
import { withBuildLock } from './build-lock.js';
import { runBuildCommand } from './build-command.js';
import { dataDirFor, ManagedProcess, removeOwnedDir } from './managed-process.js';
import { cacheDir } from './paths.js';
import { assertPortFree, freePort, freePortPair } from './ports.js';
import { waitUntil } from './readiness.js';
import {
  WEAVIATE_VERSION,
  weaviateReadyVersion,
  weaviateUrl,
  type WeaviateStartOptions,
} from './weaviate-shared.js';

const WEAVIATE_PACKAGE = 'github.com/weaviate/weaviate/cmd/weaviate-server';

export interface WeaviateArtifacts {
  readonly version: string;
  readonly binary: string;
}

/**
 * Builds weaviate-server from its Go module into the cache (`go install`, pure Go). It is a heavy build
 * (5–15 minutes cold on two cores), done once per machine and pinned version; `npm run infra:prepare`
 * does it ahead of the tests.
 */
export async function prepareWeaviate(
  log: InfraLog = defaultInfraLog,
): Promise<WeaviateArtifacts & { readonly built: boolean }> {
  const version = WEAVIATE_VERSION;
  const dir = path.join(cacheDir(), 'bin', `weaviate-v${version}`);
  const binary = path.join(dir, 'weaviate-server');
  if (isExecutable(binary)) return { version, binary, built: false };
  return withBuildLock(`weaviate-v${version}`, log, async () => {
    if (isExecutable(binary)) return { version, binary, built: false };
    log(
      `weaviate ${version}: building ${WEAVIATE_PACKAGE}@v${version} with Go; this takes 5-15 minutes once per machine`,
    );
    const staging = `${dir}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    await runBuildCommand(
      {
        what: `weaviate ${version}`,
        command: 'go',
        args: ['install', '-trimpath', '-tags', 'netgo', `${WEAVIATE_PACKAGE}@v${version}`],
        // Outside any Go module, so that nothing around the cache can change how the module builds.
        cwd: path.dirname(staging),
        env: { ...process.env, CGO_ENABLED: '0', GOBIN: staging },
        logName: `weaviate-v${version}-build.log`,
        installHint: `Weaviate ${version} needs Go 1.26+ (https://go.dev/dl/), or use LLMTWIN_TEST_BACKENDS=testcontainers.`,
      },
      log,
    );
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return { version, binary, built: true };
  });
}

function isExecutable(file: string): boolean {
  if (!existsSync(file)) return false;
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a single-node Weaviate without vectorizer modules (the project sends its own vectors) on
 * 127.0.0.1, or a container when LLMTWIN_TEST_BACKENDS resolves to testcontainers.
 */
export async function startWeaviate(options: WeaviateStartOptions = {}): Promise<WeaviateHandle> {
  const { mode } = await resolveBackendMode();
  if (mode === 'testcontainers') {
    const { startWeaviateContainer } = await import('./testcontainers.js');
    return startWeaviateContainer(options);
  }
  return startLocalWeaviate(options);
}

interface WeaviatePorts {
  readonly http: number;
  readonly grpc: number;
  readonly gossip: number;
  readonly data: number;
  readonly raft: number;
  readonly raftRpc: number;
}

export async function startLocalWeaviate(options: WeaviateStartOptions = {}): Promise<WeaviateHandle> {
  const log = options.log ?? defaultInfraLog;
  const artifacts = await prepareWeaviate(log);
  // The cluster ports have fixed defaults (7946, 7947, 8300, 8301); two instances on one machine (a
  // private one in a test, another developer's run) would collide, so every port is chosen here. With
  // CLUSTER_IN_LOCALHOST Weaviate finds a node's data port at gossip+1 and its Raft RPC port at raft+1
  // (usecases/cluster/state.go, cluster/resolver/rpc.go), whatever the variables say: pairs must be adjacent.
  const [gossip, data] = await freePortPair();
  const [raft, raftRpc] = await freePortPair();
  const ports: WeaviatePorts = {
    http: options.httpPort ?? (await freePort()),
    grpc: options.grpcPort ?? (await freePort()),
    gossip,
    data,
    raft,
    raftRpc,
  };
  const { dir, owned } = dataDirFor('weaviate', options.dataDir);
  const handle = new LocalWeaviate(artifacts, ports, dir, owned, options.startTimeoutMs ?? 90_000, log);
  try {
    await handle.restart();
  } catch (error) {
    await handle.dispose();
    throw error;
  }
  return handle;
}

class LocalWeaviate implements WeaviateHandle {
  readonly name = 'weaviate';
  readonly mode = 'local';
  readonly url: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  version: string;
  private proc: ManagedProcess | undefined;
  private starts = 0;

  constructor(
    private readonly artifacts: WeaviateArtifacts,
    private readonly ports: WeaviatePorts,
    readonly dataDir: string,
    private readonly owned: boolean,
    private readonly startTimeoutMs: number,
    private readonly log: InfraLog,
  ) {
    this.httpPort = ports.http;
    this.grpcPort = ports.grpc;
    this.url = weaviateUrl('127.0.0.1', ports.http, ports.grpc);
    this.version = artifacts.version;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async restart(): Promise<void> {
    if (this.running) return;
    const started = Date.now();
    const verb = this.starts++ === 0 ? 'ready' : 'restarted and ready';
    for (const [what, port] of Object.entries(this.ports)) await assertPortFree(port, `weaviate ${what}`);
    this.proc = await ManagedProcess.start(
      {
        name: 'weaviate',
        command: this.artifacts.binary,
        args: ['--host', '127.0.0.1', '--port', String(this.ports.http), '--scheme', 'http'],
        env: { ...process.env, ...weaviateEnvironment(this.dataDir, this.ports) },
        logFile: path.join(this.dataDir, 'weaviate.log'),
        ...(this.owned ? { ownedDir: this.dataDir } : {}),
      },
      this.log,
    );
    await waitUntil(() => this.answers(), {
      what: `weaviate on 127.0.0.1:${this.ports.http}`,
      timeoutMs: this.startTimeoutMs,
      process: this.proc,
    });
    this.log(
      `weaviate ${this.version} (local build) at 127.0.0.1:${this.ports.http} (gRPC ${this.ports.grpc}), ${verb} in ${seconds(Date.now() - started)} (data ${this.dataDir})`,
    );
  }

  private async answers(): Promise<boolean> {
    const version = await weaviateReadyVersion('127.0.0.1', this.ports.http, this.ports.grpc);
    if (version === undefined) return false;
    this.version = version;
    return true;
  }

  async stop(): Promise<void> {
    await this.proc?.stop(30_000);
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (this.owned) removeOwnedDir(this.dataDir);
  }
}

function weaviateEnvironment(dataDir: string, ports: WeaviatePorts): Record<string, string> {
  return {
    PERSISTENCE_DATA_PATH: path.join(dataDir, 'data'),
    DEFAULT_VECTORIZER_MODULE: 'none',
    ENABLE_MODULES: '',
    AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: 'true',
    DISABLE_TELEMETRY: 'true',
    GO_PROFILING_DISABLE: 'true',
    LOG_LEVEL: 'warning',
    CLUSTER_HOSTNAME: 'node1',
    CLUSTER_IN_LOCALHOST: 'true',
    CLUSTER_BIND_ADDR: '127.0.0.1',
    CLUSTER_ADVERTISE_ADDR: '127.0.0.1',
    CLUSTER_GOSSIP_BIND_PORT: String(ports.gossip),
    CLUSTER_DATA_BIND_PORT: String(ports.data),
    RAFT_PORT: String(ports.raft),
    RAFT_INTERNAL_RPC_PORT: String(ports.raftRpc),
    RAFT_BOOTSTRAP_EXPECT: '1',
    // The default multiplier (5) makes a lone node wait ~8 s for a leader election it is bound to win.
    RAFT_TIMEOUTS_MULTIPLIER: '1',
    GRPC_PORT: String(ports.grpc),
  };
}
