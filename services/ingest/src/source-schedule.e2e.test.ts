// Sources that keep themselves up to date, with an injected clock against a Substack publication served on
// loopback (its home page a real saved Substack page, its archive and post endpoints the substack-api
// samples): the scheduler, crawl jobs, source health and the real SourceCrawler over the SafeFetcher.
// What it shows: after the first (full) crawl a scheduled crawl fetches only the new post, counted on the
// server; a deleted post survives incremental crawls and is tombstoned by the full crawl on its own slower
// schedule; a post gone from a Medium feed is asked for at a full crawl and tombstoned only on 404;
// an unchanged feed is asked for with its ETag and Last-Modified and its 304 writes nothing (counted on the
// server); failures back off exponentially up to a cap, keep their reason, raise one alert after a day and
// reset on success (the alert resolving).
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixtureServer, type SubstackArchiveEntry } from '../test/fixture-server.js';
import { committedFixtures, fixtureJson } from '../test/fixture-paths.js';
import { SourceCrawler } from './adapters/crawlers/source-crawler.js';
import { SafeFetcher } from './adapters/fetch/index.js';
import { AuthorDirectory, type SourceRecord } from './domain/authors.js';
import { CrawlJobs } from './domain/crawl-jobs.js';
import { RawDocumentStore } from './domain/raw-documents.js';
import { CrawlScheduler } from './domain/scheduler.js';
import { SourceHealth, type SourceAlert } from './domain/source-health.js';

type Post = SubstackArchiveEntry & { canonical_url: string; id: number };
const samples = fixtureJson<{ posts: Post[] }>(
  'substack-api/jakub-k-slys-substack-api/samples/api/v1/profile/posts?profile_user_id=27968736&limit=50',
).posts;
const SUBSTACK_HOME = join(
  committedFixtures,
  'substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html',
);
const MEDIUM_PAGE = join(committedFixtures, 'medium/postlight-parser/fixtures/medium.com.html');
const MEDIUM_ARTICLE = join(
  committedFixtures,
  'medium/mozilla-readability/test/test-pages/medium-1/source.html',
);
const HOUR = 3600_000;

/** A CDATA section for any text: "]]>" inside is split across two sections, as XML requires. */
const cdata = (text: string) => `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

/** A Medium author feed in the shape medium.com/feed/@user serves, its items linking to `origin`. */
function mediumFeed(origin: string, items: { slug: string; title: string; date: string; body: string }[]) {
  const entries = items
    .map(
      (item) => `<item><title>${cdata(item.title)}</title>
