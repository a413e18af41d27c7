// The console's static file route over a real HTTP server: the page and hashed assets with their headers, gzip
// when asked for, HEAD, the API's paths passed on, and a clear 503 when the console has not been built.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { consoleRoutes } from './console.routes.js';

const servers: http.Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function serve(dir: string): Promise<string> {
  const route = consoleRoutes({ dir })((_req, res) => {
    (res as http.ServerResponse).writeHead(418).end('api');
  });
  const server = http.createServer((req, res) => route(req, res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function built(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'console-dist-'));
  dirs.push(dir);
  await mkdir(path.join(dir, 'assets'));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><script src="/assets/app-ABC.js"></script>');
  await writeFile(
    path.join(dir, 'assets', 'app-ABC.js'),
    `console.log(${JSON.stringify('x'.repeat(5000))});`,
  );
  return dir;
}

describe('console route', () => {
  it('serves the page uncached with a content security policy, and assets cached for good', async () => {
    const url = await serve(await built());
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'.*connect-src 'self'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await page.text()).toContain('/assets/app-ABC.js');
    const asset = await fetch(`${url}/assets/app-ABC.js`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toContain('xxxx');
  });

  it('sends gzip to clients that accept it, and no body for HEAD', async () => {
    const url = await serve(await built());
    const res = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`${url}/assets/app-ABC.js`, { headers: { 'accept-encoding': 'gzip' } }, resolve),
    );
    expect(res.headers['content-encoding']).toBe('gzip');
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    expect(body.length).toBeLessThan(200);
    expect(gunzipSync(body).toString()).toContain('x'.repeat(5000));
    const head = await fetch(`${url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('passes every other path and method on to the API, and answers 404 for an unknown asset', async () => {
    const url = await serve(await built());
    expect(
      (await fetch(`${url}/llmtwin.gateway.v1.StatusService/GetStatus`, { method: 'POST' })).status,
    ).toBe(418);
    expect((await fetch(`${url}/`, { method: 'POST' })).status).toBe(418);
    expect((await fetch(`${url}/v1/models`)).status).toBe(418);
    const missing = await fetch(`${url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('/assets/nope.js');
  });

  it('answers 503 saying how to build it when the console is not built', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'console-none-'));
    dirs.push(dir);
    const url = await serve(dir);
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run console:build');
  });
});
