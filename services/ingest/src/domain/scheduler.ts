// Scheduled crawls: each tick claims the sources that are due (compare-and-set on nextCrawlAt, so of two
// replicas that see the same due time exactly one moves it on and starts the crawl) and submits a job for
// each. A scheduled crawl is incremental (from the source's cursor) unless the source has no cursor yet or
// its slower full-crawl schedule is due too. The next due time comes from the source's interval or cron
// expression (schedule.ts); a paused source has none.
//
// Claim and submission are two writes, so the claim also records the job it owes (claimedJobId, an id
// derived from the source id and the due time) and the job is submitted under that id, at most once
// (CrawlJobs.submitOnce). A replica that died between the two leaves the claim behind; once the claim is
// older than the lease, any replica's tick submits it (a second submission of the same id is a no-op, so a
// slow claimer and a recovering replica still start one crawl) and clears it. A due source whose previous
// claim is still open is not claimed again until that claim is settled, so no due time is dropped.
import type { Collection, Warehouse } from '@llmtwin/ports';
import type { Logger } from 'pino';
import { scheduleOf, withSourceDefaults, type SourceRecord } from './authors.js';
import type { CrawlJobs, CrawlMode } from './crawl-jobs.js';
import { nextDue } from './schedule.js';

export class CrawlScheduler {
  private readonly sources: Collection<SourceRecord>;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    warehouse: Warehouse,
    private readonly jobs: Pick<CrawlJobs, 'submitOnce'>,
    private readonly logger: Logger,
    private readonly options: {
      tickMs: number;
      /**
       * How old a claim without its job must be before another replica submits it (default: two ticks, at
       * least a minute), long enough for the claimer, if alive, to have submitted it itself.
       */
      claimLeaseMs?: number;
      /** Raises the alerts of sources failing for a day; called at every tick. */
      health?: { raiseDueAlerts(): Promise<number> };
    } = { tickMs: 15_000 },
    private readonly now: () => number = Date.now,
    /** Fault injection for tests: runs between a claim and its job's submission. */
    private readonly hooks: { afterClaim(sourceId: string): Promise<void> } = { afterClaim: async () => {} },
  ) {
    this.sources = warehouse.collection<SourceRecord>('sources');
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.options.tickMs);
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** Submits a job for every due source (and every abandoned claim); returns how many. */
  tick(): Promise<number> {
    const run = (async () => {
      let submitted = 0;
      try {
        const now = this.now();
        submitted += await this.settleAbandonedClaims(now);
        const due = await this.sources.find({ nextCrawlAt: { $lte: now } }, { limit: 100 });
        for (const stored of due) {
          const source = withSourceDefaults(stored);
          const dueAt = source.nextCrawlAt;
          if (dueAt === null || source.paused) continue;
          // Due times missed while no replica ran collapse into this one crawl: the next is after now.
          const next = nextDue(scheduleOf(source), source._id, Math.max(now, dueAt));
          // Without a successful crawl there is no cursor to start from.
          const firstCrawl = source.lastSuccessAt === null;
          const fullDue =
            source.fullCrawlIntervalSeconds > 0 &&
            (source.nextFullCrawlAt === null || source.nextFullCrawlAt <= dueAt);
          const mode: CrawlMode = firstCrawl || fullDue ? 'full' : 'incremental';
          const jobId = scheduledJobId(source._id, dueAt);
          const claimed = await this.sources.update(
            source._id,
            {
              set: {
                nextCrawlAt: next,
                lastCrawlAt: now,
                claimedJobId: jobId,
                claimedMode: mode,
                claimedAt: now,
                ...(mode === 'full' && source.fullCrawlIntervalSeconds > 0
                  ? { nextFullCrawlAt: now + source.fullCrawlIntervalSeconds * 1000 }
                  : {}),
              },
            },
            // claimedJobId null: an earlier claim still owes its job; settleAbandonedClaims submits it first.
            { where: { nextCrawlAt: dueAt, claimedJobId: null } },
          );
          if (!claimed) continue; // another replica took this due time
          await this.hooks.afterClaim(source._id);
          if (await this.submitClaimed(claimed, jobId, mode)) submitted++;
        }
        await this.options.health?.raiseDueAlerts();
      } catch (err) {
        this.logger.warn({ err }, 'scheduled crawl tick failed; retrying at the next tick');
      }
      return submitted;
    })();
    this.ticking = run.then(() => undefined);
    return run;
  }

  /** Submits the jobs of claims older than the lease whose claimer did not (it crashed, or lost the race). */
  private async settleAbandonedClaims(now: number): Promise<number> {
    const lease = this.options.claimLeaseMs ?? Math.max(2 * this.options.tickMs, 60_000);
    const abandoned = await this.sources.find({ claimedAt: { $lte: now - lease } }, { limit: 100 });
    let submitted = 0;
    for (const stored of abandoned) {
      const source = withSourceDefaults(stored);
      if (source.claimedJobId === null) continue;
      this.logger.info(
        { sourceId: source._id, jobId: source.claimedJobId },
        'submitting a scheduled crawl whose claimer did not',
      );
      if (await this.submitClaimed(source, source.claimedJobId, source.claimedMode ?? 'full')) submitted++;
    }
    return submitted;
  }

  /** Submits a claimed job (once across replicas) and clears the claim; returns whether this call created it. */
  private async submitClaimed(source: SourceRecord, jobId: string, mode: CrawlMode): Promise<boolean> {
    const created = await this.jobs.submitOnce(jobId, {
      authorId: source.authorId,
      sourceId: source._id,
      kind: source.kind,
      url: source.url,
      gitRef: source.gitRef,
      mode,
      ...(mode === 'incremental' ? { cursor: withSourceDefaults(source).cursor } : {}),
      trigger: 'schedule',
    });
    // Only this claim is cleared: a newer one (the next due time) has another id.
    await this.sources.update(
      source._id,
      { set: { claimedJobId: null, claimedMode: null, claimedAt: null } },
      { where: { claimedJobId: jobId } },
    );
    return created;
  }
}

/** The id of the crawl job a scheduled due time owes: the same on every replica, so it is submitted once. */
export function scheduledJobId(sourceId: string, dueAt: number): string {
  return `job_${sourceId}_${dueAt}`;
}