<link>${origin}/@ada/${item.slug}?source=rss-3a8144eabfe3------2</link>
<guid isPermaLink="false">https://medium.com/p/${item.slug.split('-').pop()}</guid>
<dc:creator>${cdata('Ada')}</dc:creator><pubDate>${new Date(item.date).toUTCString()}</pubDate>
<content:encoded>${cdata(item.body)}</content:encoded></item>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
<channel><title>${cdata('Stories by Ada on Medium')}</title><link>${origin}/@ada</link><generator>Medium</generator>
${entries}</channel></rss>`;
}

describe('scheduled source crawls', () => {
  let dir: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let publication: FixtureServer;
  let setArchive: (entries: readonly SubstackArchiveEntry[]) => void;
  let fetcher: SafeFetcher;
  let now: number;
  const clock = () => now;
  let authors: AuthorDirectory;
  let store: RawDocumentStore;
  let jobs: CrawlJobs;
  let scheduler: CrawlScheduler;
  let alerts: SourceAlert[];

  beforeEach(async () => {
    now = Date.parse('2026-06-01T00:00:00Z');
    dir = await mkdtemp(join(tmpdir(), 'source-schedule-'));
    warehouse = await createWarehouse(`sqlite:${join(dir, 'w.db')}`);
    bus = createEventBus(`log:${join(dir, 'e.db')}`);
    publication = await FixtureServer.start();
    publication.route('/', { file: SUBSTACK_HOME, contentType: 'text/html; charset=utf-8' });
    setArchive = publication.substackArchive(samples);
    for (const post of samples) publication.substackPostApi(post.slug, post);
    const logger = createLogger('test', { level: 'silent' });
    // No retries: a 500 fails the crawl at once, which is what the backoff test needs.
    fetcher = new SafeFetcher({ policy: { allow: ['127.0.0.1/32'] }, retry: { limit: 0 } });
    const crawler = new SourceCrawler({ fetcher, workDir: join(dir, 'git'), substackPageSize: 5 });
    authors = new AuthorDirectory(warehouse, clock);
    await authors.init();
    await authors.createAuthor({ id: 'ada', displayName: 'Ada', aliases: [] });
    store = new RawDocumentStore(warehouse, bus, clock);
    await store.init();
    jobs = new CrawlJobs(warehouse, store, crawler, logger, clock);
    await jobs.init();
    alerts = [];
    const health = new SourceHealth(
      warehouse,
      logger,
      { backoff: { baseMs: HOUR, capMs: 8 * HOUR }, alertAfterMs: 24 * HOUR },
      (alert) => alerts.push(alert),
      clock,
    );
    jobs.onFinished((job) => health.record(job));
    scheduler = new CrawlScheduler(warehouse, jobs, logger, { tickMs: 60_000, health }, clock);
  });

  afterEach(async () => {
    fetcher.close();
    await publication.close();
    await bus.close();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  const addPublication = (fullCrawlIntervalSeconds?: number) =>
    authors.addSource({
      authorId: 'ada',
      url: `${publication.url}/`,
      kind: undefined,
      scheduleIntervalSeconds: 3600,
      ...(fullCrawlIntervalSeconds !== undefined ? { fullCrawlIntervalSeconds } : {}),
      gitRef: '',
    });

  /** Moves the clock to the source's next due time, ticks, and waits for the crawl. */
  async function crawlWhenDue(source: SourceRecord) {
    now = (await authors.getSource(source._id)).nextCrawlAt!;
    expect(await scheduler.tick()).toBe(1);
    await jobs.idle();
    const [job] = await jobs.jobs.find(
      { 'target.sourceId': source._id },
      { sort: [{ field: 'createdAt', direction: 'desc' }], limit: 1 },
    );
    return job!;
  }

  const postHits = () =>
    Object.fromEntries(
      [...samples.map((p) => p.slug), 'a-new-post'].map((slug) => [
        slug,
        publication.hits(`/api/v1/posts/${slug}`),
      ]),
    );

  const newPost: Post = {
    ...samples[0]!,
    id: 999_000_001,
    slug: 'a-new-post',
    title: 'A new post',
    post_date: '2025-07-01T09:00:00.000Z',
    canonical_url: 'https://karozieminski.substack.com/p/a-new-post',
  };

  it('fetches only the new post once the first crawl has read the archive', async () => {
    const source = await addPublication();
    const first = await crawlWhenDue(source);
    expect(first.target.mode).toBe('full');
    expect(first.created).toBe(samples.length);
    expect(publication.hits('/api/v1/archive')).toBe(4); // 15 entries in pages of 5, then an empty page
    const stored = await authors.getSource(source._id);
    expect(stored.cursor.newestPublishedAt).toBe(Date.parse(samples[0]!.post_date));
    expect(stored.lastSuccessAt).toBe(now);

    setArchive([newPost, ...samples]);
    publication.substackPostApi(newPost.slug, newPost);
    const before = postHits();
    const second = await crawlWhenDue(source);

    expect(second.target.mode).toBe('incremental');
    expect(second).toMatchObject({ state: 'succeeded', created: 1, updated: 0, unchanged: 0, tombstoned: 0 });
    const after = postHits();
    // One request for the new post's body, none for the fifteen already read; one archive page.
    expect(after['a-new-post']! - before['a-new-post']!).toBe(1);
    for (const post of samples) expect(after[post.slug]).toBe(before[post.slug]);
    expect(publication.hits('/api/v1/archive')).toBe(5);
    expect((await authors.getSource(source._id)).cursor.newestPublishedAt).toBe(
      Date.parse(newPost.post_date),
    );

    // Nothing new: one archive page, no post fetched, nothing written.
    const third = await crawlWhenDue(source);
    expect(third).toMatchObject({ state: 'succeeded', itemsTotal: 0, created: 0 });
    expect(postHits()).toEqual(after);
  });

  it('tombstones a deleted post at the full crawl on its own schedule, not at an incremental one', async () => {
    const source = await addPublication(24 * 3600);
    await crawlWhenDue(source); // the first crawl is full
    const deleted = samples[3]!;
    setArchive(samples.filter((p) => p !== deleted));
    publication.remove(`/api/v1/posts/${deleted.slug}`);
    const live = () =>
      store.documents.find({ canonicalUrl: deleted.canonical_url, tombstone: false }, { exclude: ['raw'] });
    expect(await live()).toHaveLength(1);

    // Hourly incremental crawls cannot tell a deletion from a post further down the archive.
    for (let i = 0; i < 3; i++) {
      const job = await crawlWhenDue(source);
      expect(job.target.mode).toBe('incremental');
      expect(job.tombstoned).toBe(0);
    }
    expect(await live()).toHaveLength(1);

    // A day after the first crawl the full crawl is due with the hourly one, and reads the whole archive.
    let job;
    do job = await crawlWhenDue(source);
    while (job.target.mode === 'incremental');
    expect(now - source.createdAt).toBeGreaterThanOrEqual(24 * HOUR);
    expect(job).toMatchObject({ state: 'succeeded', tombstoned: 1, unchanged: samples.length - 1 });
    expect(await live()).toHaveLength(0);
    const [tombstone] = await store.documents.find(
      { canonicalUrl: deleted.canonical_url },
      { exclude: ['raw'] },
    );
    expect(tombstone!.tombstone).toBe(true);
  });

  it('backs off exponentially up to the cap, alerts after a day of failures, and resets on success', async () => {
    const source = await addPublication();
    await crawlWhenDue(source);
    // The archive starts failing (a fault injected on the server: 500 on every archive page).
    publication.route('/api/v1/archive', { status: 500, body: 'upstream down', contentType: 'text/plain' });

    const gapsHours: number[] = [];
    const failedAt: number[] = [];
    for (let i = 0; i < 7; i++) {
      const job = await crawlWhenDue(source);
      expect(job.state).toBe('failed');
      failedAt.push(now);
      const s = await authors.getSource(source._id);
      expect(s.consecutiveFailures).toBe(i + 1);
      expect(s.lastError).toMatch(/Substack archive .* could not be read/);
      expect(s.failingSince).toBe(failedAt[0]);
      gapsHours.push((s.nextCrawlAt! - now) / HOUR);
    }
    // 1 h base doubling to the 8 h cap (never sooner than the hourly schedule).
    expect(gapsHours).toEqual([1, 2, 4, 8, 8, 8, 8]);
    // Failures at 0, 1, 3, 7, 15, 23 and 31 h: the tick that started the crawl at 31 h found the source failing
    // for more than a day (six failures then) and raised the only alert.
    expect(failedAt.map((t) => (t - failedAt[0]!) / HOUR)).toEqual([0, 1, 3, 7, 15, 23, 31]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      sourceId: source._id,
      resolved: false,
      failingHours: 31,
      consecutiveFailures: 6,
    });
    expect(alerts[0]!.message).toMatch(/has failed for 31 h .*could not be read/);

    setArchive = publication.substackArchive(samples); // the archive answers again
    const ok = await crawlWhenDue(source);
    expect(ok.state).toBe('succeeded');
    const healed = await authors.getSource(source._id);
    expect(healed).toMatchObject({ consecutiveFailures: 0, failingSince: null, lastSuccessAt: now });
    expect(healed.lastError).toMatch(/could not be read/); // kept as history
    expect(alerts).toHaveLength(2);
    expect(alerts[1]).toMatchObject({ sourceId: source._id, resolved: true });
    expect((healed.nextCrawlAt! - now) / HOUR).toBe(1);

    // The next failure starts from the base again.
    publication.route('/api/v1/archive', { status: 500, body: 'upstream down', contentType: 'text/plain' });
    await crawlWhenDue(source);
    const again = await authors.getSource(source._id);
    expect(again.consecutiveFailures).toBe(1);
    expect((again.nextCrawlAt! - now) / HOUR).toBe(1);
  });

  it("finds a feed's deleted post at a full crawl by asking for it, and leaves one that only left the feed", async () => {
    const article = await readFile(MEDIUM_ARTICLE, 'utf8');
    const body = /<div class="section-inner[^>]*>([\s\S]*?)<\/div>/.exec(article)?.[1] ?? article;
    const older = {
      slug: 'older-post-0a1b2c3d4e5f',
      title: 'An older post',
      date: '2026-05-01T08:00:00Z',
      body,
    };
    const newer = {
      slug: 'newer-post-fb39f4f701bb',
      title: 'A newer post',
      date: '2026-05-20T08:00:00Z',
      body,
    };
    publication.route('/@ada', { file: MEDIUM_PAGE, contentType: 'text/html; charset=utf-8' });
    publication.mediumFeed('ada', { body: mediumFeed(publication.url, [newer, older]) });
    for (const post of [older, newer]) publication.mediumArticle('ada', post.slug, { file: MEDIUM_ARTICLE });
    const source = await authors.addSource({
      authorId: 'ada',
      url: `${publication.url}/@ada`,
      kind: undefined,
      scheduleIntervalSeconds: 3600,
      gitRef: '',
    });
    const first = await crawlWhenDue(source);
    expect(first).toMatchObject({ state: 'succeeded', created: 2 });
    const olderPath = `/@ada/${older.slug}`;
    const live = () => store.documents.count({ sourceId: source._id, tombstone: false });

    // The feed moves on and lists only the newer post, as Medium's does: that alone proves nothing.
    publication.mediumFeed('ada', { body: mediumFeed(publication.url, [newer]) });
    const incremental = await crawlWhenDue(source);
    expect(incremental).toMatchObject({ state: 'succeeded', tombstoned: 0 });
    expect(publication.hits(olderPath)).toBe(0); // incremental crawls ask for nothing beyond the feed
    const full = await jobs.submit({ ...first.target, mode: 'full' });
    await jobs.idle();
    expect(await jobs.get(full._id)).toMatchObject({ state: 'succeeded', tombstoned: 0 });
    expect(publication.hits(olderPath)).toBe(1); // asked, answered 200: still there
    expect(await live()).toBe(2);

    // The author deletes it: the next full crawl's request answers 404 and the post becomes a tombstone.
    publication.remove(olderPath);
    const again = await jobs.submit({ ...first.target, mode: 'full' });
    await jobs.idle();
    expect(await jobs.get(again._id)).toMatchObject({ state: 'succeeded', tombstoned: 1 });
    expect(await live()).toBe(1);
  });

  it('asks for an unchanged feed with its ETag and Last-Modified: a 304 reads and writes nothing', async () => {
    const article = await readFile(MEDIUM_ARTICLE, 'utf8');
    const body = /<div class="section-inner[^>]*>([\s\S]*?)<\/div>/.exec(article)?.[1] ?? article;
    const post = {
      slug: 'first-post-0a1b2c3d4e5f',
      title: 'A first post',
      date: '2026-05-01T08:00:00Z',
      body,
    };
    const added = {
      slug: 'second-post-fb39f4f701bb',
      title: 'A second post',
      date: '2026-06-01T08:00:00Z',
      body,
    };
    let feed = mediumFeed(publication.url, [post]);
    let modified = 'Fri, 01 May 2026 08:00:00 GMT';
    const served = { full: 0, notModified: 0, conditional: 0 };
    // The feed as a server that keeps validators serves it: an ETag of its bytes and a Last-Modified.
    publication.route('/feed/@ada', (_url, headers) => {
      const etag = `"${createHash('sha256').update(feed).digest('hex').slice(0, 16)}"`;
      if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) {
        served.conditional++;
      }
      if (headers['if-none-match'] === etag && headers['if-modified-since'] === modified) {
        served.notModified++;
        return { status: 304, headers: { etag, 'last-modified': modified } };
      }
      served.full++;
      return { body: feed, contentType: 'application/rss+xml', headers: { etag, 'last-modified': modified } };
    });
    publication.route('/@ada', { file: MEDIUM_PAGE, contentType: 'text/html; charset=utf-8' });
    const source = await authors.addSource({
      authorId: 'ada',
      url: `${publication.url}/@ada`,
      kind: undefined,
      scheduleIntervalSeconds: 3600,
      gitRef: '',
    });
    const first = await crawlWhenDue(source);
    expect(first).toMatchObject({ state: 'succeeded', created: 1 });
    expect(served).toEqual({ full: 1, notModified: 0, conditional: 0 }); // a first crawl asks unconditionally
    const writes = async () => ({
      documents: await store.documents.count({}),
      // A stored change makes a new version; an unchanged feed must make none.
      versions: (await store.documents.find({}, { exclude: ['raw'] })).map((d) => d.version),
    });
    const before = await writes();

    // Unchanged twice: two 304s, nothing parsed or stored, the cursor (and its validators) kept.
    for (let i = 0; i < 2; i++) {
      const job = await crawlWhenDue(source);
      expect(job).toMatchObject({ state: 'succeeded', itemsTotal: 0, created: 0, updated: 0, unchanged: 0 });
    }
    expect(served).toEqual({ full: 1, notModified: 2, conditional: 2 });
    expect(await writes()).toEqual(before);
    expect((await authors.getSource(source._id)).cursor).toMatchObject({
      feedUrl: `${publication.url}/feed/@ada`,
      feedLastModified: modified,
    });

    // The author publishes: the feed changes, the conditional request gets it in full, the new post is stored.
    feed = mediumFeed(publication.url, [added, post]);
    modified = 'Mon, 01 Jun 2026 08:00:00 GMT';
    const changed = await crawlWhenDue(source);
    expect(changed).toMatchObject({ state: 'succeeded', created: 1, unchanged: 1 });
    expect(served).toEqual({ full: 2, notModified: 2, conditional: 3 });

    // A full crawl reads the feed whatever its validators say (it needs the listing to find deletions).
    const full = await jobs.submit({ ...first.target, mode: 'full' });
    await jobs.idle();
    expect(await jobs.get(full._id)).toMatchObject({ state: 'succeeded', unchanged: 2 });
    expect(served).toEqual({ full: 3, notModified: 2, conditional: 3 });
  });

  it('raises the alert at the first tick a day after the failures began, before the next try', async () => {
    const source = await addPublication();
    await crawlWhenDue(source);
    publication.route('/api/v1/archive', { status: 500, body: 'upstream down', contentType: 'text/plain' });
    for (let i = 0; i < 6; i++) await crawlWhenDue(source); // failures at 0, 1, 3, 7, 15 and 23 h
    const failing = await authors.getSource(source._id);
    expect(failing.consecutiveFailures).toBe(6);
    const since = failing.failingSince!;
    expect(failing.nextCrawlAt! - since).toBe(31 * HOUR);
    // Ticks with nothing due: the alert waits for the day to pass, then comes once, with no crawl started.
    now = since + 24 * HOUR - 60_000;
    expect(await scheduler.tick()).toBe(0);
    expect(alerts).toHaveLength(0);
    now = since + 24 * HOUR;
    expect(await scheduler.tick()).toBe(0);
    expect(await scheduler.tick()).toBe(0);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      sourceId: source._id,
      resolved: false,
      failingHours: 24,
      consecutiveFailures: 6,
    });
    // The retry at 31 h fails again without a second alert.
    await crawlWhenDue(source);
    expect(alerts).toHaveLength(1);
  });
});
