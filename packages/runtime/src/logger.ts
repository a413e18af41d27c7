// Structured JSON logs on stdout, one line per event, correlated with the active trace. Object first, then
// the message: `logger.info({ documentId }, 'document stored')`; errors go under `err`.
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** pino level; the service passes its parsed LOG_LEVEL. Default `info`. */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read them back. */
  destination?: DestinationStream;
  /** Extra redaction paths (pino syntax), added to the defaults. */
  redact?: readonly string[];
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

// Credentials that can reach a log line through headers, options objects or errors. Paths are pino's
// (fast-redact) syntax: one wildcard level; brackets for names that are not identifiers.
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'cookie',
  'apiKey',
  'api_key',
  'password',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  '["x-api-key"]',
];
export const defaultRedactPaths: readonly string[] = SECRET_KEYS.flatMap((key) => {
  const access = key.startsWith('[') ? key : `.${key}`;
  return [
    key.startsWith('[') ? `*${key}` : key,
    `*${access}`,
    `headers${access}`,
    `*.headers${access}`,
    `req.headers${access}`,
  ];
});

function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const ctx = span.spanContext();
  if (!isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId, trace_flags: `0${ctx.traceFlags.toString(16)}` };
}

/** A pino logger whose lines carry `service` and, inside a span, `trace_id`/`span_id`. */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: name, ...options.base },
      messageKey: 'msg',
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
      mixin: traceFields,
      redact: { paths: [...defaultRedactPaths, ...(options.redact ?? [])], censor: '[REDACTED]' },
    },
    options.destination,
  );
}
