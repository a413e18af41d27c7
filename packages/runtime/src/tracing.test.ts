import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Code, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { cleanv1, healthv1, inferencev1 } from '@llmtwin/contracts';
import { SpanKind, trace } from '@opentelemetry/api';
import { MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { HealthService } from './health.js';
import { startConsumerSpan, startProducerSpan } from './kafka-trace.js';
import { createLogger } from './logger.js';
import { poll } from './poll.fixture.js';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { buildServer, inProcessTransport } from './server.js';
import { tracingInterceptor } from './tracing.interceptor.js';
import { startTestServer, type TestServer } from './test-server.fixture.js';

class TestMetricReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const spans = new InMemorySpanExporter();
const metrics = new TestMetricReader();
let telemetry: Telemetry;
let server: TestServer;

beforeAll(async () => {
  telemetry = startTelemetry({
    serviceName: 'runtime-test',
    env: {},
    spanProcessors: [new SimpleSpanProcessor(spans)],
    metricReaders: [metrics],
  });
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
  await telemetry.shutdown();
});
beforeEach(() => spans.reset());

/**
 * A span ends when its side of the call is done, which on a busy machine can be a moment after the other
 * side has its answer (the server may still be flushing its response): wait for it, boundedly.
 */
function spanNamed(name: string, kind: SpanKind): Promise<ReadableSpan> {
  return poll(() => spans.getFinishedSpans().find((s) => s.name === name && s.kind === kind), {
    what: `a ${SpanKind[kind]} span "${name}"`,
    timeoutMs: 5_000,
    intervalMs: 10,
  });
}

async function histogramPoints(
  name: string,
): Promise<{ attributes: Record<string, unknown>; count: number }[]> {
  const { resourceMetrics } = (await metrics.collect()) as { resourceMetrics: ResourceMetrics };
  const metric = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((p) => ({
    attributes: p.attributes,
    count: (p.value as { count: number }).count,
  }));
}

describe('startTelemetry', () => {
  it('returns the same handle to a second caller (embedded services share one SDK)', () => {
    expect(startTelemetry({ serviceName: 'another-service', env: {} })).toBe(telemetry);
    expect(telemetry.exporting).toEqual({ traces: false, metrics: false });
  });
});

describe('tracing interceptor', () => {
  it('continues the client trace in the server span, over gRPC', async () => {
    const client = createClient(
      cleanv1.CleanService,
      createGrpcTransport({ baseUrl: server.listening.url, interceptors: [tracingInterceptor('client')] }),
    );
    await expect(client.getCleanedDocument({ documentId: 'missing' })).rejects.toMatchObject({
      code: Code.NotFound,
    });

    const clientSpan = await spanNamed('llmtwin.clean.v1.CleanService/GetCleanedDocument', SpanKind.CLIENT);
    const serverSpan = await spanNamed('llmtwin.clean.v1.CleanService/GetCleanedDocument', SpanKind.SERVER);
    expect(serverSpan.spanContext().traceId).toBe(clientSpan.spanContext().traceId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(server.seen.traceparent).toContain(clientSpan.spanContext().traceId);
    expect(serverSpan.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'llmtwin.clean.v1.CleanService',
      'rpc.method': 'GetCleanedDocument',
      'rpc.grpc.status_code': Code.NotFound,
    });
    expect(clientSpan.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.grpc.status_code': Code.NotFound,
      'server.address': '127.0.0.1',
      'server.port': server.listening.port,
    });
    // NotFound is the caller's problem: an error on the client span, not on the server's.
    expect(clientSpan.status.code).toBe(2);
    expect(serverSpan.status.code).toBe(0);
  });

  it('labels Connect calls connect_rpc with the error code name', async () => {
    const client = createClient(
      cleanv1.CleanService,
      createConnectTransport({
        baseUrl: server.listening.url,
        httpVersion: '1.1',
        interceptors: [tracingInterceptor('client')],
      }),
    );
    await expect(client.getCleanedDocument({ documentId: 'boom' })).rejects.toMatchObject({
      code: Code.Internal,
    });
    const serverSpan = await spanNamed('llmtwin.clean.v1.CleanService/GetCleanedDocument', SpanKind.SERVER);
    expect(serverSpan.attributes).toMatchObject({
      'rpc.system': 'connect_rpc',
      'rpc.connect_rpc.error_code': 'internal',
    });
    expect(serverSpan.status.code).toBe(2);
  });

  it('keeps a server-streaming span open until the stream ends', async () => {
    const controller = new AbortController();
    const client = createClient(
      healthv1.Health,
      createGrpcTransport({ baseUrl: server.listening.url, interceptors: [tracingInterceptor('client')] }),
    );
    const it = client.watch({ service: '' }, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value?.status).toBe(healthv1.HealthCheckResponse_ServingStatus.SERVING);
    expect(spans.getFinishedSpans().filter((s) => s.name === 'grpc.health.v1.Health/Watch')).toEqual([]);
    controller.abort();
    await expect(it.next()).rejects.toMatchObject({ code: Code.Canceled });
    expect(
      (await spanNamed('grpc.health.v1.Health/Watch', SpanKind.CLIENT)).attributes['rpc.grpc.status_code'],
    ).toBe(Code.Canceled);
  });

  it('runs a streaming handler inside its server span (in-process transport)', async () => {
    const seenInHandler: (string | undefined)[] = [];
    const built = buildServer({
      name: 'stream-test',
      services: [inferencev1.InferenceService],
      health: new HealthService(),
      logger: createLogger('stream-test', { level: 'silent' }),
      register(router) {
        router.service(inferencev1.InferenceService, {
          async *generateStream() {
            seenInHandler.push(trace.getActiveSpan()?.spanContext().spanId);
            yield { event: { case: 'delta', value: 'hel' } };
            await new Promise((resolve) => setTimeout(resolve, 1));
            seenInHandler.push(trace.getActiveSpan()?.spanContext().spanId);
            yield { event: { case: 'delta', value: 'lo' } };
          },
        });
      },
    });
    const client = createClient(inferencev1.InferenceService, inProcessTransport(built.routes));
    const deltas: string[] = [];
    for await (const res of client.generateStream({ query: 'hi' })) {
      if (res.event.case === 'delta') deltas.push(res.event.value);
    }
    expect(deltas).toEqual(['hel', 'lo']);
    const serverSpan = await spanNamed(
      'llmtwin.inference.v1.InferenceService/GenerateStream',
      SpanKind.SERVER,
    );
    const clientSpan = await spanNamed(
      'llmtwin.inference.v1.InferenceService/GenerateStream',
      SpanKind.CLIENT,
    );
    expect(seenInHandler).toEqual([serverSpan.spanContext().spanId, serverSpan.spanContext().spanId]);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(serverSpan.attributes['rpc.system']).toBe('connect_rpc');
  });

  it('records rpc.server.duration and rpc.client.duration', async () => {
    const client = createClient(
      cleanv1.CleanService,
      createGrpcTransport({ baseUrl: server.listening.url, interceptors: [tracingInterceptor('client')] }),
    );
    await client.cleanText({ raw: new TextEncoder().encode('x') });
    const serverPoints = await histogramPoints('rpc.server.duration');
    expect(serverPoints).toContainEqual({
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': 'llmtwin.clean.v1.CleanService',
        'rpc.method': 'CleanText',
        'rpc.grpc.status_code': 0,
      },
      count: expect.any(Number),
    });
    const clientPoints = await histogramPoints('rpc.client.duration');
    expect(clientPoints.some((p) => p.attributes['rpc.method'] === 'CleanText')).toBe(true);
  });
});

