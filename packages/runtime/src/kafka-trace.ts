// Trace context across event-bus hops: the producer injects W3C `traceparent`/`tracestate` into the message
// headers inside a PRODUCER span; the consumer continues the trace in a CONSUMER span. Works for Kafka
// headers (string or Buffer values) and for the embedded bus (plain strings).
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_PARTITION_ID,
  ATTR_MESSAGING_KAFKA_MESSAGE_KEY,
  ATTR_MESSAGING_KAFKA_OFFSET,
  ATTR_MESSAGING_OPERATION,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_PROCESS_DURATION,
} from './semconv.js';
import { getTracer, lazyInstruments } from './telemetry.js';

/** Message headers as kafkajs delivers them; the embedded bus uses plain strings. */
export type MessageHeaders = Record<string, string | Buffer | (string | Buffer)[] | undefined>;

const headerGetter: TextMapGetter<MessageHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    // Kafka header names are case-sensitive but W3C propagators ask in lower case.
    const found = carrier[key] ?? Object.entries(carrier).find(([name]) => name.toLowerCase() === key)?.[1];
    if (found === undefined) return undefined;
    const values = Array.isArray(found) ? found : [found];
    const strings = values.map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
    return strings.length === 1 ? strings[0] : strings;
  },
};

/** Writes the trace context of `ctx` (default: the active one) into `headers` and returns them. */
export function injectTraceHeaders(
  headers: Record<string, string> = {},
  ctx: Context = context.active(),
): Record<string, string> {
  propagation.inject(ctx, headers, {
    set: (carrier, key, value) => {
      carrier[key] = value;
    },
  });
  return headers;
}

/** The context carried by `headers`, on top of the active one. */
export function extractTraceContext(headers: MessageHeaders | undefined): Context {
  return propagation.extract(context.active(), headers ?? {}, headerGetter);
}

/** Runs `fn` inside the trace context carried by `headers`. */
export function withExtractedContext<T>(headers: MessageHeaders | undefined, fn: () => T): T {
  return context.with(extractTraceContext(headers), fn);
}

export interface MessagingSpanOptions {
  /** Default `kafka`; the embedded bus passes its own name. */
  system?: string;
  partition?: number;
  offset?: string | number;
  /** The message key (the aggregate id): low-cardinality enough for a span, never for a metric. */
  key?: string;
  consumerGroup?: string;
  batchSize?: number;
}

const instruments = lazyInstruments((meter) => ({
  process: meter.createHistogram(METRIC_MESSAGING_PROCESS_DURATION, {
    description: 'Duration of processing one consumed message',
    unit: 's',
  }),
  publish: meter.createHistogram(METRIC_MESSAGING_CLIENT_OPERATION_DURATION, {
    description: 'Duration of publishing messages (until acknowledged)',
    unit: 's',
  }),
}));

function messagingAttributes(
  topic: string,
  operation: 'publish' | 'process',
  options: MessagingSpanOptions,
): { span: Attributes; metric: Attributes } {
  const metric: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: options.system ?? 'kafka',
    [ATTR_MESSAGING_DESTINATION_NAME]: topic,
    [ATTR_MESSAGING_OPERATION]: operation,
    [ATTR_MESSAGING_OPERATION_TYPE]: operation === 'publish' ? 'send' : 'process',
    [ATTR_MESSAGING_OPERATION_NAME]: operation === 'publish' ? 'send' : 'process',
  };
  if (options.consumerGroup !== undefined) metric[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = options.consumerGroup;
  const span: Attributes = { ...metric };
  if (options.partition !== undefined)
    span[ATTR_MESSAGING_DESTINATION_PARTITION_ID] = String(options.partition);
  if (options.offset !== undefined) span[ATTR_MESSAGING_KAFKA_OFFSET] = Number(options.offset);
  if (options.key !== undefined) span[ATTR_MESSAGING_KAFKA_MESSAGE_KEY] = options.key;
  if (options.batchSize !== undefined) span[ATTR_MESSAGING_BATCH_MESSAGE_COUNT] = options.batchSize;
  return { span, metric };
}

async function runInSpan<T>(
  span: Span,
  ctx: Context,
  metricAttributes: Attributes,
  histogram: 'process' | 'publish',
  fn: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  let errorType: string | undefined;
  try {
    return await context.with(ctx, fn);
  } catch (error) {
    errorType = error instanceof Error ? error.name : 'unknown';
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    if (error instanceof Error) span.recordException(error);
    span.setAttribute(ATTR_ERROR_TYPE, errorType);
    throw error;
  } finally {
    span.end();
    instruments()[histogram].record(
      (performance.now() - started) / 1000,
      errorType === undefined ? metricAttributes : { ...metricAttributes, [ATTR_ERROR_TYPE]: errorType },
    );
  }
}

/**
 * Publishes inside a PRODUCER span named `publish <topic>`. `fn` gets headers already carrying the span's
 * trace context: put them on the message(s) it sends, and resolve once the broker acknowledged.
 */
export function startProducerSpan<T>(
  topic: string,
  fn: (headers: Record<string, string>, span: Span) => Promise<T>,
  options: MessagingSpanOptions = {},
): Promise<T> {
  const attributes = messagingAttributes(topic, 'publish', options);
  const parent = context.active();
  const span = getTracer().startSpan(
    `publish ${topic}`,
    { kind: SpanKind.PRODUCER, attributes: attributes.span },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  const headers = injectTraceHeaders({}, ctx);
  return runInSpan(span, ctx, attributes.metric, 'publish', () => fn(headers, span));
}

/**
 * Handles one consumed message inside a CONSUMER span named `process <topic>`, child of the producer's
 * span (so a document's journey reads as one trace). A thrown error marks the span and is rethrown.
 */
export function startConsumerSpan<T>(
  topic: string,
  headers: MessageHeaders | undefined,
  fn: (span: Span) => Promise<T>,
  options: MessagingSpanOptions = {},
): Promise<T> {
  const attributes = messagingAttributes(topic, 'process', options);
  const parent = extractTraceContext(headers);
  const span = getTracer().startSpan(
    `process ${topic}`,
    { kind: SpanKind.CONSUMER, attributes: attributes.span },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  return runInSpan(span, ctx, attributes.metric, 'process', () => fn(span));
}
