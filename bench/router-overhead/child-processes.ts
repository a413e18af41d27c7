// The benchmark's other processes (the upstream, the router, Portkey): started with stdin as a lifeline,
// killed with the benchmark, their last output kept for error reports, and their CPU time read from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ */
export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(benchDir, '..');

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

export interface Child {
  name: string;
  proc: ChildProcess;
  /** The last lines it wrote to stderr (and stdout, when not parsed), for error reports. */
  log(): string;
}

export function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd = root,
): Child & { firstLine: Promise<string> } {
  // stdin stays open as a lifeline: our own children exit when it closes, so none outlives a killed bench.
  const proc = spawn(process.execPath, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(chunk.toString('utf8'));
    while (tail.length > 50) tail.shift();
  };
  proc.stderr!.on('data', keep);
  const firstLine = new Promise<string>((resolve, reject) => {
    let buffered = '';
    let found = false;
    proc.stdout!.on('data', (chunk: Buffer) => {
      if (found) return keep(chunk);
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        found = true;
        resolve(buffered.slice(0, nl));
      }
    });
    proc.once('exit', (code, signal) =>
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${tail.join('')}`)),
    );
  });
  firstLine.catch(() => undefined);
  return { name, proc, log: () => tail.join(''), firstLine };
}

export async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.proc.once('exit', () => resolve()));
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited:\n${child.log()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} did not answer ${url} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface UpstreamSettings {
  latencyMs: number;
  firstTokenMs: number;
  tokenMs: number;
  tokens: number;
}

export async function startUpstreamProcess(s: UpstreamSettings): Promise<Child & { url: string }> {
  const child = startChild('upstream', [
    '--import',
    'tsx',
    path.join(benchDir, 'upstream.ts'),
    '--latency-ms',
    String(s.latencyMs),
    '--first-token-ms',
    String(s.firstTokenMs),
    '--token-ms',
    String(s.tokenMs),
    '--tokens',
    String(s.tokens),
    '--exit-with-stdin',
  ]);
  const { url } = JSON.parse(await child.firstLine) as { url: string };
  return { ...child, url };
}

// CPU time: on a shared machine latency moves with whatever else runs; CPU milliseconds per request do much
// less, so each process's share is reported beside the latencies (Linux only: read from /proc).

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of a process so far (ms), or undefined where /proc cannot tell. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

export const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
