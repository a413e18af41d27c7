// The scheduler submits a crawl for each due source exactly once per interval or cron instant, also with two
// schedulers (two replicas) ticking against one warehouse; a cron schedule in a time zone fires at its
// wall-clock time across both DST changes; a paused source is not crawled until resumed. A replica that dies
// between claiming a due time and submitting its crawl (an injected fault) loses nothing: another replica
// submits the crawl once the claim's lease is over, and it runs exactly once. A successful on-demand crawl
// stands in for the scheduled one of an interval source (and for the scheduled full crawl), not of a cron one.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuthorDirectory } from './authors.js';
import { CrawlJobs, type Crawler } from './crawl-jobs.js';
import { RawDocumentStore } from './raw-documents.js';
import { CrawlScheduler, scheduledJobId } from './scheduler.js';
import { SourceHealth } from './source-health.js';

// A crawler that finds nothing: the scheduler's job is only to submit crawls.
const emptyCrawler: Crawler = {
  completeListing: () => false,
  async *crawl() {},
};

describe('CrawlScheduler', () => {
  let dir: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  const logger = createLogger('test', { level: 'silent' });

  /** An author, a jobs queue with a crawler that finds nothing, and `replicas` schedulers on one warehouse. */
  async function setup(replicas: number) {
    const authors = new AuthorDirectory(warehouse, clock);
    await authors.init();
    await authors.createAuthor({ id: 'ada', displayName: 'Ada', aliases: [] });
    const store = new RawDocumentStore(warehouse, bus, clock);
    await store.init();
    const jobs = new CrawlJobs(warehouse, store, emptyCrawler, logger, clock);
    await jobs.init();
    const schedulers = Array.from(
      { length: replicas },
      () => new CrawlScheduler(warehouse, jobs, logger, { tickMs: 60_000 }, clock),
    );
    return { authors, jobs, schedulers };
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'scheduler-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    bus = createEventBus(`log:${path.join(dir, 'e.db')}`);
  });
  afterEach(async () => {
    await bus.close();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('crawls a due source once per interval, whichever replica ticks first', async () => {
    const logger = createLogger('test', { level: 'silent' });
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
    await authors.addSource({
      authorId: 'ada',
      url: 'https://medium.com/@ada',
      kind: undefined,
      scheduleIntervalSeconds: 0,
      gitRef: '',
    });
    const store = new RawDocumentStore(warehouse, bus, clock);
    await store.init();
    const jobs = new CrawlJobs(warehouse, store, emptyCrawler, logger, clock);
    await jobs.init();
    const replicaA = new CrawlScheduler(warehouse, jobs, logger, { tickMs: 60_000 }, clock);
    const replicaB = new CrawlScheduler(warehouse, jobs, logger, { tickMs: 60_000 }, clock);

    const [a, b] = await Promise.all([replicaA.tick(), replicaB.tick()]);
    expect(a + b).toBe(1);
    await jobs.idle();
    const submitted = await jobs.jobs.find({});
    expect(submitted.map((j) => j.target.sourceId)).toEqual([source._id]);

    now += 30 * 60_000;
    expect(await replicaA.tick()).toBe(0);
    now += 31 * 60_000;
    expect(await replicaB.tick()).toBe(1);
    await jobs.idle();
    expect(await jobs.jobs.count({ 'target.sourceId': source._id })).toBe(2);
  });

  it('fires a Berlin 02:30 cron source at the right instants across the spring and autumn DST changes', async () => {
    const { authors, jobs, schedulers } = await setup(1);
    const [scheduler] = schedulers as [CrawlScheduler];
    const fired: string[] = [];
    for (const [start, days] of [
      ['2026-03-27T00:00:00Z', 4],
      ['2026-10-23T12:00:00Z', 3],
    ] as const) {
      now = Date.parse(start);
      const source = await authors.addSource({
        authorId: 'ada',
        url: `https://ada.substack.com/${start.slice(0, 7)}`,
        kind: undefined,
        scheduleIntervalSeconds: 0,
        cron: '30 2 * * *',
        timeZone: 'Europe/Berlin',
        gitRef: '',
      });
      for (let day = 0; day < days; day++) {
        const due = (await authors.getSource(source._id)).nextCrawlAt!;
        // A tick a second early submits nothing; one at the instant submits the crawl.
        now = due - 1000;
        expect(await scheduler.tick()).toBe(0);
        now = due;
        expect(await scheduler.tick()).toBe(1);
        fired.push(new Date(now).toISOString());
      }
      await authors.pauseSource(source._id); // out of the way of the next block's ticks
    }
    await jobs.idle();
    expect(fired).toEqual([
      '2026-03-27T01:30:00.000Z', // 02:30 CET
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 happens twice: once
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
    expect(await jobs.jobs.count({})).toBe(7);
  });

  it('two replicas with cron and jitter start exactly one crawl per due time', async () => {
    now = Date.parse('2026-05-01T00:00:00Z');
    const { authors, jobs, schedulers } = await setup(2);
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const s = await authors.addSource({
        authorId: 'ada',
        url: `https://${name}.substack.com`,
        kind: undefined,
        scheduleIntervalSeconds: 0,
        cron: '0 */6 * * *',
        timeZone: 'Asia/Kolkata',
        jitterSeconds: 1800,
        gitRef: '',
      });
      ids.push(s._id);
    }
    // Two days in ten-minute steps, both replicas ticking at once at every step.
    const end = now + 2 * 24 * 3600_000;
    const submittedAt: Record<string, number[]> = {};
    while (now < end) {
      now += 10 * 60_000;
      const before = new Map(
        await Promise.all(ids.map(async (id) => [id, (await authors.getSource(id)).nextCrawlAt] as const)),
      );
      await Promise.all(schedulers.map((s) => s.tick()));
      for (const id of ids) {
        if ((await authors.getSource(id)).nextCrawlAt !== before.get(id)) {
          (submittedAt[id] ??= []).push(before.get(id)!);
        }
      }
    }
    await jobs.idle();
    for (const id of ids) {
      // Every 6 h for two days: 8 due times, each crawled once, none twice.
      expect(submittedAt[id]).toHaveLength(8);
      expect(new Set(submittedAt[id]).size).toBe(8);
      expect(await jobs.jobs.count({ 'target.sourceId': id })).toBe(8);
    }
  });

  it('does not crawl a paused source, and resumes from the next due time', async () => {
    now = Date.parse('2026-05-01T00:00:00Z');
    const { authors, jobs, schedulers } = await setup(1);
    const [scheduler] = schedulers as [CrawlScheduler];
    const source = await authors.addSource({
      authorId: 'ada',
      url: 'https://ada.substack.com',
      kind: undefined,
      scheduleIntervalSeconds: 3600,
      gitRef: '',
    });
    expect(await scheduler.tick()).toBe(1);
    await authors.pauseSource(source._id);
    now += 5 * 3600_000;
    expect(await scheduler.tick()).toBe(0);
    const resumed = await authors.resumeSource(source._id);
    // The five hours missed while paused are not made up: the next crawl is an interval from now.
    expect(resumed.nextCrawlAt).toBe(now + 3600_000);
    expect(await scheduler.tick()).toBe(0);
    now += 3600_000;
    expect(await scheduler.tick()).toBe(1);
    await jobs.idle();
    expect(await jobs.jobs.count({ 'target.sourceId': source._id })).toBe(2);
  });

  describe('a crash between claim and submission (injected fault)', () => {
    /** One replica: its own jobs queue (whose crawler counts the crawls it starts) and scheduler. */
    async function replica(
      crawls: string[],
      afterClaim: (sourceId: string) => Promise<void> = async () => {},
    ) {
      const store = new RawDocumentStore(warehouse, bus, clock);
      await store.init();
      const countingCrawler: Crawler = {
        completeListing: () => false,
        async *crawl(target) {
          crawls.push(target.sourceId);
          yield { type: 'total', count: 0 } as const; // an empty listing
        },
      };
      const jobs = new CrawlJobs(warehouse, store, countingCrawler, logger, clock);
      await jobs.init();
      const scheduler = new CrawlScheduler(
        warehouse,
        jobs,
        logger,
        { tickMs: 15_000, claimLeaseMs: 60_000 },
        clock,
        { afterClaim },
      );
      return { jobs, scheduler };
    }

    async function hourlySource() {
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
      return { authors, source };
    }

    it('another replica submits the claimed crawl after the lease, once; the restarted claimer adds none', async () => {
      now = Date.parse('2026-05-01T00:00:00Z');
      const { authors, source } = await hourlySource();
      const dueAt = source.nextCrawlAt!;
      const crawls: string[] = [];
      // Replica A claims the due time and "crashes" before its job is written.
      const a = await replica(crawls, async () => {
        throw new Error('injected fault: the process died between claim and submission');
      });
      const b = await replica(crawls);
      expect(await a.scheduler.tick()).toBe(0);
      const claimed = await authors.getSource(source._id);
      expect(claimed.nextCrawlAt).toBe(dueAt + 3600_000);
      expect(claimed.claimedJobId).toBe(scheduledJobId(source._id, dueAt));
      expect(await a.jobs.jobs.count({})).toBe(0);

      // Within the lease the claimer may still be submitting: B leaves the claim alone.
      now += 30_000;
      expect(await b.scheduler.tick()).toBe(0);
      // Past it, B submits the owed crawl.
      now += 31_000;
      expect(await b.scheduler.tick()).toBe(1);
      await b.jobs.idle();
      expect(crawls).toEqual([source._id]);
      expect((await authors.getSource(source._id)).claimedJobId).toBeNull();

      // A restarts (without the fault) and ticks again, as does B: the due time is not crawled again.
      const restarted = await replica(crawls);
      now += 60_000;
      expect(await restarted.scheduler.tick()).toBe(0);
      expect(await b.scheduler.tick()).toBe(0);
      await restarted.jobs.idle();
      expect(crawls).toEqual([source._id]);
      const jobs = await b.jobs.jobs.find({ 'target.sourceId': source._id });
      expect(jobs.map((j) => [j._id, j.state])).toEqual([[scheduledJobId(source._id, dueAt), 'succeeded']]);

      // The schedule goes on: the next due time is claimed and crawled as usual.
      now = dueAt + 3600_000;
      expect(await restarted.scheduler.tick()).toBe(1);
      await restarted.jobs.idle();
      expect(crawls).toEqual([source._id, source._id]);
    });

    it('a claimer that stalls past the lease and then submits still starts one crawl', async () => {
      now = Date.parse('2026-05-01T00:00:00Z');
      const { source } = await hourlySource();
      const crawls: string[] = [];
      const b = await replica(crawls);
      // Replica A stalls between claim and submission (an injected fault) while B ticks past the lease.
      const a = await replica(crawls, async () => {
        now += 61_000;
        expect(await b.scheduler.tick()).toBe(1);
      });
      // A's submission of the same job id finds B's: it submits nothing.
      expect(await a.scheduler.tick()).toBe(0);
      await Promise.all([a.jobs.idle(), b.jobs.idle()]);
      expect(crawls).toEqual([source._id]);
      expect(await b.jobs.jobs.count({})).toBe(1);
    });
  });

  describe('an on-demand crawl (CrawlNow)', () => {
    /** One replica whose finished jobs are recorded on their sources, as in the service. */
    async function withHealth(crawler: Crawler = emptyCrawler) {
      const authors = new AuthorDirectory(warehouse, clock);
      await authors.init();
      await authors.createAuthor({ id: 'ada', displayName: 'Ada', aliases: [] });
      const store = new RawDocumentStore(warehouse, bus, clock);
      await store.init();
      const jobs = new CrawlJobs(warehouse, store, crawler, logger, clock);
      await jobs.init();
      const health = new SourceHealth(warehouse, logger, undefined, () => {}, clock);
      jobs.onFinished((job) => health.record(job));
      const scheduler = new CrawlScheduler(warehouse, jobs, logger, { tickMs: 60_000 }, clock);
      /** What CrawlNow submits for a source. */
      const crawlNow = async (id: string, mode: 'full' | 'incremental') => {
        const s = await authors.getSource(id);
        await jobs.submit({
          authorId: s.authorId,
          sourceId: s._id,
          kind: s.kind,
          url: s.url,
          gitRef: s.gitRef,
          mode,
          cursor: s.cursor,
        });
        await jobs.idle();
      };
      return { authors, jobs, scheduler, crawlNow };
    }

    it("that succeeds restarts an interval source's period, and a full one its full-crawl period", async () => {
      now = Date.parse('2026-05-01T00:00:00Z');
      const t0 = now;
      const { authors, jobs, scheduler, crawlNow } = await withHealth();
      const source = await authors.addSource({
        authorId: 'ada',
        url: 'https://ada.substack.com',
        kind: undefined,
        scheduleIntervalSeconds: 3600,
        fullCrawlIntervalSeconds: 7 * 24 * 3600,
        gitRef: '',
      });
      expect(await scheduler.tick()).toBe(1); // the first scheduled crawl, full
      await jobs.idle();
      expect((await authors.getSource(source._id)).nextCrawlAt).toBe(t0 + 3600_000);

      // Ten minutes before the next due time the user asks for a crawl: the hour counts from it.
      now = t0 + 50 * 60_000;
      await crawlNow(source._id, 'incremental');
      let after = await authors.getSource(source._id);
      expect(after.nextCrawlAt).toBe(now + 3600_000);
      expect(after.nextFullCrawlAt).toBe(t0 + 7 * 24 * 3600_000); // an incremental crawl is not a full one
      now = t0 + 3600_000;
      expect(await scheduler.tick()).toBe(0);
      now = t0 + 110 * 60_000;
      expect(await scheduler.tick()).toBe(1);
      await jobs.idle();

      // A full crawl on demand moves the weekly full crawl on too.
      now = t0 + 3 * 24 * 3600_000;
      await crawlNow(source._id, 'full');
      after = await authors.getSource(source._id);
      expect(after.nextFullCrawlAt).toBe(now + 7 * 24 * 3600_000);
      expect(after.nextCrawlAt).toBe(now + 3600_000);
    });

    it("leaves a cron source's instants, and a failed one moves nothing earlier", async () => {
      now = Date.parse('2026-05-01T00:50:00Z');
      let fail = false;
      const failingCrawler: Crawler = {
        completeListing: () => false,
        async *crawl() {
          if (fail) throw new Error('HTTP 503 (a fault the test switches on)');
          yield { type: 'total', count: 0 } as const;
        },
      };
      const { authors, jobs, scheduler, crawlNow } = await withHealth(failingCrawler);
      const cron = await authors.addSource({
        authorId: 'ada',
        url: 'https://medium.com/@ada',
        kind: undefined,
        scheduleIntervalSeconds: 0,
        cron: '0 3 * * *',
        timeZone: 'UTC',
        gitRef: '',
      });
      const due = Date.parse('2026-05-01T03:00:00Z');
      expect(cron.nextCrawlAt).toBe(due);
      // Asked for five minutes before 03:00: the 03:00 crawl still happens.
      now = due - 5 * 60_000;
      await crawlNow(cron._id, 'full');
      expect((await authors.getSource(cron._id)).nextCrawlAt).toBe(due);
      now = due;
      expect(await scheduler.tick()).toBe(1);
      await jobs.idle();
      await authors.pauseSource(cron._id); // out of the way of what follows

      const hourly = await authors.addSource({
        authorId: 'ada',
        url: 'https://ada.substack.com',
        kind: undefined,
        scheduleIntervalSeconds: 3600,
        gitRef: '',
      });
      fail = true;
      await crawlNow(hourly._id, 'full');
      const failed = await authors.getSource(hourly._id);
      expect(failed.consecutiveFailures).toBe(1);
      // Still due now (its first crawl), later only by the one-minute backoff: not an hour from the failure.
      expect(failed.nextCrawlAt).toBe(now + 60_000);
    });
  });
});
