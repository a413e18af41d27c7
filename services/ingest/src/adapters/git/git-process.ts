// Runs git without a shell (arguments as an array) in its own process group, so that a timeout or an abort
// kills git and every helper it started (git-remote-https, index-pack, upload-pack), not just the parent.
import { DomainError } from '@llmtwin/runtime';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface GitRunOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  /** git is killed and the run fails when stdout grows past this. */
  maxStdoutBytes?: number;
}

const STDERR_KEEP = 8192;

export class GitCommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${command} failed (exit ${exitCode ?? 'killed'}): ${stderr.trim().slice(0, 500)}`);
    this.name = 'GitCommandError';
  }
}

function killGroup(child: ChildProcessWithoutNullStreams): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

export class GitProcess {
  private readonly running = new Set<ChildProcessWithoutNullStreams>();

  constructor(
    private readonly git: string,
    /** `-c name=value` pairs put before every command. */
    private readonly configArgs: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly cwd: string,
    /** Aborting it kills every running git and fails the run with the signal's reason. */
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => this.killAll(), { once: true });
  }

  /** Kills every git this runner started and has not seen exit. */
  killAll(): void {
    for (const child of this.running) killGroup(child);
  }

  /** Runs one git command and returns its stdout, byte for byte. */
  run(args: readonly string[], options: GitRunOptions = {}): Promise<Buffer> {
    const max = options.maxStdoutBytes ?? 16 * 1024 * 1024;
    return new Promise<Buffer>((resolve, reject) => {
      if (this.signal.aborted) {
        reject(this.signal.reason as Error);
        return;
      }
      const child = spawn(this.git, [...this.configArgs, ...args], {
        cwd: this.cwd,
        env: this.env,
        shell: false,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
      this.running.add(child);
      const out: Buffer[] = [];
      let outBytes = 0;
      let overflow = false;
      let stderr = '';
      let spawnError: Error | undefined;
      child.stdout.on('data', (chunk: Buffer) => {
        outBytes += chunk.length;
        if (outBytes > max) {
          overflow = true;
          killGroup(child);
          return;
        }
        out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < STDERR_KEEP) stderr += chunk.toString('utf8');
      });
      // git may exit before reading all of stdin (a failing command); that EPIPE is reported by `close`.
      child.stdin.on('error', () => undefined);
      child.on('error', (err) => {
        spawnError = err;
      });
      child.on('close', (code) => {
        this.running.delete(child);
        if (this.signal.aborted) {
          reject(this.signal.reason as Error);
        } else if (spawnError) {
          reject(
            new DomainError('internal', `could not run git: ${spawnError.message}`, { cause: spawnError }),
          );
        } else if (overflow) {
          reject(
            new DomainError('resource-exhausted', `git ${args[0] ?? ''} printed more than ${max} bytes`),
          );
        } else if (code !== 0) {
          reject(new GitCommandError(args[0] ?? '', code, stderr));
        } else {
          resolve(Buffer.concat(out, outBytes));
        }
      });
      child.stdin.end(options.input ?? '');
    });
  }
}
