// What one run of the router-overhead benchmark reports: per-target results in the JSON's shape, and the
// tables printed to the terminal (with the warning when the load generator itself fell behind).
import type { LoadReport } from '../load.js';
import type { UpstreamSettings } from './child-processes.js';

export type TargetName = 'direct' | 'router' | 'portkey';

export interface TargetResult {
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

export interface CpuShare {
  proxy: number | null;
  upstream: number | null;
  client: number | null;
}

export interface StreamResult extends TargetResult {
  ttft_p50: number;
  ttft_p90: number;
  ttft_p99: number;
  ttft_max: number;
}

export const toResult = (r: LoadReport, cpu: CpuShare): TargetResult => ({
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

export const toStreamResult = (r: LoadReport, cpu: CpuShare): StreamResult => ({
  ...toResult(r, cpu),
  ttft_p50: r.ttftMs?.p50 ?? NaN,
  ttft_p90: r.ttftMs?.p90 ?? NaN,
  ttft_p99: r.ttftMs?.p99 ?? NaN,
  ttft_max: r.ttftMs?.max ?? NaN,
});

export const round2 = (n: number) => Math.round(n * 100) / 100;
export const round3 = (n: number) => Math.round(n * 1000) / 1000;
export const diff = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? null : round2(a - b);

const fmt = (n: number | null | undefined, width: number, digits = 1) =>
  (n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits)).padStart(width);

export function printTables(
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
