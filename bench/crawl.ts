// Crawl throughput on loopback servers of real saved pages. Not a test: it prints and optionally writes
// numbers. Two measurements:
// - fetchParse: N saved Medium, Substack and LinkedIn pages fetched through the SafeFetcher (the allow-list
//   admits the loopback server) and parsed with the crawlers' own extractPage, by C workers;
// - endToEnd: a Substack publication (its home page a saved Substack page; its archive and post JSON the
//   substack-api samples, repeated to --posts posts) crawled as a source by the service's own pieces: the
//   SafeFetcher (robots.txt), the SourceCrawler, a crawl job, and the raw-document store writing each post
//   to an embedded (SQLite) warehouse with its event on the embedded log bus. Run twice: politeness on (the
//   defaults: robots.txt obeyed, at most 2 requests to one host at once) and off (no robots.txt, C at once),
//   which is the ceiling. --latency-ms delays every answer, as a distant site would.
// Usage: npm run bench -- crawl [fixtures] [--pages N] [--posts N] [--concurrency C] [--latency-ms L]
//        [--out file.json]
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SourceCrawler } from '../services/ingest/src/adapters/crawlers/source-crawler.js';
import { extractPage } from '../services/ingest/src/adapters/extract/index.js';
import { SafeFetcher } from '../services/ingest/src/adapters/fetch/index.js';
import { AuthorDirectory } from '../services/ingest/src/domain/authors.js';
import { CrawlJobs } from '../services/ingest/src/domain/crawl-jobs.js';
import { RawDocumentStore } from '../services/ingest/src/domain/raw-documents.js';
import { FixtureServer, type FixtureRoute } from '../services/ingest/test/fixture-server.js';

const { values, positionals } = parseArgs({
  options: {
    pages: { type: 'string', default: '200' },
    posts: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    'latency-ms': { type: 'string', default: '0' },
    fixtures: { type: 'string', default: '' },
    out: { type: 'string' },
  },
  allowPositionals: true,
});
// `npm run bench -- crawl <data folder>`: the folder holding the saved pages (default: the committed copies).
const fixturesDir = positionals[0] ?? (values.fixtures || 'services/ingest/test/fixtures');
const pages = Number(values.pages);
const posts = Number(values.posts);
const concurrency = Number(values.concurrency);
const latencyMs = Number(values['latency-ms']);
for (const [name, n] of Object.entries({ pages, posts, concurrency, latencyMs })) {
  if (!Number.isInteger(n) || n < 0 || (name === 'concurrency' && n < 1)) {
    console.error(`--${name} must be a whole number${name === 'concurrency' ? ' of at least 1' : ''}`);
    process.exit(2);
  }
}

const slow = (route: FixtureRoute) => async () => {
  if (latencyMs > 0) await sleep(latencyMs);
  return route;
};

async function fetchParse() {
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
    const route = slow({ body, contentType: 'text/html; charset=utf-8' });
    if (page.mount === 'medium') urls.push(server.route(`/@bench/post-${i}-${i.toString(16)}`, route));
    else if (page.mount === 'substack') urls.push(server.route(`/p/post-${i}`, route));
    else urls.push(server.route(`/pulse/post-${i}`, route));
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
  return {
    pages,
    distinctSavedPages: saved.length,
    megabytes: +(bytes / 1e6).toFixed(2),
    elapsedSeconds: +elapsedS.toFixed(3),
    pagesPerSecond: +(pages / elapsedS).toFixed(1),
    meanFetchMs: +(fetchMs / pages).toFixed(2),
    meanParseMs: +(parseMs / pages).toFixed(2),
    pagesWithTitle: titled,
  };
}

type Sample = { slug: string; id: number; canonical_url: string; post_date: string; [key: string]: unknown };

