// Crawl jobs over the embedded adapters, driven by a scripted crawler (a fake standing in for the network,
// named as such): progress and per-item errors are recorded, a repeated crawl writes nothing, and documents a
// complete listing no longer names become tombstones.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { topics } from '@llmtwin/contracts';
import { type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CrawlJobs, type CrawlItem, type Crawler, type CrawlTarget } from './crawl-jobs.js';
import type { ExtractedDocument } from './extracted-document.js';
import { RawDocumentStore } from './raw-documents.js';

const doc = (slug: string, body: string): ExtractedDocument => ({
  category: 'post',
  platform: 'substack',
  canonicalUrl: `https://ada.substack.com/p/${slug}`,
  title: slug,
  author: 'Ada',
  publishedAt: 0,
  draft: false,
  raw: new TextEncoder().encode(body),
  rawContentType: 'application/json',
});

class ScriptedCrawler implements Crawler {
  items: CrawlItem[] = [];
  completeListing(): boolean {
    return true;
  }
  async *crawl(): AsyncIterable<CrawlItem> {
    yield* this.items;
  }
}

describe('CrawlJobs', () => {
  let dir: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let store: RawDocumentStore;
  let crawler: ScriptedCrawler;
  let jobs: CrawlJobs;
  const target: CrawlTarget = {
    authorId: 'ada',
    sourceId: 'src_ada',
    kind: 'profile',
    url: 'https://ada.substack.com',
    gitRef: '',
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'crawl-jobs-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    bus = createEventBus(`log:${path.join(dir, 'e.db')}`);
    store = new RawDocumentStore(warehouse, bus);
    await store.init();
    crawler = new ScriptedCrawler();
    jobs = new CrawlJobs(warehouse, store, crawler, createLogger('test', { level: 'silent' }));
    await jobs.init();
  });
  afterEach(async () => {
    await jobs.stop();
    await bus.close();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('records progress and errors; a repeat writes nothing; what disappeared is tombstoned', async () => {
    crawler.items = [
      { type: 'total', count: 3 },
      { type: 'document', document: doc('one', 'a') },
      { type: 'document', document: doc('two', 'b') },
      { type: 'error', url: 'https://ada.substack.com/p/three', message: 'HTTP 500' },
    ];
    const first = await jobs.submit(target);
    await jobs.idle();
    expect(await jobs.get(first._id)).toMatchObject({
      state: 'partial',
      itemsTotal: 3,
      itemsDone: 3,
      created: 2,
      errors: [{ url: 'https://ada.substack.com/p/three', message: 'HTTP 500' }],
    });
    const eventsAfterFirst = (await bus.read(topics.documentsRaw)).length;
    expect(eventsAfterFirst).toBe(2);

    crawler.items = [
      { type: 'document', document: doc('one', 'a') },
      { type: 'document', document: doc('two', 'b') },
    ];
    const again = await jobs.submit(target);
    await jobs.idle();
    expect(await jobs.get(again._id)).toMatchObject({ state: 'succeeded', unchanged: 2, created: 0 });
    expect((await bus.read(topics.documentsRaw)).length).toBe(eventsAfterFirst);

    crawler.items = [{ type: 'document', document: doc('one', 'a, edited') }];
    const third = await jobs.submit(target);
    await jobs.idle();
    expect(await jobs.get(third._id)).toMatchObject({ state: 'succeeded', updated: 1, tombstoned: 1 });
    expect((await bus.read(topics.documentsRaw)).length).toBe(eventsAfterFirst + 2);
  });

  it('resumes a job that was running when the process died', async () => {
    crawler.items = [{ type: 'document', document: doc('one', 'a') }];
    const job = await jobs.submit(target);
    await jobs.idle();
    await jobs.jobs.update(job._id, { set: { state: 'running' } });
    const restarted = new CrawlJobs(warehouse, store, crawler, createLogger('test', { level: 'silent' }));
    expect(await restarted.resume()).toBe(1);
    await restarted.idle();
    expect(await restarted.get(job._id)).toMatchObject({ state: 'succeeded', unchanged: 1 });
  });
});
