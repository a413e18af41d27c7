// Router overhead: what our inference path adds on top of the model server, next to what a known AI gateway
// (Portkey's open-source gateway) adds in front of the same server, measured in the same run.
//
//   npm run bench -- router-overhead [data folder, unused] [--out file.json] [--rates 100,500,1000]
//        [--duration 10] [--warmup 2] [--latency-ms 20] [--targets direct,router,portkey]
//        [--stream-rate 50] [--stream-duration 10] [--first-token-ms 50] [--token-ms 5] [--tokens 8]
//        [--connections 256] [--timeout-ms 10000] [--router-path gateway|pool] [--profile-dir <dir>]
//
// Three targets answer the same small POST /v1/chat/completions from one upstream (bench/upstream.ts):
//   direct   client → upstream
//   router   client → our router → upstream (ROUTER PATHS below says which path)
//   portkey  client → @portkey-ai/gateway (x-portkey-provider: openai, x-portkey-custom-host) → upstream
// Non-streaming phase: the upstream's fixed profile answers `--latency-ms` after the request, streamed or
// not (our router always streams from its backends, Portkey and direct ask for plain JSON). Each target gets
// the same open-loop constant-rate load (bench/load.ts) at every rate, after a warm-up at that rate; added
// latency is target − direct at the same percentile. Streaming phase: the upstream's streaming profile
// (first token after `--first-token-ms`, then one every `--token-ms`) at a modest rate; time to first token
// is measured at the client. The upstream, the router and Portkey each run in their own process, away from
// the load generator; on a small machine they still share the cores, so each process's CPU milliseconds per
// request are reported too, a number that moves far less with the machine's other load than latency does.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ingestv1 } from '@llmtwin/contracts';
import { createGatewayModule } from '@llmtwin/gateway';
import {
  InProcessDirectory,
  createModuleHealth,
  hostModule,
  openAdapters,
  serviceNames,
} from '@llmtwin/host';
import { createInferenceRouterModule } from '@llmtwin/inference-router';
import { buildServer } from '@llmtwin/runtime';
import { pino, type Logger } from 'pino';
import { openaiRoutes } from '../gateway/src/http/openai.routes.js';
import type { ChatMessage } from '../services/inference-router/src/domain/llm.port.js';
import { ModelRouter } from '../services/inference-router/src/adapters/llm/model-router.js';
import { OpenAiBackend } from '../services/inference-router/src/adapters/llm/openai-backend.js';
import { chatClient, runOpenLoop, type ChatTarget, type LoadReport } from './load.js';
import { completionWords, type Profile } from './upstream.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

// ---------------------------------------------------------------------------------------------------------
// Child processes

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

interface Child {
  name: string;
  proc: ChildProcess;
  /** The last lines it wrote to stderr (and stdout, when not parsed), for error reports. */
  log(): string;
}

function startChild(
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

async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.proc.once('exit', () => resolve()));
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
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

interface UpstreamSettings {
  latencyMs: number;
  firstTokenMs: number;
  tokenMs: number;
  tokens: number;
}

