// The web console: static files built by gateway/console/build.mjs, served at `/` from the gateway's own
// origin, so the console calls exactly the public API (Connect and /v1/archives) with no CORS in between.
//
// What is served: GET/HEAD `/` and `/index.html` (the page, never cached, so a new build is picked up at
// once) and `/assets/<name>` (content-hashed names, cached for a year). Everything else goes on to `next`:
// the API owns every other path. The files are read once, on the first request, and kept in memory with
// their gzip form (the whole build is a few hundred KB). The page itself needs no key: it asks for one and
// keeps it in session storage; every call it makes carries the key like any other client.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { NodeHandler } from '@llmtwin/runtime';

/** Where `npm run console:build` writes the console. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/dist', import.meta.url));

interface StaticFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  cache: string;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

// The page loads only its own script and styles and talks only to its own origin.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function load(dir: string): Map<string, StaticFile> | undefined {
  if (!existsSync(path.join(dir, 'index.html'))) return undefined;
  const files = new Map<string, StaticFile>();
  const add = (urlPath: string, file: string, cache: string) => {
    const body = readFileSync(file);
    const type = types[path.extname(file)] ?? 'application/octet-stream';
    const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
    files.set(urlPath, { body, gzip: compressible ? gzipSync(body, { level: 9 }) : undefined, type, cache });
  };
  add('/', path.join(dir, 'index.html'), 'no-cache');
  add('/index.html', path.join(dir, 'index.html'), 'no-cache');
  const assets = path.join(dir, 'assets');
  if (existsSync(assets)) {
    for (const name of readdirSync(assets)) {
      add(`/assets/${name}`, path.join(assets, name), 'public, max-age=31536000, immutable');
    }
  }
  return files;
}

export interface ConsoleRoutesOptions {
  /** The built console (default: gateway/console/dist). */
  dir?: string;
}

export function consoleRoutes(options: ConsoleRoutesOptions = {}): (next: NodeHandler) => NodeHandler {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR;
  let files: Map<string, StaticFile> | undefined;
  return (next) => (req, res) => {
    const method = req.method ?? 'GET';
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    const ours = pathname === '/' || pathname === '/index.html' || pathname.startsWith('/assets/');
    if (!ours || (method !== 'GET' && method !== 'HEAD')) return next(req, res);
    const out = res as {
      writeHead(status: number, headers: Record<string, string | number>): unknown;
      end(body?: Buffer | string): unknown;
    };
    files ??= load(dir);
    if (files === undefined) {
      const message =
        `The web console is not built (no ${path.join(dir, 'index.html')}): run \`npm run console:build\`, ` +
        'which `npm start` and `npm test` do first.\n';
      out.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      out.end(message);
      return;
    }
    const file = files.get(pathname);
    if (file === undefined) {
      out.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      out.end(`no such console file: ${pathname}\n`);
      return;
    }
    const gzip = file.gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? file.gzip! : file.body;
    out.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': file.type,
      'content-length': body.length,
      'cache-control': file.cache,
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    out.end(method === 'HEAD' ? undefined : body);
  };
}
