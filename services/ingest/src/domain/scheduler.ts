// Scheduled crawls: each tick claims the sources that are due (compare-and-set on nextCrawlAt, so two
// replicas never start the same crawl twice) and submits a job for each.
import type { Collection, Warehouse } from '@llmtwin/ports';
import type { Logger } from 'pino';
import type { SourceRecord } from './authors.js';
import type { CrawlJobs } from './crawl-jobs.js';

export class CrawlScheduler {
  private readonly sources: Collection<SourceRecord>;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    warehouse: Warehouse,
    private readonly jobs: CrawlJobs,
    private readonly logger: Logger,
    private readonly options: { tickMs: number } = { tickMs: 15_000 },
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
        const due = await this.sources.find({ nextCrawlAt: { $lte: this.now() } }, { limit: 100 });
        for (const source of due) {
          if (source.nextCrawlAt === null) continue;
          const claimed = await this.sources.update(
            source._id,
            {
              set: {
                nextCrawlAt: this.now() + source.scheduleIntervalSeconds * 1000,
                lastCrawlAt: this.now(),
              },
            },
            { where: { nextCrawlAt: source.nextCrawlAt } },
          );
          if (!claimed) continue; // another replica took it
          await this.jobs.submit({
            authorId: source.authorId,
            sourceId: source._id,
            kind: source.kind,
            url: source.url,
            gitRef: source.gitRef,
          });
          submitted++;
        }
      } catch (err) {
        this.logger.warn({ err }, 'scheduled crawl tick failed; retrying at the next tick');
      }
      return submitted;
    })();
    this.ticking = run.then(() => undefined);
    return run;
  }
}