async function startUpstreamProcess(s: UpstreamSettings): Promise<Child & { url: string }> {
  const child = startChild('upstream', [
    '--import',
    'tsx',
    path.join(here, 'upstream.ts'),
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

// ---------------------------------------------------------------------------------------------------------
// Portkey

const require = createRequire(import.meta.url);

function packageVersion(packageJson: string): string {
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

/** The installed package's folder, found from its entry file (its exports may hide package.json). */
function packageDir(name: string, from: string): string {
  let dir = path.dirname(createRequire(from).resolve(name));
  while (!dir.endsWith(path.join('node_modules', name))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of ${name}`);
    dir = up;
  }
  return dir;
}

const versionAbove = (version: string, than: [number, number, number]) => {
  const v = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((v[i] ?? 0) !== than[i]) return (v[i] ?? 0) > than[i]!;
  return false;
};

/**
 * @hono/node-server above 1.14.2 keeps a fetch() response's immutable headers on the Response Portkey
 * builds from it, and Portkey then fails every streamed answer with `TypeError: immutable` while adding its
 * x-portkey-* headers (https://github.com/Portkey-AI/gateway/issues/1389). Until the install pins 1.14.2,
 * Portkey's process gets a fetch that returns responses with ordinary, mutable headers.
 */
const MUTABLE_FETCH_SHIM =
  'data:text/javascript,' +
  encodeURIComponent(
    'const f=globalThis.fetch,R=globalThis.Response;' +
      'globalThis.fetch=async(...a)=>{const r=await f(...a);return new R(r.body,r)};',
  );

interface PortkeyInfo {
  version: string;
  honoNodeServer: string;
  fetchShim: boolean;
}

async function startPortkey(nodeArgs: string[]): Promise<Child & { url: string; info: PortkeyInfo }> {
  const dir = path.dirname(require.resolve('@portkey-ai/gateway/package.json'));
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    version: string;
    bin: string;
  };
  const bin = path.join(dir, pkg.bin);
  const honoNodeServer = packageVersion(path.join(packageDir('@hono/node-server', bin), 'package.json'));
  const fetchShim = versionAbove(honoNodeServer, [1, 14, 2]);
  const port = await freePort();
  // --headless and production: no log viewer, no console UI; the gateway alone.
  const child = startChild(
    'portkey',
    [
      ...nodeArgs,
      ...(fetchShim ? ['--import', MUTABLE_FETCH_SHIM] : []),
      bin,
      `--port=${port}`,
      '--headless',
    ],
    { ...process.env, NODE_ENV: 'production' },
    dir,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/`, child);
  return { ...child, url, info: { version: pkg.version, honoNodeServer, fetchShim } };
}

// ---------------------------------------------------------------------------------------------------------
// The router

/** What the router child prints when it listens. */
interface RouterReady {
  origin: string;
  path: string;
  headers: Record<string, string>;
  extraBody?: Record<string, unknown>;
  /** The model names that select the upstream's fixed-latency and streaming profiles. */
  models: { fixed: string; stream: string };
  /** Which path through our code the requests take, in words. */
  description: string;
}

async function startRouter(
  mode: string,
  upstreamUrl: string,
  nodeArgs: string[],
): Promise<Child & { ready: RouterReady }> {
  const child = startChild('router', [
    ...nodeArgs,
    '--import',
    'tsx',
    path.join(here, 'router-overhead.ts'),
    '--serve-router',
    mode,
    '--upstream',
    upstreamUrl,
  ]);
  const ready = JSON.parse(await child.firstLine) as RouterReady;
  return { ...child, ready };
}

// ---------------------------------------------------------------------------------------------------------
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
function processCpuMs(pid: number | undefined): number | undefined {
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

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// ---------------------------------------------------------------------------------------------------------
// Report

interface TargetResult {
  offered_rps: number;
  achieved_rps: number;
  sent: number;
  ok: number;
  errors: number;
  error_kinds: Record<string, number>;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** How late the load generator sent requests: big values mean the client, not the target, saturated. */
  send_lag_p99: number;
  send_lag_max: number;
  /** CPU milliseconds per request of the proxy's process (router or Portkey; null for direct). */
  proxy_cpu_ms_per_req: number | null;
  upstream_cpu_ms_per_req: number | null;
  /** The load generator's own CPU per request (this process). */
  client_cpu_ms_per_req: number | null;
}

interface CpuShare {
  proxy: number | null;
  upstream: number | null;
  client: number | null;
}

interface StreamResult extends TargetResult {
  ttft_p50: number;
  ttft_p90: number;
  ttft_p99: number;
  ttft_max: number;
}

const toResult = (r: LoadReport, cpu: CpuShare): TargetResult => ({
  offered_rps: r.rate,
  achieved_rps: r.achievedRps,
  sent: r.sent,
  ok: r.ok,
  errors: r.errors,
  error_kinds: r.errorKinds,
  p50: r.latencyMs.p50,
  p90: r.latencyMs.p90,
  p99: r.latencyMs.p99,
  max: r.latencyMs.max,
  mean: r.latencyMs.mean,
  send_lag_p99: r.sendLagMs.p99,
  send_lag_max: r.sendLagMs.max,
  proxy_cpu_ms_per_req: cpu.proxy,
  upstream_cpu_ms_per_req: cpu.upstream,
  client_cpu_ms_per_req: cpu.client,
});

const toStreamResult = (r: LoadReport, cpu: CpuShare): StreamResult => ({
  ...toResult(r, cpu),
  ttft_p50: r.ttftMs?.p50 ?? NaN,
  ttft_p90: r.ttftMs?.p90 ?? NaN,
  ttft_p99: r.ttftMs?.p99 ?? NaN,
  ttft_max: r.ttftMs?.max ?? NaN,
});

const round2 = (n: number) => Math.round(n * 100) / 100;
const round3 = (n: number) => Math.round(n * 1000) / 1000;
const diff = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? null : round2(a - b);

const fmt = (n: number | null | undefined, width: number, digits = 1) =>
  (n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits)).padStart(width);

// ---------------------------------------------------------------------------------------------------------
// Main

type TargetName = 'direct' | 'router' | 'portkey';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      rates: { type: 'string', default: '100,500,1000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      'latency-ms': { type: 'string', default: '20' },
      targets: { type: 'string', default: 'direct,router,portkey' },
      'stream-rate': { type: 'string', default: '50' },
      'stream-duration': { type: 'string', default: '10' },
      'first-token-ms': { type: 'string', default: '50' },
      'token-ms': { type: 'string', default: '5' },
      tokens: { type: 'string', default: '8' },
      connections: { type: 'string', default: '256' },
      'timeout-ms': { type: 'string', default: '10000' },
      'router-path': { type: 'string', default: 'gateway' },
      'profile-dir': { type: 'string' },
    },
    allowPositionals: true,
  });
  const rates = values.rates.split(',').map(Number);
  const durationS = Number(values.duration);
  const warmupS = Number(values.warmup);
  const streamRate = Number(values['stream-rate']);
  const streamDurationS = Number(values['stream-duration']);
  const connections = Number(values.connections);
  const timeoutMs = Number(values['timeout-ms']);
  const targets = values.targets.split(',') as TargetName[];
  for (const t of targets) {
    if (!['direct', 'router', 'portkey'].includes(t)) throw new Error(`unknown target ${t}`);
  }
  if (!['gateway', 'pool'].includes(values['router-path'])) {
    throw new Error(`unknown --router-path ${values['router-path']}: gateway or pool`);
  }
  if (rates.some((r) => !(r > 0)) || !(durationS > 0) || !(warmupS >= 0)) {
    throw new Error('--rates, --duration and --warmup must be positive numbers');
  }
  const upstreamSettings: UpstreamSettings = {
    latencyMs: Number(values['latency-ms']),
    firstTokenMs: Number(values['first-token-ms']),
    tokenMs: Number(values['token-ms']),
    tokens: Number(values.tokens),
  };
  const expect = completionWords(upstreamSettings.tokens).join('');
  // --profile-dir: the router's and Portkey's processes write V8 CPU profiles there when they exit.
  const profileArgs = values['profile-dir']
    ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values['profile-dir'])}`]
    : [];

  const loadAverageStart = os.loadavg()[0]!;
  const startedAt = new Date().toISOString();
  const children: Child[] = [];
  const cleanup = async () => {
    await Promise.all(children.map((c) => stopChild(c)));
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const upstream = await startUpstreamProcess(upstreamSettings);
    children.push(upstream);
    // Each target, for one of the upstream's profiles (fixed latency, or streamed token by token).
    const targetFor = new Map<TargetName, (profile: Profile) => ChatTarget>();
    targetFor.set('direct', (profile) => ({
      origin: upstream.url,
      path: `/${profile}/v1/chat/completions`,
      headers: {},
    }));
    let routerDescription: string | undefined;
    let portkeyInfo: PortkeyInfo | undefined;
    if (targets.includes('router')) {
      const router = await startRouter(values['router-path'], upstream.url, profileArgs);
      children.push(router);
      const { ready } = router;
      routerDescription = ready.description;
      targetFor.set('router', (profile) => ({
        origin: ready.origin,
        path: ready.path,
        headers: ready.headers,
        extraBody: { ...ready.extraBody, model: ready.models[profile] },
      }));
    }
    if (targets.includes('portkey')) {
      const portkey = await startPortkey(profileArgs);
      children.push(portkey);
      portkeyInfo = portkey.info;
      targetFor.set('portkey', (profile) => ({
        origin: portkey.url,
        path: '/v1/chat/completions',
        headers: {
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${upstream.url}/${profile}/v1`,
          authorization: 'Bearer sk-bench-unused',
        },
      }));
    }
    const clients = new Map(
      targets.map((t) => {
        const target = targetFor.get(t)!;
        return [
          t,
          {
            fixed: chatClient(target('fixed'), connections, expect),
            stream: chatClient(target('stream'), connections, expect),
          },
        ] as const;
      }),
    );

    const proxyPid = new Map<TargetName, number | undefined>([
      ['router', children.find((c) => c.name === 'router')?.proc.pid],
      ['portkey', children.find((c) => c.name === 'portkey')?.proc.pid],
    ]);
    /** One measured run, with each process's CPU time over it. */
    const measure = async (
      name: TargetName,
      options: Parameters<typeof runOpenLoop>[0],
    ): Promise<{ report: LoadReport; cpu: CpuShare }> => {
      const pids = { proxy: proxyPid.get(name), upstream: upstream.proc.pid };
      const before = {
        proxy: processCpuMs(pids.proxy),
        upstream: processCpuMs(pids.upstream),
        client: selfCpuMs(),
      };
      const report = await runOpenLoop(options);
      const per = (a: number | undefined, b: number | undefined) =>
        a === undefined || b === undefined || report.sent === 0 ? null : round3((b - a) / report.sent);
      return {
        report,
        cpu: {
          proxy: per(before.proxy, processCpuMs(pids.proxy)),
          upstream: per(before.upstream, processCpuMs(pids.upstream)),
          client: per(before.client, selfCpuMs()),
        },
      };
    };

    // Every target must really answer with the upstream's completion before anything is timed.
    for (const [name, client] of clients) {
      for (const [kind, call] of [
        ['non-streaming', client.fixed.nonStreaming],
        ['streaming', client.stream.streaming],
      ] as const) {
        try {
          await call(AbortSignal.timeout(10_000));
        } catch (err) {
          const child = children.find((c) => c.name === name);
          throw new Error(
            `${name} does not answer a ${kind} chat completion correctly: ${String(err)}${child ? `\n${child.log()}` : ''}`,
            { cause: err },
          );
        }
      }
    }

    const nonStreaming: Record<string, Record<string, unknown>> = {};
    for (const rate of rates) {
      const byTarget: Partial<Record<TargetName, TargetResult>> = {};
      for (const name of targets) {
        const client = clients.get(name)!.fixed;
        process.stderr.write(`non-streaming ${rate}/s ${name}: warm-up ${warmupS}s, measure ${durationS}s\n`);
        if (warmupS > 0) {
          await runOpenLoop({ rate, durationS: warmupS, request: client.nonStreaming, timeoutMs });
        }
        const { report, cpu } = await measure(name, {
          rate,
          durationS,
          request: client.nonStreaming,
          timeoutMs,
        });
        byTarget[name] = toResult(report, cpu);
      }
      const added: Record<string, { p50: number | null; p99: number | null }> = {};
      for (const name of targets) {
        if (name === 'direct') continue;
        added[`${name}_minus_direct`] = {
          p50: diff(byTarget[name]?.p50, byTarget.direct?.p50),
          p99: diff(byTarget[name]?.p99, byTarget.direct?.p99),
        };
      }
      nonStreaming[String(rate)] = { ...byTarget, added_ms: added };
    }

    const streamByTarget: Partial<Record<TargetName, StreamResult>> = {};
    if (streamRate > 0 && streamDurationS > 0) {
      for (const name of targets) {
        const client = clients.get(name)!.stream;
        process.stderr.write(
          `streaming ${streamRate}/s ${name}: warm-up ${warmupS}s, measure ${streamDurationS}s\n`,
        );
        if (warmupS > 0) {
          await runOpenLoop({ rate: streamRate, durationS: warmupS, request: client.streaming, timeoutMs });
        }
        const { report, cpu } = await measure(name, {
          rate: streamRate,
          durationS: streamDurationS,
          request: client.streaming,
          timeoutMs,
        });
        streamByTarget[name] = toStreamResult(report, cpu);
      }
    }
    const streamAdded: Record<string, { ttft_p50: number | null; ttft_p99: number | null }> = {};
    for (const name of targets) {
      if (name === 'direct' || !streamByTarget[name]) continue;
      streamAdded[`${name}_minus_direct`] = {
        ttft_p50: diff(streamByTarget[name]?.ttft_p50, streamByTarget.direct?.ttft_p50),
        ttft_p99: diff(streamByTarget[name]?.ttft_p99, streamByTarget.direct?.ttft_p99),
      };
    }
    await Promise.all([...clients.values()].flatMap((c) => [c.fixed.close(), c.stream.close()]));

    const cpus = os.cpus();
    const report = {
      benchmark: 'router-overhead',
      machine: {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        memoryGiB: round2(os.totalmem() / 2 ** 30),
        platform: `${os.platform()} ${os.release()}`,
        node: process.version,
        // Other work on the machine moves the latencies: the 1-minute load average before and after the run.
        loadAverage1m: { start: round2(loadAverageStart), end: round2(os.loadavg()[0]!) },
      },
      startedAt,
      config: {
        rates,
        durationS,
        warmupS,
        connections,
        timeoutMs,
        upstream: upstreamSettings,
        streamRate,
        streamDurationS,
        targets,
      },
      targets: {
        direct: 'client → upstream',
        ...(routerDescription ? { router: `${values['router-path']}: ${routerDescription}` } : {}),
        ...(portkeyInfo
          ? {
              portkey: `client → @portkey-ai/gateway ${portkeyInfo.version} (x-portkey-provider: openai, x-portkey-custom-host) → upstream`,
            }
          : {}),
      },
      ...(portkeyInfo ? { portkey: portkeyInfo } : {}),
      nonStreaming,
      streaming: {
        rate: streamRate,
        durationS: streamDurationS,
        ...streamByTarget,
        added_ms: streamAdded,
      },
    };

    printTables(report.nonStreaming, streamByTarget, streamAdded, upstreamSettings, targets);
    if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
    else console.log(JSON.stringify(report, null, 2));
  } finally {
    await cleanup();
  }
}

