export { createIngestModule, type IngestDeps } from './module.js';
export {
  archiveSettings,
  configSchema as ingestConfigSchema,
  crawlSettings,
  loadArchiveConfig,
  loadIngestConfig,
  loadSourceHealthConfig,
  sourceHealthSettings,
} from './config.js';
export { extractPage, ExtractError } from './adapters/extract/index.js';
export { SourceCrawler, type SourceCrawlerOptions } from './adapters/crawlers/source-crawler.js';
export { SafeFetcher, type SafeFetcherOptions } from './adapters/fetch/index.js';
export {
  SAVED_PAGES_MANIFEST,
  writeZip,
  type SavedPageEntry,
  type SavedPagesManifest,
  type ZipFileEntry,
} from './adapters/import/index.js';
