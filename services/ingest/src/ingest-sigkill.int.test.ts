// The ingest service as its own process on real Kafka and FerretDB, killed with SIGKILL in the middle of a
// crawl and started again: the interrupted and queued jobs resume by themselves, the outbox relay publishes
// what the dead process wrote but had not announced, and in the end every document is stored exactly once
// with at least one event, and no (document, version) was announced as two different events.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ingesteventsv1, ingestv1, topics } from '@llmtwin/contracts';
import { decodeEvent, type EventBus } from '@llmtwin/ports';
import { createEventBus } from '@llmtwin/ports/adapters';
import { poll, startServiceProcess, testBackendUrl, type ServiceProcess } from '@llmtwin/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { FixtureServer, type SubstackArchiveEntry } from '../test/fixture-server.js';
import { committedFixtures, fixtureJson } from '../test/fixture-paths.js';

const POSTS = 30;
const PAGES = 30;
/** Per response, so that the crawl takes seconds and the kill lands in its middle. */
const DELAY_MS = 100;

/** Saved pages whose copies are served under distinct addresses, each naming its own canonical URL. */
const savedPages = [
  [
    'medium/mozilla-readability/test/test-pages/medium-1/source.html',
    'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb',
  ],
  [
    'medium/mozilla-readability/test/test-pages/medium-2/source.html',
    'https://medium.com/@ckirchoff/on-behalf-of-literally-429fab868ca8',
  ],
  [
    'substack/kepano-defuddle/tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html',
    'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes',
  ],
  [
    'linkedin/postlight-parser/history-bb52de5/fixtures/www.linkedin.com/1480368940900.html',
    'https://www.linkedin.com/pulse/using-dogs-overcome-shyness-bruce-kasanoff',
  ],
] as const;

