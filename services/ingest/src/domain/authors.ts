// Authors and their sources: the registry of whose content is collected, from where, and how often.
import { alreadyExists, invalidArgument, notFound } from '@llmtwin/runtime/errors';
import type { Collection, Record as StoredRecord, Warehouse } from '@llmtwin/ports';
import { createHash, randomUUID } from 'node:crypto';
import type { CrawlMode } from './crawl-jobs.js';
import { EMPTY_CURSOR, type SourceCursor } from './source-cursor.js';
import { isScheduled, nextDue, validateSchedule, type Schedule } from './schedule.js';

export interface AuthorRecord extends StoredRecord {
  _id: string;
  displayName: string;
  aliases: string[];
  createdAt: number;
}

export type SourceKind = 'profile' | 'repository' | 'single-url' | 'archive';
export type PlatformName = 'medium' | 'substack' | 'linkedin' | 'github' | 'web';

export interface SourceRecord extends StoredRecord {
  _id: string;
  authorId: string;
  kind: SourceKind;
  url: string;
  platform: PlatformName;
  scheduleIntervalSeconds: number;
  /** A cron expression ('' for none), read in cronTimeZone ('' for UTC). */
  cron: string;
  cronTimeZone: string;
  jitterSeconds: number;
  /** A paused source keeps its schedule but has no next crawl until resumed. */
  paused: boolean;
  /** Scheduled crawls are incremental; every this many seconds one is a full crawl (0: only on demand). */
  fullCrawlIntervalSeconds: number;
  nextFullCrawlAt: number | null;
  cursor: SourceCursor;
  gitRef: string;
  createdAt: number;
  lastCrawlAt: number | null;
  nextCrawlAt: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  /** Why the last failed crawl failed ('' when none has). */
  lastError: string;
  consecutiveFailures: number;
  /** When the current run of failures began; null while healthy. */
  failingSince: number | null;
  /** When the "failing for a day" alert was raised for the current run of failures. */
  alertedAt: number | null;
  /**
   * A due time a scheduler claimed and whose crawl job it may not have submitted yet: the job's id (derived
   * from the source id and the due time), its mode, and when it was claimed. Cleared once the job exists;
   * a claim older than the scheduler's lease is submitted by whichever replica finds it (scheduler.ts).
   */
  claimedJobId: string | null;
  claimedMode: CrawlMode | null;
  claimedAt: number | null;
}

/** How often a scheduled source is crawled in full (to find deletions) when nothing else is asked: weekly. */
export const DEFAULT_FULL_CRAWL_SECONDS = 7 * 24 * 3600;

/** A source as stored before schedules, cursors and health existed gets their defaults. */
export function withSourceDefaults(s: SourceRecord): SourceRecord {
  return {
    ...s,
    cron: s.cron ?? '',
    cronTimeZone: s.cronTimeZone ?? '',
    jitterSeconds: s.jitterSeconds ?? 0,
    paused: s.paused ?? false,
    fullCrawlIntervalSeconds: s.fullCrawlIntervalSeconds ?? 0,
    nextFullCrawlAt: s.nextFullCrawlAt ?? null,
    cursor: { ...EMPTY_CURSOR, ...s.cursor },
    lastSuccessAt: s.lastSuccessAt ?? null,
    lastFailureAt: s.lastFailureAt ?? null,
    lastError: s.lastError ?? '',
    consecutiveFailures: s.consecutiveFailures ?? 0,
    failingSince: s.failingSince ?? null,
    alertedAt: s.alertedAt ?? null,
    claimedJobId: s.claimedJobId ?? null,
    claimedMode: s.claimedMode ?? null,
    claimedAt: s.claimedAt ?? null,
  };
}

export const scheduleOf = (s: SourceRecord): Schedule => ({
  intervalSeconds: s.scheduleIntervalSeconds,
  cron: s.cron,
  timeZone: s.cronTimeZone,
  jitterSeconds: s.jitterSeconds,
});

const AUTHOR_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function platformOf(url: URL): PlatformName {
  const host = url.hostname.toLowerCase();
  if (host === 'medium.com' || host.endsWith('.medium.com')) return 'medium';
  if (host.endsWith('.substack.com') || host === 'substack.com') return 'substack';
  if (host === 'linkedin.com' || host.endsWith('.linkedin.com')) return 'linkedin';
  if (host === 'github.com') return 'github';
  return 'web';
}

