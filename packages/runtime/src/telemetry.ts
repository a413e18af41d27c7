// OpenTelemetry for a process: traces and metrics, exported over OTLP (http/protobuf) only when the standard
// OTEL_EXPORTER_OTLP_* endpoints are set. Without an endpoint spans are still created and sampled, so trace
// ids reach the logs and cross RPC and Kafka hops; nothing leaves the process.
import {
  context,
  metrics,
  propagation,
  trace,
  type Meter,
  type MeterProvider as ApiMeterProvider,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Env } from './config.js';
import { instrumentationScope } from './instruments.js';

export { instrumentationScope, lazyInstruments } from './instruments.js';

export interface TelemetryOptions {
  /** Used unless OTEL_SERVICE_NAME is set (the standard variable wins, as operators expect). */
  serviceName: string;
  serviceVersion?: string;
  /** Extra span processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
  /** Extra metric readers, e.g. an in-memory reader in tests. */
  metricReaders?: IMetricReader[];
  /** Defaults to process.env. The SDK's exporters also read process.env themselves. */
  env?: Env;
}

export interface Telemetry {
  /** False when OTEL_SDK_DISABLED=true: the API stays a no-op. */
  readonly enabled: boolean;
  readonly serviceName: string;
  /** Whether spans / metrics leave the process (an OTLP endpoint is configured). */
  readonly exporting: { readonly traces: boolean; readonly metrics: boolean };
  forceFlush(): Promise<void>;
  /** Flushes and stops the SDK. Idempotent; afterwards startTelemetry starts a fresh one. */
  shutdown(): Promise<void>;
}

// On globalThis rather than in module scope so that two copies of this module (or two services embedded
// in one process) still share one SDK: the OpenTelemetry API holds a single global provider anyway.
const ACTIVE = Symbol.for('llmtwin.runtime.telemetry');
type Holder = { [ACTIVE]?: Telemetry };

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'true';
}

function isSet(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}

function exporterDisabled(value: string | undefined): boolean {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .includes('none');
}

/**
 * Starts the OpenTelemetry SDK once per process. A second call (another embedded service) gets the same
 * handle; its options are ignored.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const holder = globalThis as Holder;
  const existing = holder[ACTIVE];
  if (existing !== undefined) return existing;

  const env = options.env ?? process.env;
  const serviceName = isSet(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME!.trim() : options.serviceName;

  if (isTrue(env.OTEL_SDK_DISABLED)) {
    const noop: Telemetry = {
      enabled: false,
      serviceName,
      exporting: { traces: false, metrics: false },
      forceFlush: () => Promise.resolve(),
      shutdown: () => {
        if (holder[ACTIVE] === noop) delete holder[ACTIVE];
        return Promise.resolve();
      },
    };
    holder[ACTIVE] = noop;
    return noop;
  }

  const exportTraces =
    !exporterDisabled(env.OTEL_TRACES_EXPORTER) &&
    (isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT) || isSet(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT));
  const exportMetrics =
    !exporterDisabled(env.OTEL_METRICS_EXPORTER) &&
    (isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT) || isSet(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT));

  // NodeSDK registers a tracer provider only when it has a span processor; the no-op one keeps spans (and
  // their ids) alive when nothing is exported.
  const spanProcessors: SpanProcessor[] = [
    exportTraces ? new BatchSpanProcessor(new OTLPTraceExporter()) : new NoopSpanProcessor(),
    ...(options.spanProcessors ?? []),
  ];
  const metricReaders: IMetricReader[] = [...(options.metricReaders ?? [])];
  if (exportMetrics) {
    const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
    metricReaders.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(),
        exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
      }),
    );
  }

  const sdk = new NodeSDK({
    serviceName,
    resource: defaultResource().merge(
      resourceFromAttributes(
        options.serviceVersion === undefined ? {} : { 'service.version': options.serviceVersion },
      ),
    ),
    spanProcessors,
    metricReaders,
    // Logs go to stdout through pino (collected by the platform), not through the OTel logs SDK.
    logRecordProcessors: [],
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  const handle: Telemetry = {
    enabled: true,
    serviceName,
    exporting: { traces: exportTraces, metrics: exportMetrics },
    async forceFlush() {
      const tracerProvider = trace.getTracerProvider() as { getDelegate?: () => unknown };
      const delegate = tracerProvider.getDelegate?.() as { forceFlush?: () => Promise<void> } | undefined;
      const meterProvider = metrics.getMeterProvider() as ApiMeterProvider & {
        forceFlush?: () => Promise<void>;
      };
      await Promise.all([delegate?.forceFlush?.(), meterProvider.forceFlush?.()]);
    },
    shutdown() {
      stopping ??= sdk.shutdown().finally(() => {
        // Unregister so that a later startTelemetry (tests, a restarted embedded stack) can register again.
        trace.disable();
        metrics.disable();
        propagation.disable();
        context.disable();
        if (holder[ACTIVE] === handle) delete holder[ACTIVE];
      });
      return stopping;
    },
  };
  holder[ACTIVE] = handle;
  return handle;
}

/** The running telemetry handle, if any. */
export function currentTelemetry(): Telemetry | undefined {
  return (globalThis as Holder)[ACTIVE];
}

export function getTracer(name: string = instrumentationScope, version?: string): Tracer {
  return trace.getTracer(name, version);
}

export function getMeter(name: string = instrumentationScope, version?: string): Meter {
  return metrics.getMeter(name, version);
}
