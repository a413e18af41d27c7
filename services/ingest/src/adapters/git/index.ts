export {
  crawlRepository,
  resolvePublicHost,
  DEFAULT_GIT_CRAWL_LIMITS,
  type GitCrawlLimits,
  type GitCrawlOptions,
  type GitCrawlResult,
  type SkippedFile,
} from './git-crawler.js';
export { LIMIT_REASONS, skipByContent, skipByEntry, type SkipReason, type TreeEntry } from './file-filter.js';
export { detectLanguage } from './language.js';
export {
  assertSafeRef,
  fileUrl,
  parseRepositoryUrl,
  type RepositoryTarget,
  type RepositoryUrlPolicy,
} from './repository-url.js';
