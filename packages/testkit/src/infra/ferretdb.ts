import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';

import { defaultInfraLog, seconds, type FerretDbHandle, type InfraLog } from './backend.js';
import { resolveBackendMode } from './backend-mode.js';
import { withBuildLock } from './build-lock.js';
import { runBuildCommand } from './build-command.js';
import { dataDirFor, ManagedProcess, removeOwnedDir } from './managed-process.js';
import { cacheDir, hashFiles, toolsDir } from './paths.js';
import { assertPortFree, freePort } from './ports.js';
import { waitUntil } from './readiness.js';
import {
  mongoServerVersion,
  mongoUrl,
  pinnedFerretDbVersion,
  type FerretDbStartOptions,
} from './ferretdb-shared.js';

export interface FerretDbArtifacts {
  readonly version: string;
  readonly binary: string;
}

/** Builds tools/ferretdb (pure Go, CGO off) into the cache, once per content of its go.mod/go.sum/main.go. */
export async function prepareFerretDb(
  log: InfraLog = defaultInfraLog,
): Promise<FerretDbArtifacts & { readonly built: boolean }> {
  const source = toolsDir('ferretdb');
  const version = pinnedFerretDbVersion();
  const key = hashFiles(['go.mod', 'go.sum', 'main.go'].map((file) => path.join(source, file)));
  const dir = path.join(cacheDir(), 'bin', `ferretdb-${version}-${key}`);
  const binary = path.join(dir, 'ferretdb-embedded');
  if (existsSync(binary)) return { version, binary, built: false };
  return withBuildLock(`ferretdb-${version}`, log, async () => {
    if (existsSync(binary)) return { version, binary, built: false };
    log(`ferretdb ${version}: building tools/ferretdb with Go (CGO_ENABLED=0)`);
    mkdirSync(dir, { recursive: true });
    const staging = `${binary}.partial-${process.pid}`;
    await runBuildCommand(
      {
        what: `ferretdb ${version}`,
        command: 'go',
        args: ['build', '-trimpath', '-buildvcs=false', '-o', staging, '.'],
        cwd: source,
        env: { ...process.env, CGO_ENABLED: '0' },
        logName: `ferretdb-${version}-build.log`,
        installHint: 'Install Go 1.24+ (https://go.dev/dl/), or use LLMTWIN_TEST_BACKENDS=testcontainers.',
      },
      log,
    );
    renameSync(staging, binary);
    return { version, binary, built: true };
  });
}

/**
 * Starts FerretDB v1 (MongoDB wire protocol over SQLite) on 127.0.0.1, or a container when
 * LLMTWIN_TEST_BACKENDS resolves to testcontainers.
 * `url` is `mongodb://127.0.0.1:PORT/?directConnection=true&retryWrites=false`: FerretDB v1 has no
 * replica set and no sessions, so drivers must neither discover nor retry writes.
 */
export async function startFerretDb(options: FerretDbStartOptions = {}): Promise<FerretDbHandle> {
  const { mode } = await resolveBackendMode();
  if (mode === 'testcontainers') {
    const { startFerretDbContainer } = await import('./testcontainers.js');
    return startFerretDbContainer(options);
  }
  return startLocalFerretDb(options);
}

export async function startLocalFerretDb(options: FerretDbStartOptions = {}): Promise<FerretDbHandle> {
  const log = options.log ?? defaultInfraLog;
  const artifacts = await prepareFerretDb(log);
  const port = options.port ?? (await freePort());
  const { dir, owned } = dataDirFor('ferretdb', options.dataDir);
  const handle = new LocalFerretDb(artifacts, port, dir, owned, options.startTimeoutMs ?? 30_000, log);
  try {
    await handle.restart();
  } catch (error) {
    await handle.dispose();
    throw error;
  }
  return handle;
}

class LocalFerretDb implements FerretDbHandle {
  readonly name = 'ferretdb';
  readonly mode = 'local';
  readonly url: string;
  version: string;
  private proc: ManagedProcess | undefined;
  private starts = 0;

  constructor(
    private readonly artifacts: FerretDbArtifacts,
    readonly port: number,
    readonly dataDir: string,
    private readonly owned: boolean,
    private readonly startTimeoutMs: number,
    private readonly log: InfraLog,
  ) {
    this.url = mongoUrl('127.0.0.1', port);
    this.version = artifacts.version;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async restart(): Promise<void> {
    if (this.running) return;
    const started = Date.now();
    const verb = this.starts++ === 0 ? 'ready' : 'restarted and ready';
    await assertPortFree(this.port, 'ferretdb');
    this.proc = await ManagedProcess.start(
      {
        name: 'ferretdb',
        command: this.artifacts.binary,
        args: [
          '-listen-addr',
          `127.0.0.1:${this.port}`,
          '-state-dir',
          path.join(this.dataDir, 'sqlite'),
          '-log-level',
          'warn',
        ],
        logFile: path.join(this.dataDir, 'ferretdb.log'),
        ...(this.owned ? { ownedDir: this.dataDir } : {}),
      },
      this.log,
    );
    await waitUntil(() => this.answers(), {
      what: `ferretdb on 127.0.0.1:${this.port}`,
      timeoutMs: this.startTimeoutMs,
      process: this.proc,
    });
    this.log(
      `ferretdb ${this.version} (local build, SQLite backend) at 127.0.0.1:${this.port}, ${verb} in ${seconds(Date.now() - started)} (data ${this.dataDir})`,
    );
  }

  private async answers(): Promise<boolean> {
    this.version = await mongoServerVersion(this.url);
    return true;
  }

  async stop(): Promise<void> {
    await this.proc?.stop(15_000);
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (this.owned) removeOwnedDir(this.dataDir);
  }
}