const sample = fixtureJson<{ posts: (SubstackArchiveEntry & { canonical_url: string; id: number })[] }>(
  'substack-api/jakub-k-slys-substack-api/samples/api/v1/profile/posts?profile_user_id=27968736&limit=50',
).posts;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ingest killed with SIGKILL mid-crawl', () => {
  const author = `sigkill-${randomUUID().slice(0, 8)}`;
  let dataDir: string;
  let site: FixtureServer;
  let mongo: MongoClient;
  let db: Db;
  let bus: EventBus;
  let env: Record<string, string>;
  let service: ServiceProcess | undefined;
  const expectedUrls = new Set<string>();

  const client = (): Client<typeof ingestv1.IngestService> =>
    createClient(ingestv1.IngestService, createGrpcTransport({ baseUrl: service!.url }));
  const documents = () => db.collection('raw_documents');

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ingest-sigkill-'));
    const mongoUrl = new URL(testBackendUrl('mongodb'));
    mongoUrl.pathname = `/ingest_sigkill_${randomUUID().slice(0, 8)}`;
    mongo = new MongoClient(mongoUrl.href);
    db = mongo.db();
    bus = createEventBus(testBackendUrl('kafka'));

    site = await FixtureServer.start();
    const slow =
      <T>(route: T) =>
      async () => {
        await delay(DELAY_MS);
        return route;
      };
    // A Substack publication on a custom domain: its home page has Substack's markers; the archive lists
    // POSTS entries made from the sample's real posts, each with its own slug and canonical URL.
    site.route('/', {
      file: join(committedFixtures, 'substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html'),
      contentType: 'text/html; charset=utf-8',
    });
    const entries = Array.from({ length: POSTS }, (_, n) => {
      const base = sample[n % sample.length]!;
      const slug = `${base.slug}-${n}`;
      const canonical = `https://sigkill.substack.com/p/${slug}`;
      expectedUrls.add(canonical);
      return { ...base, id: 900_000 + n, slug, canonical_url: canonical };
    });
    site.substackArchive(entries);
    for (const entry of entries) {
      site.route(
        `/api/v1/posts/${entry.slug}`,
        slow({ contentType: 'application/json', body: JSON.stringify(entry) }),
      );
    }
    for (let n = 0; n < PAGES; n++) {
      const [file, canonical] = savedPages[n % savedPages.length]!;
      const copy = `${canonical}-copy-${n}`;
      expectedUrls.add(copy);
      const html = (await readFile(join(committedFixtures, file), 'utf8')).replaceAll(canonical, copy);
      site.route(`/copies/${n}`, slow({ contentType: 'text/html; charset=utf-8', body: html }));
    }

    env = {
      LLMTWIN_WAREHOUSE_URL: mongoUrl.href,
      LLMTWIN_EVENT_BUS_URL: testBackendUrl('kafka'),
      LLMTWIN_CRAWL_ALLOW: '127.0.0.1/32',
      LLMTWIN_CRAWL_RESPECT_ROBOTS: 'true',
      LLMTWIN_DATA_DIR: dataDir,
    };
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await site?.close();
    await bus?.close();
    await db?.dropDatabase().catch(() => undefined);
    await mongo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('resumes after the kill and ends with every document once and every version announced', async () => {
    service = await startServiceProcess('ingest', env);
    const rpc = client();
    await rpc.createAuthor({ id: author, displayName: 'Sigkill Test' });
    const { source } = await rpc.addSource({ authorId: author, url: `${site.url}/` });
    await rpc.crawlNow({ target: { case: 'sourceId', value: source!.id } });
    for (let n = 0; n < PAGES; n++) {
      await rpc.crawlNow({ authorId: author, target: { case: 'url', value: site.at(`/copies/${n}`) } });
    }

    const atKill = await poll(
      async () => {
        const count = await documents().countDocuments({ authorId: author });
        return count >= 8 ? count : undefined;
      },
      { what: 'the first documents', timeoutMs: 60_000, intervalMs: 50 },
    );
    expect(await service.stop('SIGKILL')).toBeNull();
    const storedAtKill = await documents().countDocuments({ authorId: author });
    // The kill landed in the middle: some documents, not all.
    expect(storedAtKill).toBeGreaterThanOrEqual(atKill);
    expect(storedAtKill).toBeLessThan(POSTS + PAGES);

    service = await startServiceProcess('ingest', env);
    const jobs = await poll(
      async () => {
        const all = await db.collection('crawl_jobs').find({ 'target.authorId': author }).toArray();
        const done = all.every((j) => !['queued', 'running'].includes(j['state'] as string));
        return all.length === PAGES + 1 && done ? all : undefined;
      },
      { what: 'every crawl job to finish', timeoutMs: 120_000, intervalMs: 50 },
    );
    expect(jobs.map((j) => [j['target'].url, j['state'], j['errors']])).toEqual(
      jobs.map((j) => [j['target'].url, 'succeeded', []]),
    );
    await poll(async () => (await documents().countDocuments({ 'outbox.pending': true })) === 0, {
      what: 'the outbox to drain',
      timeoutMs: 60_000,
      intervalMs: 50,
    });

    const stored = await documents()
      .find({ authorId: author }, { projection: { raw: 0 } })
      .toArray();
    expect(stored).toHaveLength(POSTS + PAGES);
    expect(new Set(stored.map((d) => d['canonicalUrl']))).toEqual(expectedUrls);
    for (const doc of stored) {
      expect({ version: doc['version'], tombstone: doc['tombstone'], outbox: doc['outbox'] }).toEqual({
        version: 1,
        tombstone: false,
        outbox: undefined,
      });
    }

    const ids = new Set(stored.map((d) => String(d['_id'])));
    const events = (await bus.read(topics.documentsRaw))
      .map((m) => ({ key: m.key, event: decodeEvent(ingesteventsv1.RawDocumentChangedSchema, m) }))
      .filter(({ event }) => event.document?.authorId === author);
    const eventIds = new Map<string, Set<string>>();
    for (const { key, event } of events) {
      expect(key).toBe(event.document!.id);
      expect(ids.has(event.document!.id)).toBe(true);
      const at = `${event.document!.id}@${event.document!.version}`;
      eventIds.set(at, (eventIds.get(at) ?? new Set()).add(event.eventId));
    }
    // At least once: every stored version was announced; nothing else was, and a re-delivery repeats the
    // same event id rather than announcing the version again as a new event.
    expect([...eventIds.keys()].sort()).toEqual([...ids].map((id) => `${id}@1`).sort());
    for (const [at, set] of eventIds) expect([at, set.size]).toEqual([at, 1]);
  }, 300_000);
});
