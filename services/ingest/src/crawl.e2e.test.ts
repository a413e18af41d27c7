// The ingest module end to end over the embedded adapters: real saved Medium, Substack and LinkedIn pages
// served on loopback under each platform's URL layout, the Substack archive API from the substack-api
// samples, a git repository built here and an export zip, all driven through the IngestService RPCs.
// What it shows: every page lands with the right category, title and canonical URL and one event; a
// repeated crawl writes and emits nothing; an edit gives one version and one event; a removed page or repo
// file gives a tombstone event; authors never share documents.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { commonv1, ingesteventsv1, ingestv1, topics } from '@llmtwin/contracts';
import { decodeEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import type { ServiceModule } from '@llmtwin/host';
import { createLogger } from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FixtureServer, type SubstackArchiveEntry } from '../test/fixture-server.js';
import { committedFixtures, fixtureJson } from '../test/fixture-paths.js';
import { buildZip } from './adapters/import/zip-writer.fixture.js';
import { createIngestModule } from './module.js';

type Expected = Record<string, { url?: string; title?: string }>;
const postlightLinkedIn = fixtureJson<Expected>('linkedin/postlight-parser/expected.json');
const mercurySubstack = fixtureJson<Expected>('substack/jocmp-mercury-parser/expected.json');
const readability = (n: number) =>
  fixtureJson<{ title: string }>(
    `medium/mozilla-readability/test/test-pages/medium-${n}/expected-metadata.json`,
  );

interface Page {
  /** Where the fixture server serves it (the platform's URL layout). */
  path: string;
  file: string;
  title: string;
  canonicalUrl: string;
  category: 'article' | 'post';
  platform: commonv1.Platform;
}

const MEDIUM = commonv1.Platform.MEDIUM;
const pages: Page[] = [
  ...[
    ['@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb', 1],
    ['@ckirchoff/on-behalf-of-literally-429fab868ca8', 2],
  ].map(([path, n]): Page => ({
    path: `/${path as string}`,
    file: `medium/mozilla-readability/test/test-pages/medium-${n as number}/source.html`,
    title: readability(n as number).title,
    canonicalUrl: `https://medium.com/${path as string}`, // og:url / rel=canonical
    category: 'article',
    platform: MEDIUM,
  })),
  {
    path: '/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1',
    file: 'medium/mozilla-readability/test/test-pages/medium-3/source.html',
    title: 'Samantha and The Great Big Lie', // og:title (readability's title keeps a " - Medium" suffix)
    canonicalUrl: 'https://medium.com/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1',
    category: 'article',
    platform: MEDIUM,
  },
  {
    path: '/the-mtg-color-wheel-c9700a7cf36d', // a publication subdomain's layout
    file: 'medium/postlight-parser/fixtures/medium.com--mtg.html',
    title: 'How the ‘Magic: The Gathering’ Color Wheel Explains Humanity', // og:title
    canonicalUrl: 'https://humanparts.medium.com/the-mtg-color-wheel-c9700a7cf36d', // rel=canonical
    category: 'article',
    platform: MEDIUM,
  },
  {
    path: '/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1',
    file: 'medium/postlight-parser/history-aa682d7/fixtures/medium.com/1485902752952.html',
    title: 'Flag Attributes in Android — How to Use Them', // h1.graf--title
    canonicalUrl: 'https://medium.com/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1',
    category: 'article',
    platform: MEDIUM,
  },
  {
    path: '/p/a-model-that-produces-code-which',
    file: 'substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html',
    title: mercurySubstack['fixtures/substack.com/1777688784578.html']!.title!,
    canonicalUrl: mercurySubstack['fixtures/substack.com/1777688784578.html']!.url!,
    category: 'article',
    platform: commonv1.Platform.SUBSTACK,
  },
  {
    path: '/p/ilyas-30-papers-to-carmack-vlaes',
    file: 'substack/kepano-defuddle/tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html',
    title: "Ilya's Papers to Carmack: VLAEs", // defuddle's expected front matter
    canonicalUrl: 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes',
    category: 'article',
    platform: commonv1.Platform.SUBSTACK,
  },
  ...[
    [
      'what-set-your-soul-fire-2017-ellyn-shook',
      'history-2422e47/fixtures/www.linkedin.com/1485452542218.html',
    ],
    [
      'using-dogs-overcome-shyness-bruce-kasanoff',
      'history-bb52de5/fixtures/www.linkedin.com/1480368940900.html',
    ],
  ].map(([slug, key]): Page => ({
    path: `/pulse/${slug!}`,
    file: `linkedin/postlight-parser/${key!}`,
    title: postlightLinkedIn[key!]!.title!,
    canonicalUrl: postlightLinkedIn[key!]!.url!,
    category: 'article',
    platform: commonv1.Platform.LINKEDIN,
  })),
];

