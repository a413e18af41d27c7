// Scheduled crawls: each tick claims the sources that are due (compare-and-set on nextCrawlAt, so of two
// replicas that see the same due time exactly one moves it on and starts the crawl) and submits a job for
// each. A scheduled crawl is incremental (from the source's cursor) unless the source has no cursor yet or
// its slower full-crawl schedule is due too. The next due time comes from the source's interval or cron
// expression (schedule.ts); a paused source has none.
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
    private readonly jobs: CrawlJobs,
    private readonly logger: Logger,
    private readonly options: {
      tickMs: number;
      /** Raises the alerts of sources failing for a day; called at every tick. */
      health?: { raiseDueAlerts(): Promise<number> };
    } = { tickMs: 15_000 },
    private readonly now: () => number = Date.now,
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

  /** Submits a job for every due source; returns how many. */
  tick(): Promise<number> {
    const run = (async () => {
      let submitted = 0;
      try {
        const now = this.now();
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
          const claimed = await this.sources.update(
            source._id,
            {
              set: {
                nextCrawlAt: next,
                lastCrawlAt: now,
                ...(mode === 'full' && source.fullCrawlIntervalSeconds > 0
                  ? { nextFullCrawlAt: now + source.fullCrawlIntervalSeconds * 1000 }
                  : {}),
              },
            },
            { where: { nextCrawlAt: dueAt } },
          );
          if (!claimed) continue; // another replica took this due time
          await this.jobs.submit({
            authorId: source.authorId,
            sourceId: source._id,
            kind: source.kind,
            url: source.url,
            gitRef: source.gitRef,
            mode,
            ...(mode === 'incremental' ? { cursor: source.cursor } : {}),
          });
          submitted++;
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
}
