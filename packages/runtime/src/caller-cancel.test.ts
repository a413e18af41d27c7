// A caller that leaves in the middle of a stream is a cancellation, not a server fault: the error interceptor
// logs it at debug with code Canceled and the server span is not an error, however the abort reached the
// server. Real server on a loopback port (buildServer + listen), real connect-node clients, logs captured
// from pino as JSON lines.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { inferencev1 } from '@llmtwin/contracts';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { callerEnded } from './connect-errors.js';
import { HealthService } from './health.js';
import { poll } from './poll.fixture.js';
import { buildServer, listen, type ListeningServer } from './server.js';
import { startTelemetry, type Telemetry } from './telemetry.js';

const RPC = 'llmtwin.inference.v1.InferenceService/GenerateStream';
const lines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  }),
);
const spans = new InMemorySpanExporter();
let telemetry: Telemetry;
let server: ListeningServer;

beforeAll(async () => {
  telemetry = startTelemetry({
    serviceName: 'caller-cancel-test',
    env: {},
    spanProcessors: [new SimpleSpanProcessor(spans)],
  });
  const built = buildServer({
    name: 'caller-cancel-test',
    services: [inferencev1.InferenceService],
    health: new HealthService(),
    logger,
    register(router) {
      router.service(inferencev1.InferenceService, {
        // Streams until the caller leaves, then does what the router's answer loop does: rethrows the
        // signal's reason, whatever it is.
        async *generateStream(_req, ctx) {
          for (let i = 0; ; i++) {
            yield { event: { case: 'delta', value: `word${i} ` } };
            await new Promise((resolve) => setTimeout(resolve, 10));
            ctx.signal.throwIfAborted();
          }
        },
      });
    },
  });
  server = await listen(built.handler, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server?.close(1000);
  await telemetry.shutdown();
});
beforeEach(() => {
  lines.length = 0;
  spans.reset();
});

async function readThenLeave(transport: ReturnType<typeof createGrpcTransport>, reason?: unknown) {
  const client = createClient(inferencev1.InferenceService, transport);
  const controller = new AbortController();
  let deltas = 0;
  await expect(
    (async () => {
      for await (const res of client.generateStream({ query: 'q' }, { signal: controller.signal })) {
        if (res.event.case === 'delta' && ++deltas === 3) controller.abort(reason);
      }
    })(),
  ).rejects.toBeInstanceOf(Error);
  expect(deltas).toBe(3);
}

async function serverOutcome() {
  const logged = await poll(() => lines.find((l) => l['rpc'] === RPC), {
    what: 'the log line of the stream that ended',
    timeoutMs: 5_000,
    intervalMs: 10,
  });
  const span = await poll(
    () => spans.getFinishedSpans().find((s) => s.name === RPC && s.kind === SpanKind.SERVER),
    { what: 'the server span', timeoutMs: 5_000, intervalMs: 10 },
  );
  return { logged, span };
}

describe('a caller that leaves mid-stream', () => {
  it.each([
    ['gRPC, the stream reset with CANCEL', () => createGrpcTransport({ baseUrl: server.url }), undefined],
    [
      // What a proxy's Connect client sends when its own signal's reason is a plain Error: RST_STREAM
      // INTERNAL_ERROR, which connect-node reads back as Code.Internal.
      'gRPC, the stream reset with INTERNAL_ERROR',
      () => createGrpcTransport({ baseUrl: server.url }),
      new Error('the user closed the tab'),
    ],
    [
      'Connect over HTTP/1.1, the connection closed',
      () => createConnectTransport({ baseUrl: server.url, httpVersion: '1.1' }),
      undefined,
    ],
  ])('over %s is logged at debug as Canceled, and its span is no error', async (_name, transport, reason) => {
    await readThenLeave(transport(), reason);
    const { logged, span } = await serverOutcome();
    expect(logged).toMatchObject({ level: 20, code: 'Canceled', msg: 'rpc cancelled' });
    expect(lines.filter((l) => (l['level'] as number) >= 40)).toEqual([]);
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(span.attributes['rpc.grpc.status_code'] ?? span.attributes['rpc.connect_rpc.error_code']).toBe(
      span.attributes['rpc.system'] === 'grpc' ? Code.Canceled : 'cancelled',
    );
  });

  it('keeps a real fault of a call nobody cancelled an error', async () => {
    const built = buildServer({
      name: 'fault-test',
      services: [inferencev1.InferenceService],
      health: new HealthService(),
      logger,
      register(router) {
        router.service(inferencev1.InferenceService, {
          // eslint-disable-next-line require-yield
          async *generateStream() {
            throw new Error('the disk is on fire');
          },
        });
      },
    });
    const faulty = await listen(built.handler, { port: 0, host: '127.0.0.1' });
    try {
      const client = createClient(inferencev1.InferenceService, createGrpcTransport({ baseUrl: faulty.url }));
      await expect(
        (async () => {
          for await (const _ of client.generateStream({ query: 'q' })) void _;
        })(),
      ).rejects.toMatchObject({ code: Code.Internal });
      const { logged, span } = await serverOutcome();
      expect(logged).toMatchObject({ level: 50, code: 'Internal', msg: 'rpc failed' });
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await faulty.close(1000);
    }
  });
});

describe('callerEnded', () => {
  it('reads any abort as the caller cancelling, except a passed deadline', () => {
    expect(callerEnded(new AbortController().signal)).toBeUndefined();
    expect(callerEnded(AbortSignal.abort())?.code).toBe(Code.Canceled);
    expect(callerEnded(AbortSignal.abort(new Error('gone')))?.code).toBe(Code.Canceled);
    expect(callerEnded(AbortSignal.abort(new ConnectError('reset', Code.Internal)))?.code).toBe(
      Code.Canceled,
    );
    expect(callerEnded(AbortSignal.abort(new ConnectError('late', Code.DeadlineExceeded)))?.code).toBe(
      Code.DeadlineExceeded,
    );
  });
});
