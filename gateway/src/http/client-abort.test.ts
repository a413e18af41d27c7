// An OpenAI-API client that closes a streamed answer half way is no error anywhere: not at the gateway, not at
// the inference router behind it. Real gateway routes on a loopback port, a real HTTP client (fetch) that
// aborts after the first chunks, and a stand-in InferenceService (streams words until its caller leaves, then
// rethrows the signal's reason, as the router's answer loop does) served through buildServer, so that the
// runtime's error and tracing interceptors classify the end. The upstream is reached both ways the gateway
// reaches the router: over gRPC on its own port (distributed) and in process (the embedded twin).
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { inferencev1 } from '@llmtwin/contracts';
import { InProcessDirectory, NetworkDirectory, type ServiceDirectory } from '@llmtwin/host';
import {
  buildServer,
  HealthService,
  listen,
  startTelemetry,
  type ListeningServer,
  type Telemetry,
} from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import type { GatewaySecurity, Principal } from '../auth/principal.js';
import { openaiRoutes } from './openai.routes.js';

const RPC = 'llmtwin.inference.v1.InferenceService/GenerateStream';

type Line = Record<string, unknown> & { level: number };
function capturingLogger(lines: Line[]) {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
        done();
      },
    }),
  );
}
const routerLines: Line[] = [];
const gatewayLines: Line[] = [];

/** Every key is the author's: the test is about streams, not keys. */
class OneKeySecurity implements GatewaySecurity {
  async authenticate(): Promise<Principal> {
    return { keyId: 'key_author', authorId: 'alice', admin: false };
  }
}

/** Set by the test of a real fault: the stand-in then breaks after its first word. */
let breakMidStream = false;

const inferenceImpl: Partial<ServiceImpl<typeof inferencev1.InferenceService>> = {
  async *generateStream(_req, ctx) {
    yield { event: { case: 'started', value: { generationId: 'gen_1', model: 'twin' } } };
    for (let i = 0; ; i++) {
      yield { event: { case: 'delta', value: `word${i} ` } };
      if (breakMidStream) throw new ConnectError('the model backend broke', Code.Internal);
      await new Promise((resolve) => setTimeout(resolve, 10));
      ctx.signal.throwIfAborted();
    }
  },
};

const spans = new InMemorySpanExporter();
let telemetry: Telemetry;
let upstream: ListeningServer;
const gateways: Record<string, ListeningServer> = {};

beforeAll(async () => {
  telemetry = startTelemetry({
    serviceName: 'client-abort-test',
    env: {},
    spanProcessors: [new SimpleSpanProcessor(spans)],
  });
  const built = buildServer({
    name: 'inference-router',
    services: [inferencev1.InferenceService],
    health: new HealthService(),
    logger: capturingLogger(routerLines),
    register: (router) => router.service(inferencev1.InferenceService, inferenceImpl),
  });
  upstream = await listen(built.handler, { port: 0, host: '127.0.0.1' });
  const inProcess = new InProcessDirectory();
  inProcess.add('inference-router', built.routes);
  const directories: Record<string, ServiceDirectory> = {
    distributed: new NetworkDirectory({ 'inference-router': upstream.url }),
    embedded: inProcess,
  };
  for (const [mode, directory] of Object.entries(directories)) {
    const handler = openaiRoutes({
      directory,
      security: new OneKeySecurity(),
      maxBodyBytes: 16 * 1024,
      logger: capturingLogger(gatewayLines),
    })((_req, res) => res.end());
    gateways[mode] = await listen(handler, { port: 0, host: '127.0.0.1' });
  }
});

afterAll(async () => {
  for (const gateway of Object.values(gateways)) await gateway.close(1000);
  await upstream?.close(1000);
  await telemetry?.shutdown();
});

beforeEach(() => {
  routerLines.length = 0;
  gatewayLines.length = 0;
  spans.reset();
});

describe('a client that closes a streamed chat completion half way', () => {
  it.each(['distributed', 'embedded'])(
    '(%s) is logged as cancelled at debug, and no span is an error',
    async (mode) => {
      const client = new AbortController();
      const res = await fetch(`${gateways[mode]!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer lt_any' },
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'What do twins say?' }] }),
        signal: client.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('word2')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before the client left: ${text}`);
        text += new TextDecoder().decode(value);
      }
      client.abort();

      const routerEnd = await poll(() => routerLines.find((l) => l['rpc'] === RPC), {
        what: "the router's log line of the stream",
        timeoutMs: 5_000,
        intervalMs: 10,
      });
      expect(routerEnd).toMatchObject({ level: 20, code: 'Canceled', msg: 'rpc cancelled' });
      const gatewayEnd = await poll(() => gatewayLines.find((l) => l['route'] === '/v1/chat/completions'), {
        what: "the gateway's log line of the request",
        timeoutMs: 5_000,
        intervalMs: 10,
      });
      expect(gatewayEnd).toMatchObject({ level: 20, code: 'cancelled' });
      expect([...routerLines, ...gatewayLines].filter((l) => l.level >= 40)).toEqual([]);

      const serverSpan = await poll(
        () => spans.getFinishedSpans().find((s) => s.name === RPC && s.kind === SpanKind.SERVER),
        { what: "the router's server span", timeoutMs: 5_000, intervalMs: 10 },
      );
      const httpSpan = await poll(
        () => spans.getFinishedSpans().find((s) => s.name === 'POST /v1/chat/completions'),
        { what: "the gateway's request span", timeoutMs: 5_000, intervalMs: 10 },
      );
      const clientSpan = await poll(
        () => spans.getFinishedSpans().find((s) => s.name === RPC && s.kind === SpanKind.CLIENT),
        { what: "the gateway's call to the router", timeoutMs: 5_000, intervalMs: 10 },
      );
      for (const span of [serverSpan, httpSpan, clientSpan]) {
        expect({ span: span.name, status: span.status.code }).not.toEqual({
          span: span.name,
          status: SpanStatusCode.ERROR,
        });
      }
      expect(serverSpan.attributes['error.type']).toBe('cancelled');
    },
  );

  it('a real upstream fault mid-stream is still an error', async () => {
    breakMidStream = true;
    try {
      const res = await fetch(`${gateways['distributed']!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer lt_any' },
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'q' }] }),
      });
      expect(await res.text()).toContain('"type":"server_error"');
      const routerEnd = await poll(() => routerLines.find((l) => l['rpc'] === RPC), {
        what: "the router's log line of the stream",
        timeoutMs: 5_000,
        intervalMs: 10,
      });
      expect(routerEnd).toMatchObject({ level: 50, code: 'Internal' });
    } finally {
      breakMidStream = false;
    }
  });
});
