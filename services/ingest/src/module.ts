// The ingest service as a module: authors and sources, crawl jobs on a schedule, and the raw-document
// warehouse whose every change goes out as a documents.raw.v1 event (through the outbox relay).
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { inferenceeventsv1, ingestv1, topics } from '@llmtwin/contracts';
import { adapterDependencies, OutboxSweeper, type ServiceModule } from '@llmtwin/host';
import { publishEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createLogger } from '@llmtwin/runtime';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { AuthorDirectory } from './domain/authors.js';
import { CrawlJobs, type Crawler } from './domain/crawl-jobs.js';
import type { ExtractedDocument } from './domain/extracted-document.js';
import { RawDocumentStore } from './domain/raw-documents.js';
import { CrawlScheduler } from './domain/scheduler.js';
import {
  DEFAULT_SOURCE_HEALTH,
  SourceHealth,
  type SourceAlert,
  type SourceHealthOptions,
} from './domain/source-health.js';
import { registerIngestRoutes } from './rpc/ingest.routes.js';
import { SourceCrawler } from './adapters/crawlers/source-crawler.js';
import { extractPage } from './adapters/extract/index.js';
import { SafeFetcher } from './adapters/fetch/index.js';
import { checkArchive, UploadArea, type ArchiveLimits } from './adapters/import/index.js';

export interface IngestDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
  logger?: Logger;
  /** Fetches and parses sources; default: the SourceCrawler over a SafeFetcher configured by `crawl`. */
  crawler?: Crawler;
  crawl?: {
    /** Hosts/CIDRs exempt from the public-address rule (e.g. an intranet blog); empty by default. */
    allow?: readonly string[];
    respectRobots?: boolean;
    /** Accept local git repositories (file://, paths): tests and trusted single-user setups only. */
    allowLocalGit?: boolean;
  };
  extractPage?: (html: Uint8Array, url: string) => ExtractedDocument;
  /** Holds the upload area (ingest-archives/: archives waiting for their import) and git scratch space. */
  dataDir?: string;
  schedulerTickMs?: number;
  /** Backoff of failing sources and when one raises an alert (default: 1 min doubling to 24 h; a day). */
  sourceHealth?: Partial<SourceHealthOptions>;
  outboxSweepMs?: number;
  /** Largest archive upload (default 256 MiB); the same as archives.maxArchiveBytes. */
  maxArchiveBytes?: number;
  /** Limits on uploaded archives (config.ts: archiveSettings); messages name the variables that raise them. */
  archives?: {
    maxArchiveBytes?: number;
    maxEntries?: number;
    maxTotalBytes?: number;
    uploadQuotaBytes?: number;
  };
}

const MiB = 1024 * 1024;
const UNARY_UPLOAD_READ_MAX_BYTES = 64 * MiB;

