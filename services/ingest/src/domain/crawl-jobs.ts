// Crawl jobs: one run of one source (or one URL, or one archive) with progress and per-item errors. Jobs run
// in this process, one source at a time per author; a job found queued or running at start-up (the process
// died mid-crawl) runs again — safe because storing unchanged content is a no-op and pending events are
// published by the outbox relay.
import type { Collection, Record as StoredRecord, Warehouse } from '@llmtwin/ports';
import { isDomainError, notFound } from '@llmtwin/runtime/errors';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ExtractedDocument } from './extracted-document.js';
import type { SourceCursor } from './source-cursor.js';

export { EMPTY_CURSOR, type SourceCursor } from './source-cursor.js';
import type { RawDocumentRecord, RawDocumentStore } from './raw-documents.js';

export type CrawlJobState = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled';

export interface CrawlTarget {
  authorId: string;
  /** Empty for a one-off URL or archive. */
  sourceId: string;
  kind: 'profile' | 'repository' | 'single-url' | 'archive';
  url: string;
  gitRef: string;
  /** For archives: where the uploaded bytes were saved. */
  archivePath?: string;
  /**
   * 'incremental': only what is new or changed since `cursor` (scheduled crawls, and on-demand ones of a
   * source that has crawled before); 'full' (also when absent): the whole listing, which is also how
   * deletions are found.
   */
  mode?: CrawlMode;
  /** What the source's last successful crawl saw; absent on a first crawl. */
  cursor?: SourceCursor;
  /** 'schedule' for a crawl the scheduler started; absent for one asked for (CrawlNow, an import). */
  trigger?: 'schedule';
}

export type CrawlMode = 'full' | 'incremental';

export type CrawlItem =
  | { type: 'total'; count: number }
  | { type: 'document'; document: ExtractedDocument }
  /** The source says this document no longer exists (404/410, removed from a repository). */
  | { type: 'gone'; canonicalUrl: string }
  | { type: 'error'; url: string; message: string }
  /** Where the next incremental crawl may start; only sent when everything new was read. */
  | { type: 'cursor'; cursor: SourceCursor };

export interface Crawler {
  /** Whether the listing names every document of the source, so absent ones are gone. */
  completeListing(target: CrawlTarget): boolean;
  crawl(target: CrawlTarget, signal: AbortSignal): AsyncIterable<CrawlItem>;
  /**
   * Whether a document of a partial listing (a feed) still exists, asked by a full crawl for each stored
   * document the listing did not name: 'gone' (404/410) tombstones it, 'unknown' leaves it.
   */
  probe?(url: string, signal: AbortSignal): Promise<'present' | 'gone' | 'unknown'>;
}

export interface CrawlJobRecord extends StoredRecord {
  _id: string;
  target: CrawlTarget & { [key: string]: string };
  state: CrawlJobState;
  itemsTotal: number;
  itemsDone: number;
  created: number;
  updated: number;
  unchanged: number;
  tombstoned: number;
  errors: { url: string; message: string }[];
  /** The cursor the crawl reported (absent when it did not read everything new). */
  cursor?: SourceCursor;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

const MAX_ERRORS_KEPT = 200;

export class CrawlJobs {
  readonly jobs: Collection<CrawlJobRecord>;
  private readonly queue: string[] = [];
  private running: Promise<void> | undefined;
  private readonly controller = new AbortController();
  private current: AbortController | undefined;
  private readonly finishedListeners: ((job: CrawlJobRecord) => Promise<void>)[] = [];

  constructor(
    warehouse: Warehouse,
    private readonly store: RawDocumentStore,
    private readonly crawler: Crawler,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.jobs = warehouse.collection<CrawlJobRecord>('crawl_jobs');
  }

  async init(): Promise<void> {
    await this.jobs.ensureIndex({ fields: [{ field: 'state', direction: 'asc' }] });
    await this.jobs.ensureIndex({ fields: [{ field: 'target.sourceId', direction: 'asc' }] });
  }

