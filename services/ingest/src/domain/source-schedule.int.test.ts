// The scheduler's and source health's compare-and-set writes on the real MongoDB-compatible server (FerretDB,
// as deployed), not only the embedded warehouse: two replicas ticking at once claim each due time once, a
// claim left behind by a replica that died before submitting its crawl (an injected fault) is crawled once
// by the other, and the "failing for a day" alert is raised once when both replicas sweep at once.
// Run: LLMTWIN_TEST_ONLY=ferretdb node --experimental-vm-modules node_modules/jest/bin/jest.js \
//   services/ingest/src/domain/source-schedule.int.test.ts --selectProjects integration
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { testBackendUrl } from '@llmtwin/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuthorDirectory } from './authors.js';
import { CrawlJobs, type Crawler, type CrawlJobRecord } from './crawl-jobs.js';
import { RawDocumentStore } from './raw-documents.js';
import { CrawlScheduler, scheduledJobId } from './scheduler.js';
import { SourceHealth, type SourceAlert } from './source-health.js';

const logger = createLogger('test', { level: 'silent' });
let now = Date.parse('2026-05-01T00:00:00Z');
const clock = () => now;
let dir: string;
let bus: EventBus;
const warehouses: Warehouse[] = [];

/** A connection to the database `name` (a fresh name per test, so one test's sources never meet another's). */
async function connect(name: string): Promise<Warehouse> {
  const w = await createWarehouse(testBackendUrl('mongodb'), { mongodb: { databaseName: name } });
  warehouses.push(w);
  return w;
}
const freshName = () => `ingest_sched_${randomUUID().slice(0, 8)}`;

/** One replica: its own connection, jobs queue (whose crawler records what it crawls) and scheduler. */
async function replica(
  crawls: string[],
  database: string,
  afterClaim: (sourceId: string) => Promise<void> = async () => {},
) {
  // Each replica is another process: its own connection to the same database.
  const warehouse = await connect(database);
  const store = new RawDocumentStore(warehouse, bus, clock);
  await store.init();
  const recordingCrawler: Crawler = {
    completeListing: () => false,
    async *crawl(target) {
      crawls.push(`${target.sourceId}@${target.mode}`);
      yield { type: 'total', count: 0 } as const; // an empty listing
    },
  };
  const jobs = new CrawlJobs(warehouse, store, recordingCrawler, logger, clock);
  await jobs.init();
  const scheduler = new CrawlScheduler(
    warehouse,
    jobs,
    logger,
    { tickMs: 15_000, claimLeaseMs: 60_000 },
    clock,
    { afterClaim },
  );
  return { warehouse, jobs, scheduler };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sched-int-'));
  bus = createEventBus(`log:${path.join(dir, 'events.db')}`);
});