export async function createIngestModule(deps: IngestDeps): Promise<ServiceModule> {
  const logger = deps.logger ?? createLogger('ingest');
  const authors = new AuthorDirectory(deps.warehouse, Date.now, {
    allowLocalRepositories: deps.crawl?.allowLocalGit ?? false,
  });
  const store = new RawDocumentStore(deps.warehouse, deps.eventBus);
  const dataDir = path.resolve(deps.dataDir ?? '.llmtwin');
  const archiveLimits: Partial<ArchiveLimits> = {
    ...(deps.archives?.maxEntries !== undefined ? { maxEntries: deps.archives.maxEntries } : {}),
    ...(deps.archives?.maxTotalBytes !== undefined ? { maxTotalBytes: deps.archives.maxTotalBytes } : {}),
    settingNames: {
      maxEntries: 'LLMTWIN_INGEST_ARCHIVE_MAX_ENTRIES',
      maxTotalBytes: 'LLMTWIN_INGEST_ARCHIVE_MAX_UNCOMPRESSED_BYTES',
    },
  };
  const uploads = new UploadArea(path.join(dataDir, 'ingest-archives'), {
    maxArchiveBytes: deps.archives?.maxArchiveBytes ?? deps.maxArchiveBytes ?? 256 * MiB,
    quotaBytes: deps.archives?.uploadQuotaBytes ?? 1024 * MiB,
    settingNames: {
      maxArchiveBytes: 'LLMTWIN_INGEST_ARCHIVE_MAX_BYTES',
      quotaBytes: 'LLMTWIN_INGEST_UPLOAD_QUOTA_BYTES',
    },
  });
  const crawler =
    deps.crawler ??
    new SourceCrawler({
      fetcher: new SafeFetcher({
        policy: { allow: [...(deps.crawl?.allow ?? [])] },
        respectRobots: deps.crawl?.respectRobots ?? true,
      }),
      workDir: path.join(dataDir, 'ingest-git'),
      git: { allowLocal: deps.crawl?.allowLocalGit ?? false },
      archives: { limits: archiveLimits, discard: (file) => uploads.discard(file) },
    });
  const jobs = new CrawlJobs(deps.warehouse, store, crawler, logger);
  // A source failing for a day is announced with the router's alert contract, on the same topic.
  const replica = `ingest@${hostname()}`;
  const publishAlert = (alert: SourceAlert) => {
    logger.warn({ alert }, alert.message);
    publishEvent(deps.eventBus, topics.alerts, inferenceeventsv1.AlertRaisedSchema, 'crawl_source_failing', {
      eventId: randomUUID(),
      eventTime: timestampNow(),
      rule: 'crawl_source_failing',
      value: alert.failingHours,
      threshold: (deps.sourceHealth?.alertAfterMs ?? DEFAULT_SOURCE_HEALTH.alertAfterMs) / 3600_000,
      windowSize: BigInt(alert.consecutiveFailures),
      resolved: alert.resolved,
      source: replica,
      message: alert.message,
    }).catch((err: unknown) => logger.warn({ err, alert }, 'could not publish an alert event'));
  };
  const health = new SourceHealth(
    deps.warehouse,
    logger,
    { ...DEFAULT_SOURCE_HEALTH, ...deps.sourceHealth },
    publishAlert,
  );
  jobs.onFinished((job) => health.record(job));
  const scheduler = new CrawlScheduler(deps.warehouse, jobs, logger, {
    tickMs: deps.schedulerTickMs ?? 15_000,
    health,
  });
  const outbox = new OutboxSweeper(() => store.flushOutbox(), logger, deps.outboxSweepMs);

  await authors.init();
  await deps.eventBus.ensureTopics([topics.alerts]);
  await store.init();
  await jobs.init();
  // Only archives that an unfinished import still needs stay; anything else there is a leftover (an upload
  // cut off by a crash, or an archive kept by a version that never deleted them).
  const pending = await jobs.jobs.find({ 'target.kind': 'archive', state: { $in: ['queued', 'running'] } });
  const removed = await uploads.sweep(
    new Set(pending.flatMap((j) => (j.target.archivePath ? [j.target.archivePath] : []))),
  );
  if (removed.length > 0) logger.info({ removed: removed.length }, 'deleted leftover uploaded archives');

  return {
    name: 'ingest',
    services: [ingestv1.IngestService],
    // The gateway bounds what the public may send (LLMTWIN_GATEWAY_MAX_UPLOAD_BYTES, 32 MiB by default, for
    // ImportArchive and ExtractPage); ingest must not refuse with a transport error what it let through.
    // Larger archives come as UploadArchive chunks, which this does not bound.
    readMaxBytes: UNARY_UPLOAD_READ_MAX_BYTES,
    register: (router) =>
      registerIngestRoutes(router, {
        authors,
        store,
        jobs,
        extractPage: deps.extractPage ?? ((html, url) => extractPage(html, url)),
        uploads,
        checkArchive: async (archivePath, fileName) => {
          await checkArchive({ zipPath: archivePath, fileName }, archiveLimits);
        },
      }),
    dependencies: adapterDependencies(deps),
    async start() {
      // Events whose writes happened before a crash go out first, then interrupted crawls resume.
      await outbox.start();
      await jobs.resume();
      scheduler.start();
    },
    async stop() {
      await scheduler.stop();
      await jobs.stop();
      await outbox.stop();
    },
  };
}
