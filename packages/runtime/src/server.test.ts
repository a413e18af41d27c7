import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { cleanv1, healthv1 } from '@llmtwin/contracts';
import { grpcHealthClient } from './grpc-client.fixture.js';
import { refusedStreamRetry } from './refused-stream-retry.js';
import { inProcessTransport } from './server.js';
import { startTestServer, type TestServer } from './test-server.fixture.js';

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

/** GetCleanedDocument("slow") over a raw HTTP/2 session: the body read until the stream's `until` event. */
function slowCall(session: http2.ClientHttp2Session, until: 'end' | 'close'): Promise<string> {
  const stream = session.request({
    ':method': 'POST',
    ':path': '/llmtwin.clean.v1.CleanService/GetCleanedDocument',
    'content-type': 'application/json',
  });
  stream.end(JSON.stringify({ documentId: 'slow' }));
  stream.on('error', () => undefined);
  let body = '';
  stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
  return new Promise((resolve) => stream.once(until, () => resolve(body)));
}

function address(): string {
  return `127.0.0.1:${server.listening.port}`;
}

describe('one port, every protocol', () => {
  it('answers a @grpc/grpc-js health client over h2c', async () => {
    const client = grpcHealthClient(address());
    try {
      await expect(client.check('')).resolves.toEqual({ status: 'SERVING' });
      await expect(client.check('llmtwin.clean.v1.CleanService')).resolves.toEqual({ status: 'SERVING' });
      await expect(client.check('no.such.Service')).rejects.toMatchObject({ code: 5 });
    } finally {
      client.close();
    }
  });

  it('answers Connect JSON over HTTP/1.1 (what curl and browsers send)', async () => {
    const res = await fetch(`${server.listening.url}/grpc.health.v1.Health/Check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'SERVING' });
  });

  it('reads a large HTTP/1.1 body intact after sniffing the protocol', async () => {
    const text = 'x'.repeat(1024 * 1024);
    const res = await fetch(`${server.listening.url}/llmtwin.clean.v1.CleanService/CleanText`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ raw: Buffer.from(`  ${text}  `).toString('base64') }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text: string };
    expect(body.text.length).toBe(text.length);
  });

  it('answers Connect over HTTP/2', async () => {
    const client = createClient(
      cleanv1.CleanService,
      createConnectTransport({ baseUrl: server.listening.url, httpVersion: '2' }),
    );
    const res = await client.cleanText({ raw: new TextEncoder().encode(' hello ') });
    expect(res.text).toBe('hello');
  });

  it('answers gRPC through a Connect gRPC transport', async () => {
    const client = createClient(cleanv1.CleanService, createGrpcTransport({ baseUrl: server.listening.url }));
    expect((await client.cleanText({ raw: new TextEncoder().encode('grpc') })).text).toBe('grpc');
  });

  it('answers gRPC-Web over HTTP/1.1', async () => {
    const client = createClient(
      healthv1.Health,
      createGrpcWebTransport({ baseUrl: server.listening.url, httpVersion: '1.1' }),
    );
    const res = await client.check({ service: '' });
    expect(res.status).toBe(healthv1.HealthCheckResponse_ServingStatus.SERVING);
  });

  it('serves the same routes in-process', async () => {
    const client = createClient(cleanv1.CleanService, inProcessTransport(server.built.routes));
    expect((await client.cleanText({ raw: new TextEncoder().encode('inproc') })).text).toBe('inproc');
    await expect(client.getCleanedDocument({ documentId: 'd1' })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });
});

describe('errors on the wire', () => {
  it('sends domain errors with their code and message', async () => {
    const client = createClient(cleanv1.CleanService, createGrpcTransport({ baseUrl: server.listening.url }));
    const err = await client.getCleanedDocument({ documentId: 'd42' }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.NotFound);
    expect(err?.rawMessage).toBe('document "d42" not found');
  });

  it('hides unexpected errors behind Internal', async () => {
    const res = await fetch(`${server.listening.url}/llmtwin.clean.v1.CleanService/GetCleanedDocument`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ documentId: 'boom' }),
    });
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ code: 'internal', message: 'internal error' });
    expect(text).not.toContain('hunter2');
  });
});

describe('graceful close', () => {
  it('lets an in-flight HTTP/2 call finish, then refuses new connections', async () => {
    const client = createClient(
      cleanv1.CleanService,
      createConnectTransport({ baseUrl: server.listening.url, httpVersion: '2' }),
    );
    const inflight = client.getCleanedDocument({ documentId: 'slow' });
    await server.slow.entered;
    const closed = server.listening.close(10_000);
    // The call is still held by the handler; closing must wait for it rather than cut it.
    server.slow.release();
    const res = await inflight;
    expect(res.document?.title).toBe('slow but done');
    await closed;
    await expect(
      fetch(`${server.listening.url}/grpc.health.v1.Health/Check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
    ).rejects.toThrow();
  });

  it('lets an in-flight HTTP/1.1 call finish', async () => {
    const inflight = fetch(`${server.listening.url}/llmtwin.clean.v1.CleanService/GetCleanedDocument`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ documentId: 'slow' }),
    });
    await server.slow.entered;
    const closed = server.listening.close(10_000);
    server.slow.release();
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ document: { title: 'slow but done' } });
    await closed;
  });

  it('cuts calls still running when the timeout expires', async () => {
    const session = http2.connect(server.listening.url);
    session.on('error', () => undefined);
    const call = slowCall(session, 'close');
    await server.slow.entered;
    await server.listening.close(50);
    expect(await call).not.toContain('slow but done');
    session.destroy();
  });
});