function printTables(
  nonStreaming: Record<string, Record<string, unknown>>,
  stream: Partial<Record<TargetName, StreamResult>>,
  streamAdded: Record<string, { ttft_p50: number | null; ttft_p99: number | null }>,
  upstream: UpstreamSettings,
  targets: TargetName[],
): void {
  const lines: string[] = [];
  lines.push(
    `non-streaming, upstream fixed latency ${upstream.latencyMs} ms; latency in ms from the due time; ` +
      '+p50/+p99: minus direct; cpu/req: the proxy process, ms',
  );
  lines.push(
    `${'rate'.padStart(5)} ${'target'.padEnd(8)}${'achieved'.padStart(9)}${'p50'.padStart(8)}${'p90'.padStart(8)}` +
      `${'p99'.padStart(8)}${'max'.padStart(9)}${'errors'.padStart(8)}${'+p50'.padStart(8)}${'+p99'.padStart(8)}` +
      `${'cpu/req'.padStart(9)}`,
  );
  for (const [rate, row] of Object.entries(nonStreaming)) {
    const added = row['added_ms'] as Record<string, { p50: number | null; p99: number | null }>;
    for (const name of targets) {
      const r = row[name] as TargetResult | undefined;
      if (!r) continue;
      const a = added[`${name}_minus_direct`];
      lines.push(
        `${rate.padStart(5)} ${name.padEnd(8)}${fmt(r.achieved_rps, 9)}${fmt(r.p50, 8)}${fmt(r.p90, 8)}` +
          `${fmt(r.p99, 8)}${fmt(r.max, 9)}${String(r.errors).padStart(8)}${fmt(a?.p50, 8)}${fmt(a?.p99, 8)}` +
          `${fmt(r.proxy_cpu_ms_per_req, 9, 2)}`,
      );
    }
  }
  if (Object.keys(stream).length > 0) {
    lines.push('');
    lines.push(
      `streaming, upstream first token ${upstream.firstTokenMs} ms then ${upstream.tokens} tokens ${upstream.tokenMs} ms apart`,
    );
    lines.push(
      `${'target'.padEnd(8)}${'achieved'.padStart(9)}${'ttft p50'.padStart(10)}${'ttft p99'.padStart(10)}` +
        `${'total p50'.padStart(11)}${'errors'.padStart(8)}${'+ttft p50'.padStart(11)}${'+ttft p99'.padStart(11)}` +
        `${'cpu/req'.padStart(9)}`,
    );
    for (const name of targets) {
      const r = stream[name];
      if (!r) continue;
      const a = streamAdded[`${name}_minus_direct`];
      lines.push(
        `${name.padEnd(8)}${fmt(r.achieved_rps, 9)}${fmt(r.ttft_p50, 10)}${fmt(r.ttft_p99, 10)}` +
          `${fmt(r.p50, 11)}${String(r.errors).padStart(8)}${fmt(a?.ttft_p50, 11)}${fmt(a?.ttft_p99, 11)}` +
          `${fmt(r.proxy_cpu_ms_per_req, 9, 2)}`,
      );
    }
  }
  // Latency is counted from the due time, so a load generator that fell behind inflates every target alike.
  const lagging: string[] = [];
  for (const [rate, row] of Object.entries(nonStreaming)) {
    for (const name of targets) {
      const r = row[name] as TargetResult | undefined;
      if (r && r.send_lag_p99 > LAG_WARNING_MS) lagging.push(`${name} at ${rate}/s (${r.send_lag_p99} ms)`);
    }
  }
  for (const name of targets) {
    const r = stream[name];
    if (r && r.send_lag_p99 > LAG_WARNING_MS) lagging.push(`${name} streaming (${r.send_lag_p99} ms)`);
  }
  if (lagging.length > 0) {
    lines.push('');
    lines.push(
      `the load generator sent late (send lag p99 over ${LAG_WARNING_MS} ms): ${lagging.join(', ')}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

const LAG_WARNING_MS = 5;

// ---------------------------------------------------------------------------------------------------------
// ROUTER PATHS: the router under test, hosted in its own process (`--serve-router <path> --upstream <url>`).
// It serves two models over the same upstream process: `bench-fixed` (the fixed-latency profile, for the
// non-streaming phase) and `bench-stream` (the streaming profile).
//   gateway  the public path: the gateway's OpenAI-compatible POST /v1/chat/completions (API key, quota,
//            request parsing) → InferenceService Generate/GenerateStream over the in-process Connect
//            transport, as in embedded mode → RagService with llmtwin.disable_rag → ModelRouter/BackendPool →
//            OpenAiBackend → upstream; every generation is stored in the embedded warehouse, as always.
//   pool     diagnostic: a bare HTTP handler in this file → ModelRouter/BackendPool → OpenAiBackend →
//            upstream, to tell the pool and backend's share from the rest of the path.

const ROUTER_MODELS = { fixed: 'bench-fixed', stream: 'bench-stream' } as const;

async function benchModels(upstreamUrl: string): Promise<ModelRouter> {
  const models = new ModelRouter({ defaultModel: ROUTER_MODELS.fixed });
  for (const profile of ['fixed', 'stream'] as const) {
    const model = ROUTER_MODELS[profile];
    await models.upsert(model, [new OpenAiBackend({ model, baseUrl: `${upstreamUrl}/${profile}/v1` })]);
  }
  // The router module starts the active health checks (one GET /v1/models per backend every 5 s).
  return models;
}

async function serveGateway(upstreamUrl: string, logger: Logger): Promise<RouterReady> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'llmtwin-bench-router-'));
  const adapters = await openAdapters(
    { warehouse: `sqlite:${path.join(dataDir, 'warehouse.db')}` },
    { logger },
  );
  const warehouse = adapters.warehouse!;
  const directory = new InProcessDirectory();
  const router = await createInferenceRouterModule({
    warehouse,
    logger,
    directory,
    // disable_rag skips retrieval, so nothing is ever searched (and embed is not a dependency).
    search: () => Promise.resolve([]),
    models: await benchModels(upstreamUrl),
  });
  const routerHealth = createModuleHealth(router);
  const routerServer = buildServer({
    name: router.name,
    register: (r) => router.register(r),
    services: [...router.services],
    health: routerHealth,
    logger,
  });
  directory.add('inference-router', routerServer.routes);
  // The router asks ingest for the author's display name (cached a minute): a stand-in answers it. The other
  // services the gateway forwards are not run and would answer Unimplemented.
  directory.add('ingest', (r) => {
    r.service(ingestv1.IngestService, {
      getAuthor: (req) => ({ author: { id: req.id, displayName: 'Bench Author' } }),
    });
  });
  for (const name of serviceNames) {
    if (name !== 'inference-router' && name !== 'ingest') directory.add(name, () => undefined);
  }
  routerHealth.start();
  await router.start?.();
  const gateway = await createGatewayModule({
    directory,
    addresses: Object.fromEntries(serviceNames.map((n) => [n, 'in-process'])),
    mode: 'embedded',
    version: 'bench',
    warehouse,
    dataDir,
    security: { defaultRateLimitPerMinute: 1_000_000 },
    httpRoutes: (ctx) =>
      openaiRoutes({
        directory: ctx.directory,
        security: ctx.security,
        maxBodyBytes: ctx.maxRequestBytes,
        logger: ctx.logger,
      }),
    logger,
  });
  // An author's key with the highest quota the key store allows: the benchmark measures the path, not the
  // rate limiter's refusals.
  const { key } = await gateway.keys.create({
    authorId: 'bench',
    name: 'bench',
    rateLimitPerMinute: 1_000_000,
  });
  const hosted = await hostModule(gateway, {
    port: 0,
    host: '127.0.0.1',
    logger,
    shutdownTimeoutMs: 2_000,
    onStopped: async () => {
      await router.stop?.();
      routerHealth.stop();
      await adapters.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
  stopRouter = () => hosted.stop();
  return {
    origin: hosted.url.replace(/\/$/, ''),
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${key}` },
    extraBody: { llmtwin: { disable_rag: true } },
    models: ROUTER_MODELS,
    description:
      'client → gateway POST /v1/chat/completions (API key, quota, OpenAI request mapping) → InferenceService ' +
      'Generate/GenerateStream (in-process Connect, as in embedded mode) → RagService with disable_rag ' +
      '(generation record stored in the embedded sqlite warehouse) → ModelRouter/BackendPool → OpenAiBackend ' +
      '(streams from the upstream) → upstream',
  };
}

