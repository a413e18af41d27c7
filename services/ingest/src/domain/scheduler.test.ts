// The scheduler submits a crawl for each due source exactly once per interval, also with two schedulers (two
// replicas) ticking against one warehouse.
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
import { CrawlScheduler } from './scheduler.js';

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
});
