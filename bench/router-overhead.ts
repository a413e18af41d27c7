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
// The parts live in router-overhead/: child processes and CPU time, the Portkey and router targets, the
// report; this file is the run itself.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chatClient, runOpenLoop, type ChatTarget, type LoadReport } from './load.js';
import {
  type Child,
  type UpstreamSettings,
  processCpuMs,
  selfCpuMs,
  startUpstreamProcess,
  stopChild,
} from './router-overhead/child-processes.js';
import { type PortkeyInfo, startPortkey } from './router-overhead/portkey-target.js';
import {
  type CpuShare,
  type StreamResult,
  type TargetName,
  type TargetResult,
  diff,
  printTables,
  round2,
  round3,
  toResult,
  toStreamResult,
} from './router-overhead/report.js';
import { serveRouter, startRouter } from './router-overhead/router-target.js';
import { completionWords, type Profile } from './upstream.js';

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

const args = process.argv.slice(2);
const serveAt = args.indexOf('--serve-router');
if (serveAt >= 0) {
  const upstreamAt = args.indexOf('--upstream');
  await serveRouter(args[serveAt + 1] ?? 'gateway', args[upstreamAt + 1] ?? '');
} else {
  await main();
}
