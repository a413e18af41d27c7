// The e2e tests' handle on a real `llmtwin` process: `llmtwin up --json` started on a data folder, the JSON
// objects it prints, the admin key it writes, and a clean stop; and one-shot CLI commands run to their end.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const llmtwinBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/llmtwin.js');

export type JsonObject = Record<string, unknown>;

/** Resolves with the first JSON object the process printed (or prints) that matches. */
export type NextJson = (match: (o: JsonObject) => boolean, timeoutMs?: number) => Promise<JsonObject>;

/**
 * Collects the JSON objects a `--json` command prints. printJson writes indented JSON: a top-level object is a
 * block from a line that is just "{" to a line that is just "}"; log lines (one JSON object per line) share
 * stdout with it and are skipped.
 */
export function jsonOutput(child: ChildProcessWithoutNullStreams): NextJson {
  const seen: JsonObject[] = [];
  const waiting: { match: (o: JsonObject) => boolean; resolve: (o: JsonObject) => void }[] = [];
  let block = '';
  let buffer = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (block === '' && line !== '{') continue;
      block += line + '\n';
      if (line !== '}') continue;
      const o = JSON.parse(block) as JsonObject;
      block = '';
      seen.push(o);
      for (const w of waiting.filter((w) => w.match(o))) w.resolve(o);
    }
  });
  return (match, timeoutMs) =>
    new Promise<JsonObject>((resolve, reject) => {
      const found = seen.find(match);
      if (found) return resolve(found);
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => reject(new Error(`no such output; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
      waiting.push({ match, resolve: (o) => (clearTimeout(timer), resolve(o)) });
      child.on('exit', (code) => reject(new Error(`llmtwin exited with ${code}: ${stderr.slice(-2000)}`)));
    });
}

export interface TwinProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly dataDir: string;
  readonly next: NextJson;
}

export interface TwinOptions {
  /** Arguments after `up --port 0 --data-dir <dir> --json`, e.g. `--no-demo`. */
  readonly args?: readonly string[];
  /** Over the test's environment; an undefined value leaves the variable out. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts `llmtwin up --port 0 --data-dir <dataDir> --json` on an existing data folder. */
export function spawnTwin(dataDir: string, options: TwinOptions = {}): TwinProcess {
  const child = spawn(
    process.execPath,
    [llmtwinBin, 'up', '--port', '0', '--data-dir', dataDir, '--json', ...(options.args ?? [])],
    { env: { ...process.env, ...options.env }, stdio: 'pipe' },
  );
  return { child, dataDir, next: jsonOutput(child) };
}

/** Starts `llmtwin up` on a new temporary data folder named from `prefix`. */
export async function startTwin(prefix: string, options: TwinOptions = {}): Promise<TwinProcess> {
  return spawnTwin(await mkdtemp(path.join(tmpdir(), prefix)), options);
}

/** The address `llmtwin up` printed when it was up. */
export async function twinUrl(twin: TwinProcess, timeoutMs?: number): Promise<string> {
  return String((await twin.next((o) => o['status'] === 'up', timeoutMs))['url']);
}

/** The admin API key the first start wrote to <data dir>/admin.key. */
export async function readAdminKey(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, 'admin.key'), 'utf8')).trim();
}

/** Stops a process with SIGTERM, if it still runs, and resolves with its exit code. */
export async function stopProcess(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

/** Stops the twin and removes its data folder. */
export async function disposeTwin(twin: TwinProcess | undefined): Promise<void> {
  if (!twin) return;
  await stopProcess(twin.child);
  await rm(twin.dataDir, { recursive: true, force: true });
}

/** Runs a CLI command to its end, with no API key from the developer's environment and no colour. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [llmtwinBin, ...args], {
    env: { ...process.env, LLMTWIN_API_KEY: '', NO_COLOR: '1', ...env },
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}