export function parseSourceUrl(raw: string, options: { allowFile?: boolean } = {}): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument(`url "${raw}" is not an absolute URL: give one like https://medium.com/@you`, [
      { field: 'url', message: 'must be an absolute http(s) URL' },
    ]);
  }
  const local = url.protocol === 'file:' && options.allowFile === true;
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && !local) {
    throw invalidArgument(`url must use http or https, not ${url.protocol}`, [
      { field: 'url', message: 'must be an absolute http(s) URL' },
    ]);
  }
  url.hash = '';
  return url;
}

export class AuthorDirectory {
  private readonly authors: Collection<AuthorRecord>;
  private readonly sources: Collection<SourceRecord>;

  constructor(
    warehouse: Warehouse,
    private readonly now: () => number = Date.now,
    /** Local git repositories (file:// URLs) as repository sources: where the crawler accepts them. */
    private readonly options: { allowLocalRepositories?: boolean } = {},
  ) {
    this.authors = warehouse.collection<AuthorRecord>('authors');
    this.sources = warehouse.collection<SourceRecord>('sources');
  }

  async init(): Promise<void> {
    await this.sources.ensureIndex({ fields: [{ field: 'authorId', direction: 'asc' }] });
    await this.sources.ensureIndex({
      name: 'sources_author_url',
      fields: [
        { field: 'authorId', direction: 'asc' },
        { field: 'url', direction: 'asc' },
      ],
      unique: true,
    });
  }

  async createAuthor(input: { id?: string; displayName: string; aliases: string[] }): Promise<AuthorRecord> {
    const displayName = input.displayName.trim();
    const problems = [];
    if (!displayName) problems.push({ field: 'display_name', message: 'must not be empty' });
    if (displayName.length > 200) problems.push({ field: 'display_name', message: 'at most 200 characters' });
    const id = input.id?.trim() || slugify(displayName);
    if (!AUTHOR_ID.test(id)) {
      problems.push({
        field: 'id',
        message: 'lowercase letters, digits and "-", at most 63, starting alphanumeric',
      });
    }
    if (problems.length > 0) throw invalidArgument('the author is not valid', problems);
    const record: AuthorRecord = {
      _id: id,
      displayName,
      aliases: [...new Set(input.aliases.map((a) => a.trim()).filter(Boolean))],
      createdAt: this.now(),
    };
    try {
      await this.authors.insert(record);
    } catch (err) {
      if (err instanceof Error && 'kind' in err && err.kind === 'already-exists') {
        throw alreadyExists(`author "${id}" already exists: choose another id`, err);
      }
      throw err;
    }
    return record;
  }

  async getAuthor(id: string): Promise<AuthorRecord> {
    const author = id ? await this.authors.get(id) : undefined;
    if (!author) throw notFound(`author "${id}" does not exist: create it first (CreateAuthor)`);
    return author;
  }

  async listAuthors(page: { size: number; after: string }): Promise<AuthorRecord[]> {
    return this.authors.find(page.after ? { _id: { $gt: page.after } } : {}, {
      sort: [{ field: '_id', direction: 'asc' }],
      limit: page.size,
    });
  }

  async addSource(input: {
    authorId: string;
    url: string;
    kind: SourceKind | undefined;
    scheduleIntervalSeconds: number;
    cron?: string;
    timeZone?: string;
    jitterSeconds?: number;
    /** Unset: weekly for a scheduled source; 0: full crawls only on demand. */
    fullCrawlIntervalSeconds?: number;
    gitRef: string;
  }): Promise<SourceRecord> {
    await this.getAuthor(input.authorId);
    const local =
      this.options.allowLocalRepositories === true && (input.kind ?? 'repository') === 'repository';
    const url = parseSourceUrl(input.url, { allowFile: local });
    const schedule: Schedule = {
      intervalSeconds: input.scheduleIntervalSeconds,
      cron: (input.cron ?? '').trim(),
      timeZone: (input.timeZone ?? '').trim(),
      jitterSeconds: input.jitterSeconds ?? 0,
    };
    validateSchedule(schedule);
    const full = input.fullCrawlIntervalSeconds ?? (isScheduled(schedule) ? DEFAULT_FULL_CRAWL_SECONDS : 0);
    if (!Number.isInteger(full) || full < 0 || (full > 0 && full < 3600)) {
      throw invalidArgument('full_crawl_interval_seconds must be 0 (on demand only) or at least 3600', [
        { field: 'full_crawl_interval_seconds', message: '0 or >= 3600' },
      ]);
    }
    const platform = platformOf(url);
    const kind = input.kind ?? (platform === 'github' || url.protocol === 'file:' ? 'repository' : 'profile');
    const createdAt = this.now();
    const id = sourceId(input.authorId, url.href);
    const record: SourceRecord = withSourceDefaults({
      _id: id,
      authorId: input.authorId,
      kind,
      url: url.href,
      platform,
      scheduleIntervalSeconds: schedule.intervalSeconds,
      cron: schedule.cron,
      cronTimeZone: schedule.timeZone,
      jitterSeconds: schedule.jitterSeconds,
      fullCrawlIntervalSeconds: full,
      gitRef: input.gitRef,
      createdAt,
      lastCrawlAt: null,
      // An interval source is crawled at once (its first crawl is full: there is no cursor yet); a cron
      // source waits for its first due time.
      nextCrawlAt: schedule.cron
        ? nextDue(schedule, id, createdAt)
        : schedule.intervalSeconds > 0
          ? createdAt
          : null,
    } as SourceRecord);
    try {
      await this.sources.insert(record);
    } catch (err) {
      if (err instanceof Error && 'kind' in err && err.kind === 'already-exists') {
        throw alreadyExists(`author "${input.authorId}" already has the source ${url.href}`, err);
      }
      throw err;
    }
    return record;
  }

