// Portkey's open-source gateway as the comparison target: found in node_modules, started headless in its own
// process, with the fetch shim its streamed answers need under newer @hono/node-server.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Child, freePort, startChild, waitForHttp } from './child-processes.js';

const require = createRequire(import.meta.url);

function packageVersion(packageJson: string): string {
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

/** The installed package's folder, found from its entry file (its exports may hide package.json). */
function packageDir(name: string, from: string): string {
  let dir = path.dirname(createRequire(from).resolve(name));
  while (!dir.endsWith(path.join('node_modules', name))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of ${name}`);
    dir = up;
  }
  return dir;
}

const versionAbove = (version: string, than: [number, number, number]) => {
  const v = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((v[i] ?? 0) !== than[i]) return (v[i] ?? 0) > than[i]!;
  return false;
};

/**
 * @hono/node-server above 1.14.2 keeps a fetch() response's immutable headers on the Response Portkey
 * builds from it, and Portkey then fails every streamed answer with `TypeError: immutable` while adding its
 * x-portkey-* headers (https://github.com/Portkey-AI/gateway/issues/1389). Until the install pins 1.14.2,
 * Portkey's process gets a fetch that returns responses with ordinary, mutable headers.
 */
const MUTABLE_FETCH_SHIM =
  'data:text/javascript,' +
  encodeURIComponent(
    'const f=globalThis.fetch,R=globalThis.Response;' +
      'globalThis.fetch=async(...a)=>{const r=await f(...a);return new R(r.body,r)};',
  );

export interface PortkeyInfo {
  version: string;
  honoNodeServer: string;
  fetchShim: boolean;
}

export async function startPortkey(nodeArgs: string[]): Promise<Child & { url: string; info: PortkeyInfo }> {
  const dir = path.dirname(require.resolve('@portkey-ai/gateway/package.json'));
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    version: string;
    bin: string;
  };
  const bin = path.join(dir, pkg.bin);
  const honoNodeServer = packageVersion(path.join(packageDir('@hono/node-server', bin), 'package.json'));
  const fetchShim = versionAbove(honoNodeServer, [1, 14, 2]);
  const port = await freePort();
  // --headless and production: no log viewer, no console UI; the gateway alone.
  const child = startChild(
    'portkey',
    [
      ...nodeArgs,
      ...(fetchShim ? ['--import', MUTABLE_FETCH_SHIM] : []),
      bin,
      `--port=${port}`,
      '--headless',
    ],
    { ...process.env, NODE_ENV: 'production' },
    dir,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/`, child);
  return { ...child, url, info: { version: pkg.version, honoNodeServer, fetchShim } };
}
