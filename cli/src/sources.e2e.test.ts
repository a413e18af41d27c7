// `llmtwin source add` and `llmtwin source list` end to end: the real command, spawned, against the ingest
// service hosted on port 0 (embedded warehouse and bus), with a Substack publication served on loopback (a
// real saved Substack page as its home, the substack-api samples as its archive and posts).
// What it shows: adding a Medium profile says at once that its feed is partial and how to import the rest;
// `source list --json` gives each source's next run, last success, last error, documents and coverage, and
// the plain listing shows the same; a bad cron expression is refused with what to fix.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ingestv1 } from '@llmtwin/contracts';
import { hostModule, type HostedService } from '@llmtwin/host';
import { createIngestModule } from '@llmtwin/ingest';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayClient } from './client.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repoRoot, 'cli/bin/llmtwin.js');
const fixtures = path.join(repoRoot, 'services/ingest/test/fixtures');
const home = readFileSync(
  path.join(fixtures, 'substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html'),
);
const posts = (
  JSON.parse(
    readFileSync(
      path.join(
        fixtures,
        'substack-api/jakub-k-slys-substack-api/samples/api/v1/profile/posts?profile_user_id=27968736&limit=50',
      ),
      'utf8',
    ),
  ) as { posts: { slug: string }[] }
).posts;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let warehouse: Warehouse;
let bus: EventBus;
let hosted: HostedService;
let publication: http.Server;
let publicationUrl: string;
/** Set to make the archive answer 404 (the publication moved or went private). */
let archiveGone = false;

function llmtwin(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args, '--url', hosted.url, '--api-key', 'unused-by-ingest'],
      { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-cli-sources-'));
  warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
  bus = createEventBus(`log:${path.join(dir, 'bus.db')}`);
  publication = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, type: string, body: string | Buffer) =>
      res.writeHead(status, { 'content-type': type }).end(body);
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', home);
    if (url.pathname === '/api/v1/archive') {
      if (archiveGone) return send(404, 'text/plain', 'Not Found');
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 12);
      return send(200, 'application/json', JSON.stringify(posts.slice(offset, offset + limit)));
    }
    const post = posts.find((p) => url.pathname === `/api/v1/posts/${p.slug}`);
    if (post) return send(200, 'application/json', JSON.stringify(post));
    send(404, 'text/plain', 'Not Found');
  });
  await new Promise<void>((resolve) => publication.listen(0, '127.0.0.1', resolve));
  publicationUrl = `http://127.0.0.1:${(publication.address() as AddressInfo).port}/`;
  const logger = createLogger('ingest', { level: 'silent' });
  const module = await createIngestModule({
    warehouse,
    eventBus: bus,
    logger,
    dataDir: dir,
    crawl: { allow: ['127.0.0.1/32'] },
    // No scheduled crawl during the test: the sources' next runs are only shown.
    schedulerTickMs: 3600_000,
  });
  hosted = await hostModule(module, { port: 0, host: '127.0.0.1', logger, shutdownTimeoutMs: 1000 });
  await gatewayClient(ingestv1.IngestService, hosted.url).createAuthor({ id: 'ada', displayName: 'Ada' });
}, 60_000);

afterAll(async () => {
  await hosted?.stop();
  publication?.closeAllConnections();
  await new Promise((resolve) => publication?.close(resolve));
  await bus?.close();
  await warehouse?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('llmtwin source', () => {
  it('says when a Medium profile can only be crawled in part, and how to import the rest', async () => {
    const run = await llmtwin([
      'source',
      'add',
      '--author',
      'ada',
      'https://medium.com/@ada',
      '--cron',
      '0 3 * * *',
      '--tz',
      'Europe/Berlin',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/source src_\w+ added: https:\/\/medium\.com\/@ada/);
    expect(run.stdout).toMatch(/cron "0 3 \* \* \*" Europe\/Berlin, next \d{4}-\d\d-\d\dT0[12]:00:00\.000Z/);
    expect(run.stdout).toContain("coverage: partial: Medium's feed lists only the latest posts");
    expect(run.stdout).toContain('llmtwin import --author ada medium-export.zip');
  });

  it('refuses a cron expression it cannot read, saying what to write', async () => {
    const run = await llmtwin([
      'source',
      'add',
      '--author',
      'ada',
      'https://ada.substack.com',
      '--cron',
      '0 25 * * *',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/"0 25 \* \* \*" is not a cron expression.*e\.g\. "0 3 \* \* \*"/);
  });

  it('lists each source with next run, last success, last error, documents and coverage', async () => {
    const added = await llmtwin([
      'source',
      'add',
      '--author',
      'ada',
      publicationUrl,
      '--cron',
      '30 4 * * *',
      '--json',
    ]);
    const id = (JSON.parse(added.stdout) as { source: { id: string } }).source.id;
    const client = gatewayClient(ingestv1.IngestService, hosted.url);
    const crawl = async (full: boolean) => {
      const { job } = await client.crawlNow({ target: { case: 'sourceId', value: id }, full });
      return poll(
        async () => {
          const current = (await client.getCrawlJob({ id: job!.id })).job!;
          return current.endTime ? current : undefined;
        },
        { what: 'the crawl to finish', timeoutMs: 30_000, intervalMs: 100 },
      );
    };
    expect((await crawl(false)).documentsCreated).toBe(BigInt(posts.length));
    archiveGone = true;
    expect((await crawl(true)).state).toBe(ingestv1.CrawlJobState.FAILED);

    const run = await llmtwin(['source', 'list', '--author', 'ada', '--json']);
    expect(run.code).toBe(0);
    const { sources } = JSON.parse(run.stdout) as { sources: Record<string, unknown>[] };
    const publicationSource = sources.find((s) => s['id'] === id)!;
    expect(publicationSource).toMatchObject({
      url: publicationUrl,
      cron: '30 4 * * *',
      documentCount: String(posts.length),
      consecutiveFailures: '1',
      coverage: { partial: true, note: expect.stringContaining('Substack archive') },
    });
    expect(publicationSource['lastError']).toMatch(/Substack archive .* could not be read: HTTP 404/);
    for (const field of ['nextCrawlTime', 'lastSuccessTime', 'lastFailureTime', 'failingSince'])
      expect(Date.parse(String(publicationSource[field]))).not.toBeNaN();
    expect(Date.parse(String(publicationSource['nextCrawlTime']))).toBeGreaterThan(Date.now());
    const medium = sources.find((s) => s['url'] === 'https://medium.com/@ada')!;
    // Proto JSON leaves zero counts out.
    expect(medium['documentCount'] ?? '0').toBe('0');
    expect(medium).toMatchObject({
      coverage: { partial: true, importHint: expect.stringContaining('llmtwin import') },
    });
    expect(medium['lastSuccessTime']).toBeUndefined();
    expect(Date.parse(String(medium['nextCrawlTime']))).toBeGreaterThan(Date.now());

    const plain = await llmtwin(['source', 'list', '--author', 'ada']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain(`documents     ${posts.length}`);
    expect(plain.stdout).toMatch(/failing since \S+ \(1 in a row\): the Substack archive .* HTTP 404/);
    expect(plain.stdout).toMatch(/last success {2}\d{4}-/);
  });
});
