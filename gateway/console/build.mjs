// Builds the web console into dist/: one bundled, minified script and one stylesheet with content-hashed
// names, and index.html pointing at them. The gateway serves dist/ at `/` (gateway/src/http/console.routes.ts).
//
//   node gateway/console/build.mjs [--out <dir>] [--dev]
//
// `npm start` and `npm test` run it first (about a second); `--dev` keeps the bundle unminified with a source map.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? path.resolve(args[outAt + 1]) : path.join(here, 'dist');
const dev = args.includes('--dev');

const started = Date.now();
await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'assets'), { recursive: true });
const result = await build({
  entryPoints: { app: path.join(here, 'src/main.tsx') },
  bundle: true,
  format: 'esm',
  target: ['chrome120', 'firefox120', 'safari17'],
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: path.join(out, 'assets'),
  metafile: true,
  legalComments: 'linked',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((f) => path.relative(path.join(out, 'assets'), f));
const script = outputs.find((f) => f.endsWith('.js'));
const styles = outputs.find((f) => f.endsWith('.css'));
if (!script || !styles) throw new Error(`the build made no script or no stylesheet: ${outputs.join(', ')}`);
const template = await readFile(path.join(here, 'src/index.html'), 'utf8');
const html = template.replace('%SCRIPT%', `/assets/${script}`).replace('%STYLES%', `/assets/${styles}`);
await writeFile(path.join(out, 'index.html'), html);

const sizes = {};
for (const f of ['index.html', `assets/${script}`, `assets/${styles}`]) {
  const body = await readFile(path.join(out, f));
  sizes[f] = { bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
}
await writeFile(
  path.join(out, 'build.json'),
  JSON.stringify({ builtAt: new Date().toISOString(), sizes }, null, 2),
);
const total = Object.values(sizes).reduce((n, s) => n + s.gzipBytes, 0);
console.log(
  `console built in ${Date.now() - started} ms → ${path.relative(process.cwd(), out) || out} ` +
    `(${(total / 1024).toFixed(1)} KiB gzipped: ${Object.entries(sizes)
      .map(([f, s]) => `${path.basename(f)} ${(s.gzipBytes / 1024).toFixed(1)}`)
      .join(', ')})`,
);