  /**
   * The source an imported export archive stands for: one per author and file name, so its documents can be
   * listed with it and removed (with purge) like a crawled source's; importing the same file again reuses it.
   */
  async archiveSource(authorId: string, fileName: string): Promise<SourceRecord> {
    await this.getAuthor(authorId);
    const url = `archive:${fileName}`;
    const existing = await this.sources.get(sourceId(authorId, url));
    if (existing) return withSourceDefaults(existing);
    const name = fileName.toLowerCase();
    const platform: PlatformName = name.includes('medium')
      ? 'medium'
      : name.includes('substack')
        ? 'substack'
        : name.includes('linkedin')
          ? 'linkedin'
          : 'web';
    const record: SourceRecord = withSourceDefaults({
      _id: sourceId(authorId, url),
      authorId,
      kind: 'archive',
      url,
      platform,
      scheduleIntervalSeconds: 0,
      gitRef: '',
      createdAt: this.now(),
      lastCrawlAt: null,
      nextCrawlAt: null,
    } as SourceRecord);
    try {
      await this.sources.insert(record);
    } catch (err) {
      // Two imports of one file at once: the other created it.
      if (!(err instanceof Error && 'kind' in err && err.kind === 'already-exists')) throw err;
    }
    return record;
  }

  async listSources(authorId: string, page: { size: number; after: string }): Promise<SourceRecord[]> {
    const filter: Record<string, unknown> = {};
    if (authorId) filter['authorId'] = authorId;
    if (page.after) filter['_id'] = { $gt: page.after };
    const found = await this.sources.find(filter as never, {
      sort: [{ field: '_id', direction: 'asc' }],
      limit: page.size,
    });
    return found.map(withSourceDefaults);
  }

  async getSource(id: string): Promise<SourceRecord> {
    const source = id ? await this.sources.get(id) : undefined;
    if (!source) throw notFound(`source "${id}" does not exist`);
    return withSourceDefaults(source);
  }

  /** Stops scheduled crawls of a source (on-demand crawls still run); its state is kept. */
  async pauseSource(id: string): Promise<SourceRecord> {
    const source = await this.getSource(id);
    await this.sources.update(id, { set: { paused: true, nextCrawlAt: null } });
    return { ...source, paused: true, nextCrawlAt: null };
  }

  /** Schedules a paused source again from now: the next due time, not the ones missed while paused. */
  async resumeSource(id: string): Promise<SourceRecord> {
    const source = await this.getSource(id);
    const nextCrawlAt = nextDue(scheduleOf(source), source._id, this.now());
    await this.sources.update(id, { set: { paused: false, nextCrawlAt } });
    return { ...source, paused: false, nextCrawlAt };
  }

  async removeSource(id: string): Promise<void> {
    const removed = id ? await this.sources.delete(id) : false;
    if (!removed) throw notFound(`source "${id}" does not exist`);
  }
}

export function sourceId(authorId: string, url: string): string {
  return 'src_' + createHash('sha256').update(`${authorId}\n${url}`).digest('hex').slice(0, 24);
}

function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return slug || `author-${randomUUID().slice(0, 8)}`;
}