async function servePool(upstreamUrl: string): Promise<RouterReady> {
  const models = await benchModels(upstreamUrl);
  models.start();
  const server = createHttpServer((req, res) => {
    void (async () => {
      const parts: Buffer[] = [];
      for await (const c of req) parts.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
        model?: string;
        messages: ChatMessage[];
        max_tokens?: number;
        stream?: boolean;
      };
      const ctl = new AbortController();
      res.once('close', () => ctl.abort());
      const events = models
        .resolve(body.model)
        .chat({ messages: body.messages, maxTokens: body.max_tokens ?? 16 }, ctl.signal);
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      try {
        if (body.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for await (const e of events) {
            res.write(e.type === 'delta' ? chunk({ content: e.text }, null) : chunk({}, e.finishReason));
          }
          res.end('data: [DONE]\n\n');
        } else {
          let text = '';
          let finish = 'stop';
          for await (const e of events) {
            if (e.type === 'delta') text += e.text;
            else finish = e.finishReason;
          }
          const payload = JSON.stringify({
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
          });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(payload);
        }
      } catch (err) {
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: String(err) } }));
        }
      }
    })();
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  stopRouter = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await models.close();
  };
  return {
    origin: `http://127.0.0.1:${port}`,
    path: '/v1/chat/completions',
    headers: {},
    models: ROUTER_MODELS,
    description: 'client → bare HTTP handler (bench) → ModelRouter/BackendPool → OpenAiBackend → upstream',
  };
}

let stopRouter: (() => Promise<void>) | undefined;

async function serveRouter(mode: string, upstreamUrl: string): Promise<void> {
  // Logs go to stderr: stdout carries the one line the benchmark waits for.
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
  let ready: RouterReady;
  if (mode === 'gateway') ready = await serveGateway(upstreamUrl, logger);
  else if (mode === 'pool') ready = await servePool(upstreamUrl);
  else throw new Error(`unknown router path ${mode}: gateway or pool`);
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  const stop = () => void (stopRouter?.() ?? Promise.resolve()).finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop).resume();
}

const args = process.argv.slice(2);
const serveAt = args.indexOf('--serve-router');
if (serveAt >= 0) {
  const upstreamAt = args.indexOf('--upstream');
  await serveRouter(args[serveAt + 1] ?? 'gateway', args[upstreamAt + 1] ?? '');
} else {
  await main();
}
