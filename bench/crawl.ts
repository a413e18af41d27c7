// Crawl throughput: N saved pages served from a local fixture server, fetched through SafeFetcher (the
// allow-list admits the loopback server) and parsed with jsdom. Not a test: it prints and optionally
// writes numbers. Usage: node --import tsx bench/crawl.ts [--pages N] [--concurrency C] [--out file.json]
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { extractPage } from '../services/ingest/src/adapters/extract/index.js';
import { SafeFetcher } from '../services/ingest/src/adapters/fetch/index.js';
import { FixtureServer } from '../services/ingest/test/fixture-server.js';

const { values, positionals } = parseArgs({
  options: {
    pages: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    fixtures: { type: 'string', default: '' },
    out: { type: 'string' },
  },
  allowPositionals: true,
});
// `npm run bench -- crawl <data folder>`: the folder holding the saved pages (default: the committed copies).
const fixturesDir = positionals[0] ?? (values.fixtures || 'services/ingest/test/fixtures');
const pages = Number(values.pages);
const concurrency = Number(values.concurrency);

const saved = [
  { mount: 'medium', file: 'medium/postlight-parser/fixtures/medium.com.html' },
  { mount: 'medium', file: 'medium/mozilla-readability/test/test-pages/medium-1/source.html' },
  { mount: 'substack', file: 'substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html' },
  { mount: 'substack', file: 'substack/kepano-defuddle/tests/fixtures/general--substack-app.html' },
  { mount: 'linkedin', file: 'linkedin/postlight-parser/fixtures/www.linkedin.com.html' },
];

const server = await FixtureServer.start();
const bodies = await Promise.all(saved.map(async (page) => readFile(`${fixturesDir}/${page.file}`)));
const urls: string[] = [];
for (let i = 0; i < pages; i += 1) {
  const page = saved[i % saved.length]!;
  const body = bodies[i % saved.length]!;
  if (page.mount === 'medium')
    urls.push(server.mediumArticle('bench', `post-${i}-${i.toString(16)}`, { body }));
  else if (page.mount === 'substack') urls.push(server.substackPost(`post-${i}`, { body }));
  else urls.push(server.linkedinPulse(`post-${i}`, { body }));
}
server.robots('User-agent: *\nAllow: /\n');

// Per-host concurrency matches the worker count: everything lives on one host here.
const fetcher = new SafeFetcher({
  policy: { allow: ['127.0.0.1/32'] },
  perHostConcurrency: concurrency,
  retry: { limit: 0 },
});
let bytes = 0;
let fetchMs = 0;
let parseMs = 0;
let titled = 0;
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < urls.length) {
      const url = urls[next++]!;
      const t0 = performance.now();
      const result = await fetcher.fetch(url);
      const t1 = performance.now();
      // The crawlers' own parsing: platform detection, metadata and the stored document.
      const doc = extractPage(result.body, result.url, { contentType: result.contentType });
      if (doc.title.trim() !== '') titled += 1;
      const t2 = performance.now();
      bytes += result.body.byteLength;
      fetchMs += t1 - t0;
      parseMs += t2 - t1;
    }
  }),
);
const elapsedS = (performance.now() - started) / 1000;
fetcher.close();
await server.close();

const report = {
  benchmark: 'crawl',
  pages,
  concurrency,
  distinctSavedPages: saved.length,
  megabytes: +(bytes / 1e6).toFixed(2),
  elapsedSeconds: +elapsedS.toFixed(3),
  pagesPerSecond: +(pages / elapsedS).toFixed(1),
  meanFetchMs: +(fetchMs / pages).toFixed(2),
  meanParseMs: +(parseMs / pages).toFixed(2),
  pagesWithTitle: titled,
  node: process.version,
};
console.log(JSON.stringify(report, null, 2));
if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
