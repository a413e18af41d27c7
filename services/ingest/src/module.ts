// The ingest service as a module: authors and sources, crawl jobs on a schedule, and the raw-document
// warehouse whose every change goes out as a documents.raw.v1 event (through the outbox relay).
import { ingestv1 } from '@llmtwin/contracts';
import { adapterDependencies, OutboxSweeper, type ServiceModule } from '@llmtwin/host';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createLogger } from '@llmtwin/runtime';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { AuthorDirectory } from './domain/authors.js';
import { CrawlJobs, type Crawler } from './domain/crawl-jobs.js';
import type { ExtractedDocument } from './domain/extracted-document.js';
import { RawDocumentStore } from './domain/raw-documents.js';
import { CrawlScheduler } from './domain/scheduler.js';
import { registerIngestRoutes } from './rpc/ingest.routes.js';
import { SourceCrawler } from './adapters/crawlers/source-crawler.js';
import { extractPage } from './adapters/extract/index.js';
import { SafeFetcher } from './adapters/fetch/index.js';

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
  /** Where uploaded archives are kept until imported. */
  dataDir?: string;
  schedulerTickMs?: number;
  outboxSweepMs?: number;
  maxArchiveBytes?: number;
}

export async function createIngestModule(deps: IngestDeps): Promise<ServiceModule> {
  const logger = deps.logger ?? createLogger('ingest');
  const authors = new AuthorDirectory(deps.warehouse, Date.now, {
    allowLocalRepositories: deps.crawl?.allowLocalGit ?? false,
  });
  const store = new RawDocumentStore(deps.warehouse, deps.eventBus);
  const dataDir = path.resolve(deps.dataDir ?? '.llmtwin');
  const crawler =
    deps.crawler ??
    new SourceCrawler({
      fetcher: new SafeFetcher({
        policy: { allow: [...(deps.crawl?.allow ?? [])] },
        respectRobots: deps.crawl?.respectRobots ?? true,
      }),
      workDir: path.join(dataDir, 'ingest-git'),
      git: { allowLocal: deps.crawl?.allowLocalGit ?? false },
    });
  const jobs = new CrawlJobs(deps.warehouse, store, crawler, logger);
  const scheduler = new CrawlScheduler(deps.warehouse, jobs, logger, {
    tickMs: deps.schedulerTickMs ?? 15_000,
  });
  const archiveDir = path.join(dataDir, 'ingest-archives');
  const outbox = new OutboxSweeper(() => store.flushOutbox(), logger, deps.outboxSweepMs);

  await authors.init();
  await store.init();
  await jobs.init();

  return {
    name: 'ingest',
    services: [ingestv1.IngestService],
    register: (router) =>
      registerIngestRoutes(router, {
        authors,
        store,
        jobs,
        extractPage: deps.extractPage ?? ((html, url) => extractPage(html, url)),
        maxArchiveBytes: deps.maxArchiveBytes ?? 256 * 1024 * 1024,
        saveArchive: async (fileName, bytes) => {
          await mkdir(archiveDir, { recursive: true });
          const file = path.join(archiveDir, `${randomUUID()}-${fileName}`);
          await writeFile(file, bytes);
          return file;
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