  /** Called with every job that ended (not one interrupted by a shutdown), e.g. to update its source. */
  onFinished(listener: (job: CrawlJobRecord) => Promise<void>): void {
    this.finishedListeners.push(listener);
  }

  /** Re-queues jobs interrupted by a crash or a shutdown, oldest first. */
  async resume(): Promise<number> {
    const interrupted = await this.jobs.find(
      { state: { $in: ['queued', 'running'] } },
      { sort: [{ field: 'createdAt', direction: 'asc' }] },
    );
    for (const job of interrupted) this.enqueue(job._id);
    return interrupted.length;
  }

  async submit(target: CrawlTarget): Promise<CrawlJobRecord> {
    const job = this.newJob(`job_${randomUUID()}`, target);
    await this.jobs.insert(job);
    this.enqueue(job._id);
    return job;
  }

  /**
   * Submits a job under an id the caller derived (the scheduler: source id + due time), at most once: when a
   * job with that id exists already (another replica, or this one before a crash, submitted it) nothing
   * happens and false is returned, so the crawl runs once, on the replica whose insert won.
   */
  async submitOnce(id: string, target: CrawlTarget): Promise<boolean> {
    try {
      await this.jobs.insert(this.newJob(id, target));
    } catch (err) {
      if (isDomainError(err, 'already-exists')) return false;
      throw err;
    }
    this.enqueue(id);
    return true;
  }

  private newJob(id: string, target: CrawlTarget): CrawlJobRecord {
    return {
      _id: id,
      target: { ...target } as CrawlJobRecord['target'],
      state: 'queued',
      itemsTotal: 0,
      itemsDone: 0,
      created: 0,
      updated: 0,
      unchanged: 0,
      tombstoned: 0,
      errors: [],
      createdAt: this.now(),
      startedAt: null,
      endedAt: null,
    };
  }

  async get(id: string): Promise<CrawlJobRecord> {
    const job = id ? await this.jobs.get(id) : undefined;
    if (!job) throw notFound(`crawl job "${id}" does not exist`);
    return job;
  }

  /** Resolves when the queue is empty (tests, CLI waiting for a crawl). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops after the item in progress; the interrupted job stays 'running' and resumes at next start. */
  async stop(): Promise<void> {
    this.controller.abort();
    this.current?.abort();
    await this.running?.catch(() => undefined);
  }

  private enqueue(id: string): void {
    if (!this.queue.includes(id)) this.queue.push(id);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.controller.signal.aborted) {
      const id = this.queue.shift()!;
      try {
        await this.run(id);
      } catch (err) {
        this.logger.error({ err, jobId: id }, 'crawl job failed');
      }
    }
  }

