// Threshold alerts on the router's own signals: p95 latency and error rate over a sliding window of recent
// generations. A rule fires once when it crosses its threshold and resolves once when it is back under it
// (no alert storm while a backend stays slow). Each transition is logged, counted as a metric and handed to
// `publish` (the module sends it as an AlertRaised event on llmtwin.alerts.v1).
import type { Logger } from 'pino';

export interface AlertThresholds {
  /** Fire when the p95 total latency of the window exceeds this many milliseconds. */
  latencyP95Ms: number;
  /** Fire when the share of failed generations in the window exceeds this (0..1). */
  errorRate: number;
  /** Generations kept in the window. */
  windowSize: number;
  /** Older generations leave the window even when few requests arrive. */
  windowMs: number;
  /** No decision on fewer samples than this. */
  minSamples: number;
}

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
  latencyP95Ms: 30_000,
  errorRate: 0.2,
  windowSize: 100,
  windowMs: 5 * 60_000,
  minSamples: 10,
};

export type AlertRule = 'latency_p95' | 'error_rate';

export interface Alert {
  rule: AlertRule;
  value: number;
  threshold: number;
  windowSize: number;
  resolved: boolean;
  message: string;
}

interface Sample {
  at: number;
  latencyMs: number;
  failed: boolean;
}

export class AlertMonitor {
  private readonly samples: Sample[] = [];
  private readonly firing = new Set<AlertRule>();

  constructor(
    private readonly thresholds: AlertThresholds,
    private readonly logger: Logger,
    private readonly publish: (alert: Alert) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one finished generation and returns the alerts that changed state. */
  observe(latencyMs: number, failed: boolean): Alert[] {
    const at = this.now();
    this.samples.push({ at, latencyMs, failed });
    while (
      this.samples.length > this.thresholds.windowSize ||
      (this.samples.length > 0 && at - this.samples[0]!.at > this.thresholds.windowMs)
    ) {
      this.samples.shift();
    }
    if (this.samples.length < this.thresholds.minSamples) return [];
    const n = this.samples.length;
    const latencies = this.samples.map((s) => s.latencyMs).sort((a, b) => a - b);
    const p95 = latencies[Math.min(n - 1, Math.ceil(0.95 * n) - 1)]!;
    const errorRate = this.samples.filter((s) => s.failed).length / n;
    const changed = [
      this.evaluate(
        'latency_p95',
        p95,
        this.thresholds.latencyP95Ms,
        n,
        (v, t) => `p95 latency ${Math.round(v)} ms over the last ${n} generations is above ${t} ms`,
      ),
      this.evaluate(
        'error_rate',
        errorRate,
        this.thresholds.errorRate,
        n,
        (v, t) =>
          `${(v * 100).toFixed(1)}% of the last ${n} generations failed (threshold ${(t * 100).toFixed(1)}%)`,
      ),
    ].filter((a): a is Alert => a !== undefined);
    for (const alert of changed) {
      if (alert.resolved) this.logger.info({ alert }, `alert resolved: ${alert.rule}`);
      else this.logger.warn({ alert }, `alert: ${alert.message}`);
      this.publish(alert);
    }
    return changed;
  }

  active(): AlertRule[] {
    return [...this.firing];
  }

  private evaluate(
    rule: AlertRule,
    value: number,
    threshold: number,
    n: number,
    describe: (value: number, threshold: number) => string,
  ): Alert | undefined {
    const over = value > threshold;
    if (over === this.firing.has(rule)) return undefined;
    if (over) this.firing.add(rule);
    else this.firing.delete(rule);
    return {
      rule,
      value,
      threshold,
      windowSize: n,
      resolved: !over,
      message: over ? describe(value, threshold) : `${rule} back under ${threshold}`,
    };
  }
}