/** The Substack archive sample: 15 posts of one publication, each also served as its own post JSON. */
const archiveSample = fixtureJson<{ posts: (SubstackArchiveEntry & { canonical_url: string })[] }>(
  'substack-api/jakub-k-slys-substack-api/samples/api/v1/profile/posts?profile_user_id=27968736&limit=50',
).posts;

const SUBSTACK_EXPORT = join(
  committedFixtures,
  'substack-export/TryGhost-migrate/packages/mg-substack/test/fixtures',
);

type Event = ingesteventsv1.RawDocumentChanged;
const { CREATED, UPDATED, TOMBSTONED } = ingesteventsv1.ChangeKind;

let root: string;
let home: string;
let warehouse: Warehouse;
let bus: EventBus;
let module: ServiceModule;
let client: Client<typeof ingestv1.IngestService>;
let site: FixtureServer;
let publication: FixtureServer;
const sourceOf = new Map<string, string>();
let archiveSourceId: string;

async function events(): Promise<Event[]> {
  const messages = await bus.read(topics.documentsRaw);
  return messages.map((m) => decodeEvent(ingesteventsv1.RawDocumentChangedSchema, m));
}

async function finished(jobId: string): Promise<ingestv1.CrawlJob> {
  const { job } = await poll(() => client.getCrawlJob({ id: jobId }), {
    what: `crawl job ${jobId} to end`,
    timeoutMs: 30_000,
    intervalMs: 25,
    until: (res) =>
      res.job!.state !== ingestv1.CrawlJobState.QUEUED && res.job!.state !== ingestv1.CrawlJobState.RUNNING,
  });
  return job!;
}

/** A crawl now; of a source that crawled before, incremental (from its cursor) unless `full`. */
async function crawl(
  target: { sourceId: string; full?: boolean } | { url: string; authorId: string },
): Promise<ingestv1.CrawlJob> {
  const { job } = await client.crawlNow(
    'sourceId' in target
      ? { target: { case: 'sourceId', value: target.sourceId }, full: target.full ?? false }
      : { authorId: target.authorId, target: { case: 'url', value: target.url } },
  );
  return finished(job!.id);
}

async function documentsOf(authorId: string, includeTombstones = false): Promise<ingestv1.RawDocument[]> {
  const all: ingestv1.RawDocument[] = [];
  let pageToken = '';
  do {
    const res = await client.listDocuments({ authorId, includeTombstones, page: { pageSize: 7, pageToken } });
    all.push(...res.documents);
    pageToken = res.page?.nextPageToken ?? '';
  } while (pageToken);
  return all;
}

/** Every stored raw document, as stored (the payload as its hash): a write of any kind changes this. */
const snapshot = async () =>
  (await warehouse.collection('raw_documents').find({}, { sort: [{ field: '_id', direction: 'asc' }] })).map(
    (r) => ({
      ...r,
      raw: createHash('sha256')
        .update(r['raw'] as Uint8Array)
        .digest('hex'),
    }),
  );

function git(cwd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', ['-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: '1', ...env },
  })
    .toString('utf8')
    .trim();
}

async function writeIn(repo: string, path: string, content: string): Promise<void> {
  await mkdir(dirname(join(repo, path)), { recursive: true });
  await writeFile(join(repo, path), content);
}