  private async run(id: string): Promise<void> {
    const job = await this.get(id);
    if (!['queued', 'running'].includes(job.state)) return;
    const controller = new AbortController();
    this.current = controller;
    const signal = controller.signal;
    const target = job.target;
    const counts = { itemsTotal: 0, itemsDone: 0, created: 0, updated: 0, unchanged: 0, tombstoned: 0 };
    const errors: { url: string; message: string }[] = [];
    const seen = new Set<string>();
    let cursor: SourceCursor | undefined;
    await this.jobs.update(id, { set: { state: 'running', startedAt: this.now(), errors: [], ...counts } });
    let lastSave = 0;
    const save = async (force = false) => {
      if (!force && this.now() - lastSave < 500) return;
      lastSave = this.now();
      await this.jobs.update(id, { set: { ...counts, errors: errors.slice(0, MAX_ERRORS_KEPT) } });
    };
    let failed: string | undefined;
    try {
      for await (const item of this.crawler.crawl(target, signal)) {
        if (signal.aborted) break;
        switch (item.type) {
          case 'cursor':
            cursor = item.cursor;
            break;
          case 'total':
            counts.itemsTotal = item.count;
            break;
          case 'error':
            errors.push({ url: item.url, message: item.message });
            counts.itemsDone++;
            break;
          case 'gone': {
            // The address that is gone is the one that was fetched, which is not always the canonical URL
            // the page named (tracking parameters, a custom domain, a mirror): look for both.
            const existing = new Map<string, RawDocumentRecord>();
            for (const field of ['canonicalUrl', 'requestedUrl'] as const) {
              const found = await this.store.documents.find(
                { authorId: target.authorId, [field]: item.canonicalUrl, tombstone: false },
                { exclude: ['raw'] },
              );
              for (const doc of found) existing.set(doc._id, doc);
            }
            for (const doc of existing.values()) {
              const res = await this.store.tombstone(doc._id, id, signal);
              if (res.change === 'tombstoned') counts.tombstoned++;
            }
            counts.itemsDone++;
            break;
          }
          case 'document': {
            const res = await this.store.upsert(
              item.document,
              {
                authorId: target.authorId,
                sourceId: target.sourceId,
                crawlJobId: id,
                ...(target.kind === 'single-url' ? { requestedUrl: target.url } : {}),
              },
              signal,
            );
            seen.add(res.document._id);
            if (res.change === 'created') counts.created++;
            else if (res.change === 'updated') counts.updated++;
            else counts.unchanged++;
            counts.itemsDone++;
            break;
          }
        }
        await save();
      }
      if (!signal.aborted && target.sourceId && this.crawler.completeListing(target)) {
        // Everything this source had before but did not list now is gone from it.
        for await (const doc of this.store.documents.scan(
          { sourceId: target.sourceId, authorId: target.authorId, tombstone: false },
          { exclude: ['raw'] },
        )) {
          if (seen.has(doc._id)) continue;
          const res = await this.store.tombstone(doc._id, id, signal);
          if (res.change === 'tombstoned') counts.tombstoned++;
        }
      } else if (!signal.aborted && target.sourceId && target.mode !== 'incremental' && this.crawler.probe) {
        // A partial listing (a feed) says nothing about older documents: a full crawl asks for each one.
        const unseen: RawDocumentRecord[] = [];
        for await (const doc of this.store.documents.scan(
          { sourceId: target.sourceId, authorId: target.authorId, tombstone: false },
          { exclude: ['raw'] },
        )) {
          if (!seen.has(doc._id)) unseen.push(doc);
        }
        for (const doc of unseen) {
          if (signal.aborted) break;
          if ((await this.crawler.probe(doc.canonicalUrl, signal)) !== 'gone') continue;
          const res = await this.store.tombstone(doc._id, id, signal);
          if (res.change === 'tombstoned') counts.tombstoned++;
        }
      }
    } catch (err) {
      if (!signal.aborted) failed = err instanceof Error ? err.message : String(err);
    } finally {
      this.current = undefined;
    }
    if (signal.aborted) {
      await save(true);
      return; // left 'running': resumed at next start
    }
    const state: CrawlJobState = failed ? 'failed' : errors.length > 0 ? 'partial' : 'succeeded';
    if (failed) errors.push({ url: target.url, message: failed });
    if (counts.itemsTotal < counts.itemsDone) counts.itemsTotal = counts.itemsDone;
    const ended = {
      ...counts,
      errors: errors.slice(0, MAX_ERRORS_KEPT),
      state,
      endedAt: this.now(),
      ...(cursor && !failed ? { cursor } : {}),
    };
    await this.jobs.update(id, { set: ended });
    this.logger.info({ jobId: id, state, ...counts, errors: errors.length }, 'crawl job finished');
    for (const listener of this.finishedListeners) {
      try {
        await listener({ ...job, ...ended });
      } catch (err) {
        // The job's outcome is stored; a source that misses it is corrected by its next crawl.
        this.logger.warn({ err, jobId: id }, 'could not record a finished crawl on its source');
      }
    }
  }
}