describe('maximum connection age', () => {
  let aged: TestServer;
  beforeEach(async () => {
    aged = await startTestServer({ maxConnectionAgeMs: 150 });
  });
  afterEach(async () => {
    await aged.close();
  });

  it('sends an HTTP/2 client a GOAWAY at its age, and lets the call in flight finish', async () => {
    const session = http2.connect(aged.listening.url);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    session.on('error', () => undefined);
    const call = slowCall(session, 'end');
    await aged.slow.entered;
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    // The call that was running when the connection aged out is answered in full.
    aged.slow.release();
    expect(JSON.parse(await call)).toEqual({ document: { title: 'slow but done' } });
    await closed;
  });

  it('moves a gRPC client to new connections without failing a call', async () => {
    const sessions = new Set<unknown>();
    const client = createClient(
      cleanv1.CleanService,
      createGrpcTransport({
        baseUrl: aged.listening.url,
        interceptors: [refusedStreamRetry()],
        // Counts the client's connections: the transport opens one per session it needs.
        nodeOptions: {
          createConnection: (url: URL) => {
            const socket = net.connect(Number(url.port), url.hostname);
            sessions.add(socket);
            return socket;
          },
        },
      }),
    );
    // Back to back until the client is on its third connection: every call must succeed across the GOAWAYs.
    const deadline = Date.now() + 20_000;
    let calls = 0;
    while (sessions.size < 3 && Date.now() < deadline) {
      const res = await client.cleanText({ raw: new TextEncoder().encode(` call ${calls} `) });
      expect(res.text).toBe(`call ${calls}`);
      calls++;
    }
    expect(sessions.size).toBeGreaterThanOrEqual(3);
    expect(calls).toBeGreaterThan(sessions.size);
  });

  it('closes an HTTP/1.1 keep-alive connection after its first response past the age', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = () =>
      new Promise<{ connection: string | undefined; port: number | undefined }>((resolve, reject) => {
        const req = http.request(
          `${aged.listening.url}/grpc.health.v1.Health/Check`,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            const port = res.socket.localPort;
            res.resume();
            res.once('end', () => resolve({ connection: res.headers.connection, port }));
          },
        );
        req.once('error', reject);
        req.end('{}');
      });
    try {
      const first = await post();
      expect(first.connection).toBe('keep-alive');
      const again = await post();
      expect(again.port).toBe(first.port);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const aged1 = await post();
      expect(aged1.connection).toBe('close');
      expect(aged1.port).toBe(first.port);
      // The next request needs a new connection.
      const next = await post();
      expect(next.port).not.toBe(first.port);
    } finally {
      agent.destroy();
    }
  });
});
