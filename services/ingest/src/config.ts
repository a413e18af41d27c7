import { baseConfigSchema, boolVar, intVar, listVar, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

const MiB = 1024 * 1024;

/** Limits on uploaded export archives; embedded mode (`llmtwin up`) reads the same variables. */
export const archiveConfigSchema = z.object({
  LLMTWIN_INGEST_ARCHIVE_MAX_BYTES: intVar({ min: 1024 })
    .default(256 * MiB)
    .describe('largest export archive accepted for import, in bytes (as uploaded, compressed)'),
  LLMTWIN_INGEST_ARCHIVE_MAX_ENTRIES: intVar({ min: 1 })
    .default(20_000)
    .describe('most entries (files and folders) an export archive may list'),
  LLMTWIN_INGEST_ARCHIVE_MAX_UNCOMPRESSED_BYTES: intVar({ min: 1024 })
    .default(512 * MiB)
    .describe('most bytes the entries of an export archive may hold together, uncompressed'),
  LLMTWIN_INGEST_UPLOAD_QUOTA_BYTES: intVar({ min: 1024 })
    .default(1024 * MiB)
    .describe(
      'most bytes the archives waiting to be imported may hold together on disk (each is deleted once read)',
    ),
});

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file>'),
  LLMTWIN_EVENT_BUS_URL: z.string().describe('kafka://host:port[,host:port] or log:<file>'),
  /** Hosts or CIDRs the crawlers may fetch although they are not public (e.g. an intranet blog). */
  LLMTWIN_CRAWL_ALLOW: listVar().default([]),
  LLMTWIN_CRAWL_RESPECT_ROBOTS: boolVar().default(true),
  /** Accept local git repositories as sources: tests and trusted single-user setups only. */
  LLMTWIN_CRAWL_ALLOW_LOCAL_GIT: boolVar().default(false),
  ...archiveConfigSchema.shape,
});

export type IngestConfig = z.infer<typeof configSchema>;

export const loadIngestConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(configSchema, env);

export const crawlSettings = (
  config: Pick<IngestConfig, `LLMTWIN_CRAWL_${string}` & keyof IngestConfig>,
) => ({
  allow: config.LLMTWIN_CRAWL_ALLOW,
  respectRobots: config.LLMTWIN_CRAWL_RESPECT_ROBOTS,
  allowLocalGit: config.LLMTWIN_CRAWL_ALLOW_LOCAL_GIT,
});

/** The archive settings createIngestModule takes, each limit with the variable that raises it. */
export const archiveSettings = (config: z.infer<typeof archiveConfigSchema>) => ({
  maxArchiveBytes: config.LLMTWIN_INGEST_ARCHIVE_MAX_BYTES,
  maxEntries: config.LLMTWIN_INGEST_ARCHIVE_MAX_ENTRIES,
  maxTotalBytes: config.LLMTWIN_INGEST_ARCHIVE_MAX_UNCOMPRESSED_BYTES,
  uploadQuotaBytes: config.LLMTWIN_INGEST_UPLOAD_QUOTA_BYTES,
});

export const loadArchiveConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadConfig(archiveConfigSchema, env);
