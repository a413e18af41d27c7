import * as http2 from 'node:http2';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { cleanv1, healthv1 } from '@llmtwin/contracts';
import { grpcHealthClient } from './grpc-client.fixture.js';
import { inProcessTransport } from './server.js';
import { startTestServer, type TestServer } from './test-server.fixture.js';

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

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
    const stream = session.request({
      ':method': 'POST',
      ':path': '/llmtwin.clean.v1.CleanService/GetCleanedDocument',
      'content-type': 'application/json',
    });
    stream.end(JSON.stringify({ documentId: 'slow' }));
    let body = '';
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    const ended = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    stream.on('error', () => undefined);
    session.on('error', () => undefined);
    await server.slow.entered;
    await server.listening.close(50);
    await ended;
    expect(body).not.toContain('slow but done');
    session.destroy();
  });
});
