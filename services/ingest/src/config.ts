import { baseConfigSchema, boolVar, ConfigError, intVar, listVar, loadConfig } from '@llmtwin/runtime';
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

/** Backoff of failing sources and their alert; embedded mode (`llmtwin up`) reads the same variables. */
export const sourceHealthConfigSchema = z.object({
  LLMTWIN_INGEST_BACKOFF_BASE_SECONDS: intVar({ min: 1, max: 86_400 })
    .default(60)
    .describe(
      "how long after a source's first failed crawl it is tried again; doubles with each further one",
    ),
  LLMTWIN_INGEST_BACKOFF_CAP_SECONDS: intVar({ min: 1, max: 7 * 86_400 })
    .default(86_400)
    .describe('longest wait between crawls of a failing source (not below the base)'),
  LLMTWIN_INGEST_ALERT_AFTER_HOURS: intVar({ min: 1, max: 30 * 24 })
    .default(24)
    .describe('a source failing for this many hours raises a crawl_source_failing alert'),
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
  ...sourceHealthConfigSchema.shape,
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

/** The source-health options createIngestModule takes (backoff and the failing-source alert). */
export const sourceHealthSettings = (config: z.infer<typeof sourceHealthConfigSchema>) => {
  const baseMs = config.LLMTWIN_INGEST_BACKOFF_BASE_SECONDS * 1000;
  const capMs = config.LLMTWIN_INGEST_BACKOFF_CAP_SECONDS * 1000;
  if (capMs < baseMs) {
    // A cap below the first delay would make every delay the cap: almost surely two values swapped.
    throw new ConfigError([
      {
        variable: 'LLMTWIN_INGEST_BACKOFF_CAP_SECONDS',
        message:
          `is ${config.LLMTWIN_INGEST_BACKOFF_CAP_SECONDS}, below LLMTWIN_INGEST_BACKOFF_BASE_SECONDS ` +
          `(${config.LLMTWIN_INGEST_BACKOFF_BASE_SECONDS}): expected a cap at least the base`,
      },
    ]);
  }
  return { backoff: { baseMs, capMs }, alertAfterMs: config.LLMTWIN_INGEST_ALERT_AFTER_HOURS * 3600_000 };
};

export const loadSourceHealthConfig = (env: NodeJS.ProcessEnv = process.env) =>
  loadConfig(sourceHealthConfigSchema, env);