const expectSucceeded = (job: ingestv1.CrawlJob) => {
  expect(job.errors).toEqual([]);
  expect(job.state).toBe(ingestv1.CrawlJobState.SUCCEEDED);
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ingest-e2e-'));
  home = join(root, 'home');
  await mkdir(home);
  warehouse = await createWarehouse(`sqlite:${join(root, 'warehouse.db')}`);
  bus = createEventBus(`log:${join(root, 'events.db')}`);
  module = await createIngestModule({
    warehouse,
    eventBus: bus,
    logger: createLogger('ingest-e2e', { level: 'silent' }),
    dataDir: join(root, 'data'),
    crawl: { allow: ['127.0.0.1/32'], respectRobots: true, allowLocalGit: true },
    schedulerTickMs: 3_600_000,
    outboxSweepMs: 3_600_000,
  });
  await module.start?.();
  client = createClient(
    ingestv1.IngestService,
    createRouterTransport((router) => module.register(router)),
  );

  site = await FixtureServer.start();
  site.robots('User-agent: *\nDisallow: /private/\n');
  for (const page of pages)
    site.route(page.path, {
      file: join(committedFixtures, page.file),
      contentType: 'text/html; charset=utf-8',
    });

  // A Substack publication on its own (custom) domain: its home page carries Substack's markers, its
  // archive and post endpoints answer from the samples.
  publication = await FixtureServer.start();
  publication.route('/', {
    file: join(committedFixtures, pages.find((p) => p.path.startsWith('/p/a-model'))!.file),
    contentType: 'text/html; charset=utf-8',
  });
  publication.substackArchive(archiveSample);
  for (const post of archiveSample) publication.substackPostApi(post.slug, post);

  await client.createAuthor({ id: 'ada', displayName: 'Ada Lovelace' });
  await client.createAuthor({ id: 'bea', displayName: 'Bea' });
  for (const page of pages) {
    const { source } = await client.addSource({
      authorId: 'ada',
      url: site.at(page.path),
      kind: ingestv1.SourceKind.SINGLE_URL,
    });
    sourceOf.set(page.path, source!.id);
  }
  const { source } = await client.addSource({ authorId: 'ada', url: `${publication.url}/` });
  expect(source!.kind).toBe(ingestv1.SourceKind.PROFILE);
  archiveSourceId = source!.id;
}, 60_000);

afterAll(async () => {
  await module?.stop?.();
  await site?.close();
  await publication?.close();
  await bus?.close();
  await warehouse?.close();
  await rm(root, { recursive: true, force: true });
});