afterAll(async () => {
  for (const w of warehouses) await w.close();
  await bus?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('scheduled crawls on FerretDB', () => {
  it('two replicas ticking at once crawl each due time of an interval and a cron source once', async () => {
    now = Date.parse('2026-05-01T00:00:00Z');
    const crawls: string[] = [];
    const db = freshName();
    const a = await replica(crawls, db);
    const b = await replica(crawls, db);
    const authors = new AuthorDirectory(a.warehouse, clock);
    await authors.init();
    await authors.createAuthor({ id: 'ada', displayName: 'Ada', aliases: [] });
    const hourly = await authors.addSource({
      authorId: 'ada',
      url: 'https://ada.substack.com',
      kind: undefined,
      scheduleIntervalSeconds: 3600,
      gitRef: '',
    });
    const cron = await authors.addSource({
      authorId: 'ada',
      url: 'https://medium.com/@ada',
      kind: undefined,
      scheduleIntervalSeconds: 0,
      cron: '0 */2 * * *',
      timeZone: 'Europe/Berlin',
      jitterSeconds: 600,
      gitRef: '',
    });
    // Six hours in five-minute steps, both replicas ticking at once at every step; the due times passed
    // are those whose nextCrawlAt a step moved on.
    const end = now + 6 * 3600_000;
    const dueTimes: string[] = [];
    let submitted = 0;
    while (now < end) {
      const before = await Promise.all([hourly, cron].map(async (s) => await authors.getSource(s._id)));
      const counts = await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
      submitted += counts[0] + counts[1];
      for (const s of before) {
        if ((await authors.getSource(s._id)).nextCrawlAt !== s.nextCrawlAt) {
          dueTimes.push(scheduledJobId(s._id, s.nextCrawlAt!));
        }
      }
      now += 5 * 60_000;
    }
    await Promise.all([a.jobs.idle(), b.jobs.idle()]);
    // Hourly from 00:00 to 05:00: 6 due times; every two hours (with up to 10 min of jitter): 2 or 3.
    expect(crawls.filter((c) => c.startsWith(hourly._id))).toHaveLength(6);
    const cronCrawls = crawls.filter((c) => c.startsWith(cron._id)).length;
    expect(cronCrawls).toBeGreaterThanOrEqual(2);
    // Each due time passed was crawled once, under its own job, whichever replica claimed it.
    expect(submitted).toBe(dueTimes.length);
    expect(crawls).toHaveLength(dueTimes.length);
    const jobIds = (await a.jobs.jobs.find({})).map((j) => j._id).sort();
    expect(jobIds).toEqual([...dueTimes].sort());
  });

  it('a claim left by a replica that died before submitting (injected fault) is crawled once by the other', async () => {
    now = Date.parse('2026-05-01T00:00:00Z');
    const crawls: string[] = [];
    const db = freshName();
    const a = await replica(crawls, db, async () => {
      throw new Error('injected fault: the process died between claim and submission');
    });
    const b = await replica(crawls, db);
    const authors = new AuthorDirectory(a.warehouse, clock);
    await authors.init();
    await authors.createAuthor({ id: 'ada', displayName: 'Ada', aliases: [] });
    const source = await authors.addSource({
      authorId: 'ada',
      url: 'https://ada.substack.com',
      kind: undefined,
      scheduleIntervalSeconds: 3600,
      gitRef: '',
    });
    const dueAt = source.nextCrawlAt!;
    expect(await a.scheduler.tick()).toBe(0);
    expect((await authors.getSource(source._id)).claimedJobId).toBe(scheduledJobId(source._id, dueAt));
    now += 30_000;
    expect(await b.scheduler.tick()).toBe(0); // the lease is not over: the claimer may still submit
    now += 31_000;
    // Both replicas tick past the lease at once (A restarted without the fault): one submits it.
    const restarted = await replica(crawls, db);
    const counts = await Promise.all([b.scheduler.tick(), restarted.scheduler.tick()]);
    expect(counts[0] + counts[1]).toBe(1);
    await Promise.all([b.jobs.idle(), restarted.jobs.idle()]);
    expect(crawls).toEqual([`${source._id}@full`]);
    expect((await authors.getSource(source._id)).claimedJobId).toBeNull();
  });
});

describe('source health on FerretDB', () => {
  const failedJob = (sourceId: string, authorId: string, at: number): CrawlJobRecord => ({
    _id: `job_${randomUUID()}`,
    target: { authorId, sourceId, kind: 'profile', url: 'https://ada.substack.com/', gitRef: '' },
    state: 'failed',
    itemsTotal: 0,
    itemsDone: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    tombstoned: 0,
    errors: [{ url: 'https://ada.substack.com/feed', message: 'HTTP 503 from ada.substack.com' }],
    createdAt: at,
    startedAt: at,
    endedAt: at,
  });

  it('raises the day-long failure alert once when two replicas sweep at once, and resolves it once', async () => {
    now = Date.parse('2026-05-01T00:00:00Z');
    const warehouse = await connect(freshName());
    const authors = new AuthorDirectory(warehouse, clock);
    await authors.init();
    await authors.createAuthor({ id: 'ada', displayName: 'Ada', aliases: [] });
    const source = await authors.addSource({
      authorId: 'ada',
      url: 'https://ada.substack.com',
      kind: undefined,
      scheduleIntervalSeconds: 3600,
      gitRef: '',
    });
    const alerts: SourceAlert[] = [];
    const options = {
      backoff: { baseMs: 60_000, capMs: 6 * 3600_000 },
      alertAfterMs: 24 * 3600_000,
    };
    const [h1, h2] = [1, 2].map(
      () => new SourceHealth(warehouse, logger, options, (alert) => alerts.push(alert), clock),
    ) as [SourceHealth, SourceHealth];

    await h1.record(failedJob(source._id, 'ada', now));
    const failing = await authors.getSource(source._id);
    expect(failing.consecutiveFailures).toBe(1);
    expect(failing.failingSince).toBe(now);

    now += 23 * 3600_000;
    expect((await Promise.all([h1.raiseDueAlerts(), h2.raiseDueAlerts()])).reduce((x, y) => x + y)).toBe(0);
    now += 2 * 3600_000;
    const raised = await Promise.all([h1.raiseDueAlerts(), h2.raiseDueAlerts(), h1.raiseDueAlerts()]);
    expect(raised.reduce((x, y) => x + y)).toBe(1);
    expect(alerts.map((a) => [a.sourceId, a.resolved, a.failingHours])).toEqual([[source._id, false, 25]]);
    expect(alerts[0]!.lastError).toBe('HTTP 503 from ada.substack.com');

    // Another failure does not raise it again; the next success resolves it, once.
    await h2.record(failedJob(source._id, 'ada', now));
    expect(alerts).toHaveLength(1);
    const success = { ...failedJob(source._id, 'ada', now), state: 'succeeded' as const, errors: [] };
    await Promise.all([h1.record(success), h2.record({ ...success, _id: `job_${randomUUID()}` })]);
    expect(alerts.map((a) => a.resolved)).toEqual([false, true]);
    expect((await authors.getSource(source._id)).failingSince).toBeNull();
  });
});
