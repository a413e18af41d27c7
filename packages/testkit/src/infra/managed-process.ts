import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { cacheDir } from './paths.js';
import { identityOf, isAlive, type ProcessIdentity } from './process-identity.js';

export interface SpawnSpec {
  /** Short name for logs and pid files: `kafka`, `ferretdb`, `weaviate`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** stdout and stderr are appended here (the child writes to it directly, no pipe through Node). */
  readonly logFile: string;
  /** A folder the harness created for this server; removed along with a leftover process. */
  readonly ownedDir?: string;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface PidRecord {
  readonly name: string;
  readonly child: ProcessIdentity;
  readonly owner: ProcessIdentity;
  readonly command: string;
  readonly ownedDir?: string;
}

const live = new Set<ManagedProcess>();
const ownedDirs = new Set<string>();
let hooksInstalled = false;
let reaped = false;

/** A server process started by the harness: logged to a file, recorded in a pid file, torn down on exit. */
export class ManagedProcess {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;

  private constructor(
    readonly spec: SpawnSpec,
    private readonly child: ChildProcess,
    readonly pid: number,
    private readonly pidFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        unlinkQuietly(pidFile);
        resolve(this.exitInfo);
      });
    });
  }

  static async start(spec: SpawnSpec, log: (line: string) => void): Promise<ManagedProcess> {
    installExitHooks();
    if (!reaped) {
      reaped = true;
      reapLeftovers(log);
    }
    mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    const [command, args] = diesWithParent(spec.command, spec.args);
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) =>
        reject(new Error(`cannot start ${spec.name} (${spec.command}): ${error.message}`, { cause: error })),
      );
    });
    // A forgotten server must not keep a test runner alive; the exit hook below still kills it.
    child.unref();
    const pid = child.pid as number;
    const record: PidRecord = {
      name: spec.name,
      child: identityOf(pid),
      owner: identityOf(process.pid),
      command: spec.command,
      ...(spec.ownedDir === undefined ? {} : { ownedDir: spec.ownedDir }),
    };
    const pidFile = path.join(runDir(), `${spec.name}-${pid}.json`);
    writeFileSync(pidFile, JSON.stringify(record));
    const managed = new ManagedProcess(spec, child, pid, pidFile);
    live.add(managed);
    return managed;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** SIGTERM, so the server shuts down cleanly; SIGKILL if it has not exited after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    this.child.ref();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.kill();
    this.child.unref();
  }

  /** SIGKILL: what a crash looks like to clients. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    // Waiting on a promise alone would let a script with nothing else to do exit before the child is reaped.
    this.child.ref();
    await this.exited;
    this.child.unref();
  }

  /** The end of the server's log, for error messages. */
  logTail(lines = 30): string {
    try {
      const text = readFileSync(this.spec.logFile, 'utf8');
      return text
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * The data folder for one server: the caller's (kept), or a new temporary one that is removed on dispose()
 * or when this process exits.
 */
export function dataDirFor(name: string, given: string | undefined): { dir: string; owned: boolean } {
  if (given !== undefined) {
    mkdirSync(given, { recursive: true });
    return { dir: path.resolve(given), owned: false };
  }
  installExitHooks();
  const dir = mkdtempSync(path.join(os.tmpdir(), `llmtwin-${name}-`));
  ownedDirs.add(dir);
  return { dir, owned: true };
}

export function removeOwnedDir(dir: string): void {
  ownedDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

const SETPRIV = '/usr/bin/setpriv';

/**
 * On Linux the server is started through util-linux's `setpriv --pdeathsig KILL`, so the kernel kills it
 * when the process that started it dies, however that happens. Exit hooks cannot promise that: SIGKILL and
 * OOM skip them, and inside a jest test `process` is a sandbox copy whose 'exit' event never fires.
 * Elsewhere the hooks and the pid-file reaper are all there is.
 */
function diesWithParent(command: string, args: readonly string[]): [string, string[]] {
  if (process.platform === 'linux' && existsSync(SETPRIV))
    return [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]];
  return [command, [...args]];
}

function runDir(): string {
  const dir = path.join(cacheDir(), 'run');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function killAllNow(): void {
  for (const managed of live) {
    try {
      process.kill(managed.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    unlinkQuietly(path.join(runDir(), `${managed.spec.name}-${managed.pid}.json`));
  }
  live.clear();
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A server killed a moment ago may still hold files; the next run's reaper tries again.
    }
  }
  ownedDirs.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only teardown that fits. Graceful stops are the
  // job of stop()/global teardown; this is the safety net for an aborted run (see diesWithParent too).
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // Someone else handles this signal (a CLI that stops its servers gracefully): leave it to them; the
      // 'exit' hook still runs if they exit with servers left.
      if (process.listenerCount(signal) > 1) return;
      killAllNow();
      process.removeListener(signal, onSignal);
      // Listening for a signal disables Node's default of exiting on it: restore it.
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Kills servers left by a run that died without tearing down (SIGKILL, OOM, a closed terminal) and removes
 * their data folders. Runs that are still alive, ours or another user's, are left alone.
 */
function reapLeftovers(log: (line: string) => void): void {
  const dir = runDir();
  for (const entry of readdirSync(dir)) {
    if (!entry.endsWith('.json')) continue;
    const file = path.join(dir, entry);
    let record: PidRecord;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
    } catch {
      // Unreadable: a record being written right now, or garbage. Old garbage goes.
      if (Date.now() - statSync(file).mtimeMs > 60_000) unlinkQuietly(file);
      continue;
    }
    if (isAlive(record.owner)) continue;
    if (isAlive(record.child)) {
      try {
        process.kill(record.child.pid, 'SIGKILL');
        log(
          `killed a leftover ${record.name} (pid ${record.child.pid}) from a run that ended without teardown`,
        );
      } catch {
        // Exited in between.
      }
    }
    try {
      if (record.ownedDir !== undefined) rmSync(record.ownedDir, { recursive: true, force: true });
      unlinkQuietly(file);
    } catch {
      // The killed server may still be writing; the pid file stays so that a later run tries again.
    }
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}