describe('logs', () => {
  it('carry the trace and span ids of the active span', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const logger = createLogger('runtime-test', { destination });
    const ids = trace.getTracer('test').startActiveSpan('work', (span) => {
      logger.info({ documentId: 'd1' }, 'inside');
      span.end();
      return span.spanContext();
    });
    logger.info('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inside).toMatchObject({
      service: 'runtime-test',
      msg: 'inside',
      documentId: 'd1',
      trace_id: ids.traceId,
      span_id: ids.spanId,
    });
    expect(outside).not.toHaveProperty('trace_id');
  });
});

describe('messaging spans', () => {
  it('carry the trace from producer to consumer through message headers', async () => {
    let sentHeaders: Record<string, string> = {};
    await startProducerSpan(
      'llmtwin.documents.raw.v1',
      async (headers) => {
        sentHeaders = headers;
      },
      { key: 'doc-1' },
    );
    // Kafka hands headers back as Buffers.
    const received = Object.fromEntries(Object.entries(sentHeaders).map(([k, v]) => [k, Buffer.from(v)]));
    await startConsumerSpan('llmtwin.documents.raw.v1', received, async () => undefined, {
      consumerGroup: 'clean',
      partition: 3,
      offset: '42',
    });

    const producer = await spanNamed('publish llmtwin.documents.raw.v1', SpanKind.PRODUCER);
    const consumer = await spanNamed('process llmtwin.documents.raw.v1', SpanKind.CONSUMER);
    expect(sentHeaders.traceparent).toContain(producer.spanContext().traceId);
    expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'llmtwin.documents.raw.v1',
      'messaging.operation': 'publish',
      'messaging.kafka.message.key': 'doc-1',
    });
    expect(consumer.attributes).toMatchObject({
      'messaging.operation': 'process',
      'messaging.consumer.group.name': 'clean',
      'messaging.destination.partition.id': '3',
      'messaging.kafka.offset': 42,
    });
  });

  it('marks a failed handler span and rethrows', async () => {
    await expect(
      startConsumerSpan('llmtwin.chunks.v1', {}, () => Promise.reject(new TypeError('bad payload'))),
    ).rejects.toThrow('bad payload');
    const consumer = await spanNamed('process llmtwin.chunks.v1', SpanKind.CONSUMER);
    expect(consumer.status).toMatchObject({ code: 2, message: 'bad payload' });
    expect(consumer.attributes['error.type']).toBe('TypeError');
  });
});
