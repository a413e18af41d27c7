import { baseConfigSchema, boolVar, listVar, loadConfig } from '@llmtwin/runtime';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  LLMTWIN_WAREHOUSE_URL: z.string().describe('mongodb://… or sqlite:<file>'),
  LLMTWIN_EVENT_BUS_URL: z.string().describe('kafka://host:port[,host:port] or log:<file>'),
  /** Hosts or CIDRs the crawlers may fetch although they are not public (e.g. an intranet blog). */
  LLMTWIN_CRAWL_ALLOW: listVar().default([]),
  LLMTWIN_CRAWL_RESPECT_ROBOTS: boolVar().default(true),
  /** Accept local git repositories as sources: tests and trusted single-user setups only. */
  LLMTWIN_CRAWL_ALLOW_LOCAL_GIT: boolVar().default(false),
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
