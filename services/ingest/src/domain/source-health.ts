// What a finished crawl means for its source: a success moves the cursor on and clears the failure count (and
// an on-demand one stands in for the scheduled crawl of an interval source, see success()); a
// failure keeps its reason, backs the next scheduled crawl off exponentially (up to a cap), and once the
// source has failed for a day raises one alert (at the scheduler's first tick past the day, or the first
// failure past it, whichever comes first) and resolves it at the next success. Each write is a
// compare-and-set on the fields it read, so two replicas finishing crawls of one source cannot double-count.
import type { Collection, Value, Warehouse } from '@llmtwin/ports';
import type { Logger } from 'pino';
import { scheduleOf, withSourceDefaults, type SourceRecord } from './authors.js';
import type { CrawlJobRecord } from './crawl-jobs.js';
import { backoffDelayMs, DEFAULT_BACKOFF, nextDue, type BackoffPolicy } from './schedule.js';

export interface SourceAlert {
  sourceId: string;
  authorId: string;
  url: string;
  /** Hours the source has been failing. */
  failingHours: number;
  consecutiveFailures: number;
  lastError: string;
  resolved: boolean;
  message: string;
}

export interface SourceHealthOptions {
  backoff: BackoffPolicy;
  /** A source failing for this long raises an alert. */
  alertAfterMs: number;
}

export const DEFAULT_SOURCE_HEALTH: SourceHealthOptions = {
  backoff: DEFAULT_BACKOFF,
  alertAfterMs: 24 * 3600_000,
};

/**
 * Whether a job counts as a failure of its source: it failed outright, or every item it tried failed (a feed
 * that answered 500 is an item error, but nothing was read).
 */
export function crawlFailed(job: CrawlJobRecord): boolean {
  if (job.state === 'failed') return true;
  const progressed = job.created + job.updated + job.unchanged + job.tombstoned;
  return job.state === 'partial' && progressed === 0 && job.errors.length > 0;
}

export class SourceHealth {
  private readonly sources: Collection<SourceRecord>;

  constructor(
    warehouse: Warehouse,
    private readonly logger: Logger,
    private readonly options: SourceHealthOptions = DEFAULT_SOURCE_HEALTH,
    private readonly publish: (alert: SourceAlert) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.sources = warehouse.collection<SourceRecord>('sources');
  }

  /** Records a finished job on its source (one-off URLs and cancelled jobs change nothing). */
  async record(job: CrawlJobRecord): Promise<void> {
    const sourceId = job.target.sourceId;
    if (!sourceId || job.state === 'cancelled' || job.target.kind === 'archive') return;
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.sources.get(sourceId);
      if (!stored) return; // removed meanwhile
      const source = withSourceDefaults(stored);
      const update = crawlFailed(job) ? this.failure(source, job) : this.success(source, job);
      const done = await this.sources.update(
        sourceId,
        // Every field set is defined: Partial only says which ones this outcome touches.
        { set: update.set as { [field: string]: Value } },
        {
          where: {
            consecutiveFailures: stored.consecutiveFailures ?? null,
            nextCrawlAt: source.nextCrawlAt,
            // A tick's alert sweep may have raised it meanwhile: read again rather than raise it twice.
            alertedAt: source.alertedAt,
          },
        },
      );
      if (done) {
        if (update.alert) this.publish(update.alert);
        return;
      }
    }
    this.logger.warn(
      { sourceId, jobId: job._id },
      'could not record a crawl on its source: too much contention',
    );
  }

  /**
   * Raises the alert for sources that have been failing for a day without a crawl finishing since (a
   * backed-off source may wait hours for its next try); the scheduler calls it at each tick.
   */
  async raiseDueAlerts(): Promise<number> {
    const now = this.now();
    const due = await this.sources.find(
      { failingSince: { $lte: now - this.options.alertAfterMs }, alertedAt: null },
      { limit: 100 },
    );
    let raised = 0;
    for (const stored of due) {
      const source = withSourceDefaults(stored);
      if (source.failingSince === null) continue;
      const claimed = await this.sources.update(
        source._id,
        { set: { alertedAt: now } },
        { where: { alertedAt: null, failingSince: source.failingSince } },
      );
      if (!claimed) continue; // another replica raised it, or the source recovered meanwhile
      this.publish(this.alert(source, { resolved: false, hours: (now - source.failingSince) / 3600_000 }));
      raised++;
    }
    return raised;
  }

  private success(source: SourceRecord, job: CrawlJobRecord) {
    const at = job.endedAt ?? this.now();
    const set: Partial<SourceRecord> = {
      lastSuccessAt: at,
      consecutiveFailures: 0,
      failingSince: null,
      alertedAt: null,
      ...(job.cursor ? { cursor: job.cursor } : {}),
    };
    if (job.target.trigger !== 'schedule' && !source.paused) {
      // An on-demand crawl that succeeded stands in for the scheduled one. An interval source ("every 6 h":
      // no crawl older than that) counts its next interval from it, so a crawl asked for ten minutes before
      // the due time is not followed by an identical one; it also ends a backoff. A cron source keeps its
      // instants: the user picked those wall-clock times (off-peak, after a weekly post), and the
      // incremental crawl there costs little after this one.
      if (source.cron === '' && source.scheduleIntervalSeconds > 0 && source.nextCrawlAt !== null) {
        set.nextCrawlAt = nextDue(scheduleOf(source), source._id, at);
      }
      // A full one also counts as the scheduled full crawl.
      if (job.target.mode !== 'incremental' && source.fullCrawlIntervalSeconds > 0) {
        set.nextFullCrawlAt = at + source.fullCrawlIntervalSeconds * 1000;
      }
    }
    const alert =
      source.alertedAt !== null
        ? this.alert(source, { resolved: true, hours: (at - (source.failingSince ?? at)) / 3600_000 })
        : undefined;
    return { set, alert };
  }

  private failure(source: SourceRecord, job: CrawlJobRecord) {
    const at = job.endedAt ?? this.now();
    const failures = source.consecutiveFailures + 1;
    const lastError = job.errors.at(-1)?.message ?? 'the crawl failed';
    const failingSince = source.failingSince ?? at;
    const set: Partial<SourceRecord> = {
      consecutiveFailures: failures,
      lastFailureAt: at,
      lastError: lastError.slice(0, 2000),
      failingSince,
    };
    // A failing source is not tried again sooner than its backoff, whatever its schedule says.
    if (source.nextCrawlAt !== null && !source.paused) {
      set.nextCrawlAt = Math.max(source.nextCrawlAt, at + backoffDelayMs(failures, this.options.backoff));
    }
    let alert: SourceAlert | undefined;
    if (source.alertedAt === null && at - failingSince >= this.options.alertAfterMs) {
      set.alertedAt = at;
      alert = this.alert(
        { ...source, consecutiveFailures: failures, lastError },
        { resolved: false, hours: (at - failingSince) / 3600_000 },
      );
    }
    return { set, alert };
  }

  private alert(source: SourceRecord, o: { resolved: boolean; hours: number }): SourceAlert {
    const hours = Math.round(o.hours * 10) / 10;
    return {
      sourceId: source._id,
      authorId: source.authorId,
      url: source.url,
      failingHours: hours,
      consecutiveFailures: source.consecutiveFailures,
      lastError: source.lastError,
      resolved: o.resolved,
      message: o.resolved
        ? `source ${source._id} (${source.url}) crawls again after failing for ${hours} h`
        : `source ${source._id} (${source.url}) has failed for ${hours} h ` +
          `(${source.consecutiveFailures} crawls in a row): ${source.lastError}`,
    };
  }
}