async function endToEnd(polite: boolean) {
  const samples = (
    JSON.parse(
      await readFile(
        `${fixturesDir}/substack-api/jakub-k-slys-substack-api/samples/api/v1/profile/posts?profile_user_id=27968736&limit=50`,
        'utf8',
      ),
    ) as { posts: Sample[] }
  ).posts;
  // Newest first, as Substack's archive sorts them: one post an hour back from the newest sample.
  const newest = Date.parse(samples[0]!.post_date);
  const publication: Sample[] = Array.from({ length: posts }, (_, i) => {
    const sample = samples[i % samples.length]!;
    const slug = `${sample.slug}-${i}`;
    return {
      ...sample,
      id: 1_000_000_000 + i,
      slug,
      canonical_url: `https://bench.substack.com/p/${slug}`,
      post_date: new Date(newest - i * 3600_000).toISOString(),
    };
  });
  const server = await FixtureServer.start();
  server.route(
    '/',
    slow({
      body: await readFile(
        `${fixturesDir}/substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html`,
      ),
      contentType: 'text/html; charset=utf-8',
    }),
  );
  server.route('/api/v1/archive', async (url) => {
    if (latencyMs > 0) await sleep(latencyMs);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const limit = Math.min(50, Number(url.searchParams.get('limit') ?? 12));
    return {
      contentType: 'application/json',
      body: JSON.stringify(publication.slice(offset, offset + limit)),
    };
  });
  for (const post of publication)
    server.route(
      `/api/v1/posts/${post.slug}`,
      slow({ contentType: 'application/json', body: JSON.stringify(post) }),
    );
  server.robots('User-agent: *\nAllow: /\n');

  const dir = await mkdtemp(path.join(tmpdir(), 'bench-crawl-'));
  const warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
  const bus = createEventBus(`log:${path.join(dir, 'e.db')}`);
  const logger = createLogger('bench', { level: 'silent' });
  const fetcher = new SafeFetcher({
    policy: { allow: ['127.0.0.1/32'] },
    respectRobots: polite,
    ...(polite ? {} : { perHostConcurrency: concurrency }),
    retry: { limit: 0 },
  });
  const crawler = new SourceCrawler({
    fetcher,
    workDir: path.join(dir, 'git'),
    postConcurrency: concurrency,
  });
  const authors = new AuthorDirectory(warehouse);
  await authors.init();
  await authors.createAuthor({ id: 'bench', displayName: 'Bench', aliases: [] });
  const source = await authors.addSource({
    authorId: 'bench',
    url: `${server.url}/`,
    kind: undefined,
    scheduleIntervalSeconds: 0,
    gitRef: '',
  });
  const store = new RawDocumentStore(warehouse, bus);
  await store.init();
  const jobs = new CrawlJobs(warehouse, store, crawler, logger);
  await jobs.init();

  const requestsBefore = server.requests.length;
  const started = performance.now();
  const job = await jobs.submit({
    authorId: 'bench',
    sourceId: source._id,
    kind: source.kind,
    url: source.url,
    gitRef: '',
    mode: 'full',
  });
  await jobs.idle();
  const elapsedS = (performance.now() - started) / 1000;
  const done = await jobs.get(job._id);
  const requests = server.requests.length - requestsBefore;
  // Every write's event was published (acknowledged by the bus): no outbox marker is left.
  const unpublished = await warehouse.collection('raw_documents').count({ 'outbox.pending': true });
  fetcher.close();
  await server.close();
  await bus.close();
  await warehouse.close();
  await rm(dir, { recursive: true, force: true });
  if (unpublished > 0) throw new Error(`${unpublished} documents' events were not published`);
  if (done.state !== 'succeeded' || done.created !== posts)
    throw new Error(
      `the crawl ended ${done.state} with ${done.created}/${posts} posts: ${JSON.stringify(done.errors[0])}`,
    );
  return {
    politeness: polite
      ? { robotsTxt: true, perHostConcurrency: 2 }
      : { robotsTxt: false, perHostConcurrency: concurrency },
    postsStored: done.created,
    httpRequests: requests,
    elapsedSeconds: +elapsedS.toFixed(3),
    pagesPerSecond: +(posts / elapsedS).toFixed(1),
  };
}

const report = {
  benchmark: 'crawl',
  concurrency,
  latencyMs,
  fetchParse: await fetchParse(),
  endToEnd: {
    posts,
    polite: await endToEnd(true),
    ceiling: await endToEnd(false),
  },
  node: process.version,
};
console.log(JSON.stringify(report, null, 2));
if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