describe('crawling the fixture sites through the IngestService', () => {
  it('lands every page and archive post as one document with one event', async () => {
    for (const page of pages) {
      const job = await crawl({ sourceId: sourceOf.get(page.path)! });
      expectSucceeded(job);
      expect(job.documentsCreated).toBe(1n);
    }
    const archiveJob = await crawl({ sourceId: archiveSourceId });
    expectSucceeded(archiveJob);
    expect(archiveJob.documentsCreated).toBe(BigInt(archiveSample.length));

    const docs = await documentsOf('ada');
    expect(docs).toHaveLength(pages.length + archiveSample.length);
    for (const page of pages) {
      const found = docs.filter((d) => d.canonicalUrl === page.canonicalUrl);
      expect(found).toHaveLength(1);
      expect({
        title: found[0]!.title,
        category: found[0]!.category,
        platform: found[0]!.platform,
        sourceId: found[0]!.sourceId,
        version: found[0]!.version,
      }).toEqual({
        title: page.title,
        category: page.category === 'article' ? commonv1.Category.ARTICLE : commonv1.Category.POST,
        platform: page.platform,
        sourceId: sourceOf.get(page.path),
        version: 1n,
      });
    }
    for (const post of archiveSample) {
      const found = docs.filter((d) => d.canonicalUrl === post.canonical_url);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ title: post.title.trim(), platform: commonv1.Platform.SUBSTACK });
    }
    // robots.txt was asked before the pages; the archive was paged and every post's JSON fetched.
    expect(site.hits('/robots.txt')).toBeGreaterThan(0);
    for (const post of archiveSample) expect(publication.hits(`/api/v1/posts/${post.slug}`)).toBe(1);

    const all = await events();
    expect(all).toHaveLength(docs.length);
    expect(new Set(all.map((e) => e.document!.id))).toEqual(new Set(docs.map((d) => d.id)));
    for (const e of all) {
      expect(e.change).toBe(CREATED);
      expect(e.document!.version).toBe(1n);
      expect(e.document!.authorId).toBe('ada');
    }
    expect(new Set(all.map((e) => e.eventId)).size).toBe(all.length);
    // Every event was acknowledged, so no outbox marker is left for the relay.
    expect(await warehouse.collection('raw_documents').find({ 'outbox.pending': true })).toEqual([]);
  });

  it('writes and emits nothing when the sources did not change', async () => {
    const before = await snapshot();
    const eventsBefore = (await events()).length;
    for (const page of pages) {
      const job = await crawl({ sourceId: sourceOf.get(page.path)! });
      expectSucceeded(job);
      expect([job.documentsCreated, job.documentsUpdated, job.documentsUnchanged]).toEqual([0n, 0n, 1n]);
    }
    // From the cursor: nothing is new, so no post is fetched and nothing compared.
    const postHits = () => archiveSample.map((post) => publication.hits(`/api/v1/posts/${post.slug}`));
    const hitsBefore = postHits();
    const incremental = await crawl({ sourceId: archiveSourceId });
    expectSucceeded(incremental);
    expect(incremental.documentsCreated + incremental.documentsUpdated + incremental.documentsUnchanged).toBe(
      0n,
    );
    expect(postHits()).toEqual(hitsBefore);
    // A full crawl reads every post again and finds each unchanged.
    const archiveJob = await crawl({ sourceId: archiveSourceId, full: true });
    expectSucceeded(archiveJob);
    expect(archiveJob.documentsUnchanged).toBe(BigInt(archiveSample.length));
    expect(archiveJob.documentsCreated + archiveJob.documentsUpdated + archiveJob.documentsTombstoned).toBe(
      0n,
    );
    expect(await snapshot()).toEqual(before);
    expect(await events()).toHaveLength(eventsBefore);
  });

  it('gives an edited page exactly one new version and one event', async () => {
    const page = pages[1]!;
    const before = await events();
    const html = await readFile(join(committedFixtures, page.file), 'utf8');
    const edited = html.replace('</body>', '<p>An update: the author added this paragraph.</p></body>');
    expect(edited).not.toBe(html);
    site.replace(page.path, edited);

    const job = await crawl({ sourceId: sourceOf.get(page.path)! });
    expectSucceeded(job);
    expect([job.documentsCreated, job.documentsUpdated, job.documentsUnchanged]).toEqual([0n, 1n, 0n]);
    const added = (await events()).slice(before.length);
    expect(added).toHaveLength(1);
    expect(added[0]!.change).toBe(UPDATED);
    expect(added[0]!.document).toMatchObject({
      canonicalUrl: page.canonicalUrl,
      version: 2n,
      title: page.title,
    });
    expect(new TextDecoder().decode(added[0]!.document!.raw)).toContain('the author added this paragraph');

    // Crawled once more, the edit is no longer news.
    const again = await crawl({ sourceId: sourceOf.get(page.path)! });
    expect(again.documentsUnchanged).toBe(1n);
    expect(await events()).toHaveLength(before.length + 1);
  });

  it.each([
    [404, 0],
    [410, 7],
  ] as const)('turns a page removed with %i into a tombstone event', async (status, index) => {
    const page = pages[index]!;
    const [doc] = (await documentsOf('ada')).filter((d) => d.canonicalUrl === page.canonicalUrl);
    const before = await events();
    site.remove(page.path, status);

    // Crawled as a single URL: the address that is gone is not the page's canonical URL.
    const job = await crawl({ url: site.at(page.path), authorId: 'ada' });
    expectSucceeded(job);
    expect(job.documentsTombstoned).toBe(1n);
    const added = (await events()).slice(before.length);
    expect(added).toHaveLength(1);
    expect(added[0]!.change).toBe(TOMBSTONED);
    expect(added[0]!.document).toMatchObject({ id: doc!.id, tombstone: true, version: doc!.version + 1n });

    expect((await documentsOf('ada')).map((d) => d.id)).not.toContain(doc!.id);
    const again = await crawl({ url: site.at(page.path), authorId: 'ada' });
    expect(again.documentsTombstoned).toBe(0n);
    expect(await events()).toHaveLength(before.length + 1);
  });

  it('crawls a git repository: an edit is a new version, a deleted file a tombstone', async () => {
    const repo = join(root, 'repo');
    await mkdir(repo);
    git(repo, ['init', '-q', '-b', 'main']);
    await writeIn(repo, 'src/app.ts', 'export const answer = 42;\n');
    await writeIn(repo, 'src/util.py', 'def twice(x):\n    return 2 * x\n');
    await writeIn(repo, 'README.md', '# Demo\n\nA repository built by the test.\n');
    git(repo, ['add', '-A']);
    git(repo, ['commit', '-q', '-m', 'first']);

    const { source } = await client.addSource({
      authorId: 'ada',
      url: pathToFileURL(repo).href,
      kind: ingestv1.SourceKind.REPOSITORY,
    });
    const first = await crawl({ sourceId: source!.id });
    expectSucceeded(first);
    expect(first.documentsCreated).toBe(3n);
    const code = (await documentsOf('ada')).filter((d) => d.category === commonv1.Category.CODE);
    expect(code.map((d) => d.codePath).sort()).toEqual(['README.md', 'src/app.ts', 'src/util.py']);
    const app = await client.getDocument({ id: code.find((d) => d.codePath === 'src/app.ts')!.id });
    expect(new TextDecoder().decode(app.document!.raw)).toBe('export const answer = 42;\n');
    const byPath = new Map(code.map((d) => [d.codePath, d]));

    const before = await events();
    await writeIn(repo, 'src/app.ts', 'export const answer = 43;\n');
    await unlink(join(repo, 'src/util.py'));
    git(repo, ['add', '-A']);
    // A day later: the untouched README must stay unchanged although the commit time moved.
    const later = new Date(Date.now() + 86_400_000).toISOString();
    git(repo, ['commit', '-q', '-m', 'edit app, delete util'], {
      GIT_AUTHOR_DATE: later,
      GIT_COMMITTER_DATE: later,
    });

    const second = await crawl({ sourceId: source!.id });
    expectSucceeded(second);
    expect([second.documentsCreated, second.documentsUpdated, second.documentsUnchanged]).toEqual([
      0n,
      1n,
      1n,
    ]);
    expect(second.documentsTombstoned).toBe(1n);
    const added = (await events()).slice(before.length);
    expect(added.map((e) => [e.change, e.document!.codePath, e.document!.version]).sort()).toEqual(
      [
        [UPDATED, 'src/app.ts', 2n],
        [TOMBSTONED, 'src/util.py', 2n],
      ].sort(),
    );
    expect(added.find((e) => e.change === TOMBSTONED)!.document!.id).toBe(byPath.get('src/util.py')!.id);

    // The same commit again: an incremental crawl stops at the commit, a full one compares every file.
    const unchanged = await crawl({ sourceId: source!.id });
    expectSucceeded(unchanged);
    expect(unchanged.itemsTotal).toBe(0n);
    const third = await crawl({ sourceId: source!.id, full: true });
    expect([third.documentsUpdated, third.documentsTombstoned, third.documentsUnchanged]).toEqual([
      0n,
      0n,
      2n,
    ]);
    expect(await events()).toHaveLength(before.length + 2);
  });

  it('imports the posts of an uploaded export zip', async () => {
    const files = [
      'posts.csv',
      ...['plain-text', 'podcast', 'thread', 'draft-text', 'about-us'].map(
        (name, i) => `posts/12340${i + 1}.${name}.html`,
      ),
    ];
    const zip = buildZip(
      await Promise.all(
        files.map(async (name) => ({
          name,
          data: new Uint8Array(await readFile(join(SUBSTACK_EXPORT, name))),
        })),
      ),
    );
    await client.createAuthor({ id: 'cy', displayName: 'Cy' });
    const before = await events();
    const { job } = await client.importArchive({
      authorId: 'cy',
      fileName: 'substack-export.zip',
      content: zip,
    });
    const done = await finished(job!.id);
    expectSucceeded(done);
    expect(done.documentsCreated).toBe(5n);

    const docs = await documentsOf('cy');
    expect(docs.map((d) => d.title).sort()).toEqual(
      ['About Us', 'Comment Buttons', 'Plain Text', 'Plain Text', 'Talk to Us'].sort(),
    );
    expect(docs.filter((d) => d.draft).map((d) => d.canonicalUrl)).toEqual(['substack-export:123404']);
    expect(docs.find((d) => d.title === 'Talk to Us')!.category).toBe(commonv1.Category.POST);
    const added = (await events()).slice(before.length);
    expect(added).toHaveLength(5);
    expect(new Set(added.map((e) => e.document!.authorId))).toEqual(new Set(['cy']));
  });

  it('keeps two authors crawling the same URL apart', async () => {
    const page = pages[2]!;
    const job = await crawl({ url: site.at(page.path), authorId: 'bea' });
    expectSucceeded(job);
    expect(job.documentsCreated).toBe(1n);

    const [ada] = (await documentsOf('ada')).filter((d) => d.canonicalUrl === page.canonicalUrl);
    const bea = await documentsOf('bea');
    expect(bea).toHaveLength(1);
    expect(bea[0]).toMatchObject({ authorId: 'bea', canonicalUrl: page.canonicalUrl, version: 1n });
    expect(bea[0]!.id).not.toBe(ada!.id);
    expect(ada!.authorId).toBe('ada');

    // Bea's page disappearing takes nothing from Ada.
    site.remove(page.path, 410);
    const gone = await crawl({ url: site.at(page.path), authorId: 'bea' });
    expect(gone.documentsTombstoned).toBe(1n);
    expect((await client.getDocument({ id: ada!.id, omitRaw: true })).document!.tombstone).toBe(false);
  });
});
