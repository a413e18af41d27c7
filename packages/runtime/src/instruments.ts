// Telemetry that needs only the OpenTelemetry API (no SDK, no exporter): what domain code may load. The
// process's SDK, started by telemetry.ts, makes these instruments and spans real; without it they are no-ops.
import { metrics, type Meter, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';

export * from './semconv.js';

export const instrumentationScope = '@llmtwin/runtime';

/**
 * Instruments created before the SDK starts would stay no-ops forever; this builds them on first use and
 * again whenever the global meter provider changes.
 */
export function lazyInstruments<T>(
  create: (meter: Meter) => T,
  scope: string = instrumentationScope,
): () => T {
  let provider: ApiMeterProvider | undefined;
  let instruments: T | undefined;
  return () => {
    const current = metrics.getMeterProvider();
    if (instruments === undefined || current !== provider) {
      provider = current;
      instruments = create(current.getMeter(scope));
    }
    return instruments;
  };
}
