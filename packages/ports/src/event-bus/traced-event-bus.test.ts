// Trace context crosses the event bus: the consumer's span continues the trace the publisher was in.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import { SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTelemetry, type Telemetry } from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEventBus } from './create-event-bus.js';
import type { EventBus, IncomingMessage } from './event-bus.port.js';
import { tracedEventBus } from './traced-event-bus.js';

const spans = new InMemorySpanExporter();
let telemetry: Telemetry;
let dir: string;
let bus: EventBus;

beforeAll(async () => {
  telemetry = startTelemetry({
    serviceName: 'bus-test',
    env: {},
    spanProcessors: [new SimpleSpanProcessor(spans)],
  });
  dir = await mkdtemp(path.join(tmpdir(), 'traced-bus-'));
  bus = tracedEventBus(createEventBus(`log:${path.join(dir, 'events.db')}`));
});
afterAll(async () => {
  await bus.close();
  await telemetry.shutdown();
  await rm(dir, { recursive: true, force: true });
});

describe('tracedEventBus', () => {
  it('carries the publisher trace into the consumer span through the traceparent header', async () => {
    const topic = 'llmtwin.trace-test.v1';
    await bus.ensureTopics([topic]);
    const tracer = trace.getTracer('test');
    let traceId = '';
    await tracer.startActiveSpan('crawl', async (span) => {
      traceId = span.spanContext().traceId;
      await bus.publish(topic, [{ key: 'doc-1', value: new Uint8Array([1, 2, 3]) }]);
      span.end();
    });

    const received = new Promise<{ message: IncomingMessage; activeTraceId: string | undefined }>(
      (resolve) => {
        void bus.subscribe({
          group: 'trace-test',
          topics: [topic],
          handler: async (message) => {
            resolve({ message, activeTraceId: trace.getActiveSpan()?.spanContext().traceId });
          },
        });
      },
    );
    const { message, activeTraceId } = await received;
    expect(message.headers['traceparent']).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
    expect(activeTraceId).toBe(traceId);

    // The consumer span ends just after the handler returns.
    const findSpan = (kind: SpanKind, name: string) =>
      spans.getFinishedSpans().find((s) => s.kind === kind && s.name === name);
    const consumer = await poll(() => findSpan(SpanKind.CONSUMER, `process ${topic}`), {
      what: `the consumer span "process ${topic}"`,
    });
    const producer = findSpan(SpanKind.PRODUCER, `publish ${topic}`);
    expect(producer?.spanContext().traceId).toBe(traceId);
    expect(consumer?.spanContext().traceId).toBe(traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
  });
});
