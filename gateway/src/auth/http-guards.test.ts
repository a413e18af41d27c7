// The plain HTTP helpers: the body bound (413 before buffering everything), bad JSON (400), and CORS that
// adds nothing unless origins are configured.
import { afterEach, describe, expect, it } from '@jest/globals';
import { Code, ConnectError } from '@connectrpc/connect';
import { listen, type ListeningServer, type NodeHandler } from '@llmtwin/runtime';
import { corsMiddleware } from './cors.js';
import { httpErrorOf, readJsonBody } from './http-body.js';

let server: ListeningServer | undefined;
afterEach(async () => {
  await server?.close(0);
  server = undefined;
});

async function serve(handler: NodeHandler): Promise<string> {
  server = await listen(handler, { port: 0, host: '127.0.0.1' });
  return server.url;
}

const echo: NodeHandler = (req, res) => {
  readJsonBody(req, 100).then(
    (body) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    },
    (err: unknown) => {
      const e = httpErrorOf(err);
      res.writeHead(e.status);
      res.end(e.message);
    },
  );
};

describe('readJsonBody', () => {
  it('parses a body within the limit and refuses a larger one with 413', async () => {
    const url = await serve(echo);
    const ok = await fetch(url, { method: 'POST', body: JSON.stringify({ a: 1 }) });
    expect(await ok.json()).toEqual({ a: 1 });
    const large = await fetch(url, { method: 'POST', body: JSON.stringify({ a: 'x'.repeat(200) }) });
    expect(large.status).toBe(413);
    // Without a content-length (chunked), the bound applies while reading.
    const chunked = await fetch(url, {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode('"' + 'y'.repeat(50) + '"'));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await fetch(url, { method: 'POST', body: '{nope' })).status).toBe(400);
  });
});

describe('httpErrorOf', () => {
  it('maps Connect codes to HTTP statuses, keeps retry-after, hides unexpected errors', () => {
    expect(httpErrorOf(new ConnectError('no key', Code.Unauthenticated)).status).toBe(401);
    const limited = httpErrorOf(
      new ConnectError('slow down', Code.ResourceExhausted, { 'retry-after': '7' }),
    );
    expect(limited).toMatchObject({ status: 429, headers: { 'retry-after': '7' } });
    expect(httpErrorOf(new Error('mongodb://user:secret@db')).message).toBe('internal error');
  });
});

describe('corsMiddleware', () => {
  const ok: NodeHandler = (_req, res) => {
    res.writeHead(200);
    res.end('ok');
  };

  it('adds no CORS headers when no origin is configured', async () => {
    const url = await serve(corsMiddleware([])(ok));
    const res = await fetch(url, { headers: { origin: 'https://app.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("answers any origin with '*'", async () => {
    const url = await serve(corsMiddleware(['*'])(ok));
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
  });
});
