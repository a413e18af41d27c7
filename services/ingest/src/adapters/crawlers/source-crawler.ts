// The crawler dispatcher: chooses how to collect a target by its kind and URL — a repository through git, an
// export archive through the importers, a profile through its platform's listing (Substack's archive API,
// a Medium or any RSS feed), a single page through the page parsers with a generic-article fallback.
// Every network access goes through the SafeFetcher (or git's pinned resolver).
import { existsSync } from 'node:fs';
import {
  EMPTY_CURSOR,
  type Crawler,
  type CrawlItem,
  type CrawlTarget,
  type SourceCursor,
} from '../../domain/crawl-jobs.js';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import {
  extractPage,
  parseMediumFeed,
  parseSubstackArchive,
  parseSubstackPostJson,
} from '../extract/index.js';
import type { SafeFetcher } from '../fetch/index.js';
import { crawlRepository, LIMIT_REASONS, type GitCrawlOptions } from '../git/index.js';
import { importArchive, type ArchiveLimits } from '../import/index.js';

export interface SourceCrawlerOptions {
  fetcher: SafeFetcher;
  /** Scratch space for git fetches. */
  workDir: string;
  git?: Pick<GitCrawlOptions, 'allowLocal' | 'allowHttp' | 'resolveHost' | 'limits'>;
  /**
   * Substack post bodies requested at once (default 4); the fetcher's per-host limit still decides how many
   * reach one site together.
   */
  postConcurrency?: number;
  /** Posts fetched per Substack archive page, and the most a profile crawl lists. */
  substackPageSize?: number;
  /** Uploaded archives: the importer's limits, and what to do with an archive once read (delete it). */
  archives?: { limits?: Partial<ArchiveLimits>; discard?: (archivePath: string) => Promise<void> };
  maxListing?: number;
}

const decoder = new TextDecoder();
const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

function hostIs(url: URL, domain: string): boolean {
  const host = url.hostname.toLowerCase();
  return host === domain || host.endsWith(`.${domain}`);
}

/** Where a Medium profile's full-content RSS feed lives. */
export function mediumFeedUrl(profile: URL): string {
  const handle = profile.pathname.split('/').find((p) => p.startsWith('@'));
  if (handle) return new URL(`/feed/${handle}`, profile.origin).href;
  return new URL('/feed', profile.origin).href;
}

export class SourceCrawler implements Crawler {
  /** Targets whose last crawl read a complete listing (a Substack archive, also on a custom domain). */
  private readonly completeListings = new WeakSet<CrawlTarget>();

  constructor(private readonly options: SourceCrawlerOptions) {}

  completeListing(target: CrawlTarget): boolean {
    // A repository's whole tree and a whole Substack archive name every document; feeds only name the latest
    // ones, an incremental crawl stops at what it has seen, and archives and single URLs have no listing.
    return this.completeListings.has(target);
  }

  async probe(url: string, signal: AbortSignal): Promise<'present' | 'gone' | 'unknown'> {
    try {
      const res = await this.options.fetcher.fetch(url, { signal });
      if (res.status === 404 || res.status === 410) return 'gone';
      return res.status < 400 ? 'present' : 'unknown';
    } catch {
      // Refused by robots.txt, unreachable, a 5xx: none of that proves a deletion.
      return 'unknown';
    }
  }

  async *crawl(target: CrawlTarget, signal: AbortSignal): AsyncIterable<CrawlItem> {
    switch (target.kind) {
      case 'archive':
        yield* this.crawlArchive(target);
        return;
      case 'repository':
        yield* this.crawlRepository(target, signal);
        return;
      case 'single-url':
        yield* this.crawlPage(target.url, signal);
        return;
      case 'profile':
        yield* this.crawlProfile(target, signal);
        return;
    }
  }

  private isSubstack(url: URL): boolean {
    return hostIs(url, 'substack.com');
  }

  private async *crawlArchive(target: CrawlTarget): AsyncIterable<CrawlItem> {
    if (!target.archivePath) throw new Error('the archive was not saved; upload it again');
    const archivePath = target.archivePath;
    if (!existsSync(archivePath)) {
      // Deleted once read: a job resumed after a crash between that and the end of storing has no archive.
      throw new Error(
        'the uploaded archive was deleted once read, before this interrupted import could finish: upload it ' +
          'again (what was stored stays; importing it again changes nothing)',
      );
    }
    let result;
    try {
      result = await importArchive(
        { zipPath: archivePath, fileName: target.url.replace(/^archive:/, '') },
        { ...(this.options.archives?.limits ? { limits: this.options.archives.limits } : {}) },
      );
    } finally {
      // Read whole (or refused): the documents now hold what the import needs, and the archive may hold
      // more (subscriber lists) that must not stay on disk. A crash before this line leaves it for the
      // resumed job.
      await this.options.archives?.discard?.(archivePath);
    }
    yield { type: 'total', count: result.documents.length + result.errors.length };
    for (const document of result.documents) yield { type: 'document', document };
    for (const e of result.errors)
      yield { type: 'error', url: `${target.url}#${e.item}`, message: e.message };
  }

  private async *crawlRepository(target: CrawlTarget, signal: AbortSignal): AsyncIterable<CrawlItem> {
    // A shallow fetch is the cheapest way to learn the commit; an unchanged one needs nothing read or stored.
    const result = await crawlRepository({
      url: target.url,
      ...(target.gitRef ? { ref: target.gitRef } : {}),
      workDir: this.options.workDir,
      signal,
      ...this.options.git,
    });
    if (result.truncated) {
      // Files past the limits were never looked at: they must not count as removed.
      const unseen = result.skipped.filter((s) => LIMIT_REASONS.has(s.reason)).length;
      yield {
        type: 'error',
        url: target.url,
        message: `${unseen} files past the crawl limits were not read`,
      };
    }
    if (target.mode === 'incremental' && target.cursor?.gitCommit === result.commit) {
      yield { type: 'total', count: 0 };
      yield { type: 'cursor', cursor: { ...EMPTY_CURSOR, gitCommit: result.commit } };
      return;
    }
    yield { type: 'total', count: result.documents.length };
    for (const document of result.documents) yield { type: 'document', document };
    if (!result.truncated) this.completeListings.add(target);
    yield { type: 'cursor', cursor: { ...EMPTY_CURSOR, gitCommit: result.commit } };
  }

  private async *crawlPage(url: string, signal: AbortSignal): AsyncIterable<CrawlItem> {
    yield { type: 'total', count: 1 };
    try {
      const res = await this.options.fetcher.fetch(url, { signal });
      if (res.status === 404 || res.status === 410) {
        yield { type: 'gone', canonicalUrl: url };
        return;
      }
      if (res.status >= 400) {
        yield { type: 'error', url, message: `HTTP ${res.status}` };
        return;
      }
      yield { type: 'document', document: extractPage(res.body, res.url, { contentType: res.contentType }) };
    } catch (err) {
      yield { type: 'error', url, message: errorMessage(err) };
    }
  }

  private async *crawlProfile(target: CrawlTarget, signal: AbortSignal): AsyncIterable<CrawlItem> {
    const url = new URL(target.url);
    if (this.isSubstack(url)) {
      yield* this.crawlSubstack(url.origin, target, signal);
      return;
    }
    if (hostIs(url, 'medium.com')) {
      yield* this.crawlFeed(mediumFeedUrl(url), target, signal);
      return;
    }
    // A custom domain or another site: look at the page for what it is.
    let page;
    try {
      page = await this.options.fetcher.fetch(url, { signal });
    } catch (err) {
      yield { type: 'error', url: url.href, message: errorMessage(err) };
      return;
    }
    const html = decoder.decode(page.body.subarray(0, 512 * 1024));
    if (/window\._preloads|substackcdn\.com/.test(html)) {
      yield* this.crawlSubstack(new URL(page.url).origin, target, signal);
      return;
    }
    const feed = /<link[^>]+type=["']application\/rss\+xml["'][^>]*>/i.exec(html)?.[0];
    const href = feed ? /href=["']([^"']+)["']/i.exec(feed)?.[1] : undefined;
    if (href) {
      yield* this.crawlFeed(new URL(href, page.url).href, target, signal);
      return;
    }
    if (/cdn-client\.medium\.com|miro\.medium\.com/.test(html)) {
      yield* this.crawlFeed(mediumFeedUrl(new URL(page.url)), target, signal);
      return;
    }
    yield { type: 'total', count: 1 };
    try {
      yield {
        type: 'document',
        document: extractPage(page.body, page.url, { contentType: page.contentType }),
      };
    } catch (err) {
      yield { type: 'error', url: url.href, message: errorMessage(err) };
    }
  }

  private async *crawlFeed(
    feedUrl: string,
    target: CrawlTarget,
    signal: AbortSignal,
  ): AsyncIterable<CrawlItem> {
    let documents: ExtractedDocument[];
    let validators: Pick<SourceCursor, 'feedUrl' | 'feedEtag' | 'feedLastModified'>;
    // An incremental crawl asks for the feed only if it changed since the last one read it (a conditional
    // request); a full crawl reads it whatever, since it needs the listing to look for deleted posts.
    const previous = target.mode === 'incremental' ? target.cursor : undefined;
    const conditional: Record<string, string> = {};
    if (previous && previous.feedUrl === feedUrl) {
      if (previous.feedEtag) conditional['if-none-match'] = previous.feedEtag;
      if (previous.feedLastModified) conditional['if-modified-since'] = previous.feedLastModified;
    }
    try {
      const res = await this.options.fetcher.fetch(feedUrl, { signal, headers: conditional });
      if (res.status === 304 && previous) {
        // Unchanged: nothing to read or write; the cursor stays as it was.
        yield { type: 'total', count: 0 };
        yield { type: 'cursor', cursor: { ...EMPTY_CURSOR, ...previous } };
        return;
      }
      if (res.status >= 400 || res.status === 304) {
        yield { type: 'error', url: feedUrl, message: `HTTP ${res.status}` };
        return;
      }
      documents = parseMediumFeed(res.body, res.url);
      validators = {
        feedUrl,
        feedEtag: res.headers['etag'] ?? '',
        feedLastModified: res.headers['last-modified'] ?? '',
      };
    } catch (err) {
      yield { type: 'error', url: feedUrl, message: errorMessage(err) };
      return;
    }
    // The feed is one request with every entry's full content, so each crawl hands all of them on (edits to
    // listed posts are found; unchanged ones write nothing); the cursor records the newest entry.
    yield { type: 'total', count: documents.length };
    for (const document of documents) yield { type: 'document', document };
    yield { type: 'cursor', cursor: { ...newestOf(documents), ...validators } };
  }

  private async *crawlSubstack(
    origin: string,
    target: CrawlTarget,
    signal: AbortSignal,
  ): AsyncIterable<CrawlItem> {
    const pageSize = this.options.substackPageSize ?? 50;
    const max = this.options.maxListing ?? 5000;
    // The archive is sorted newest first: an incremental crawl stops paging at the first entry it has seen.
    const cursor = target.mode === 'incremental' ? target.cursor : undefined;
    const since = cursor?.newestPublishedAt ?? null;
    const seenBefore = (doc: ExtractedDocument) =>
      since !== null &&
      doc.publishedAt !== null &&
      (doc.publishedAt < since ||
        (doc.publishedAt === since && (cursor?.newestUrls ?? []).includes(doc.canonicalUrl)));
    const listed: ExtractedDocument[] = [];
    let reachedSeen = false;
    let complete = false;
    let offset = 0;
    for (; offset < max && !reachedSeen; offset += pageSize) {
      const pageUrl = `${origin}/api/v1/archive?sort=new&offset=${offset}&limit=${pageSize}`;
      let page: ExtractedDocument[];
      try {
        const res = await this.options.fetcher.fetch(pageUrl, { signal });
        if (res.status >= 400) throw new Error(`HTTP ${res.status}`);
        page = parseSubstackArchive(res.body, origin);
      } catch (err) {
        // Without the whole listing, nothing may be taken for deleted: fail the job.
        throw new Error(`the Substack archive at ${pageUrl} could not be read: ${errorMessage(err)}`);
      }
      for (const entry of page) {
        if (seenBefore(entry)) reachedSeen = true;
        else listed.push(entry);
      }
      if (page.length < pageSize) {
        complete = !reachedSeen;
        break;
      }
    }
    yield { type: 'total', count: listed.length };
    // The archive listing has metadata only; each post's own JSON has its body. A few are requested ahead,
    // so a slow answer does not hold the crawl up, and they are handed on in archive order.
    const readPost = async (entry: ExtractedDocument): Promise<CrawlItem> => {
      const slug = new URL(entry.canonicalUrl).pathname.split('/').filter(Boolean).pop() ?? '';
      const postUrl = `${origin}/api/v1/posts/${encodeURIComponent(slug)}`;
      try {
        const res = await this.options.fetcher.fetch(postUrl, { signal });
        if (res.status >= 400) throw new Error(`HTTP ${res.status}`);
        const document = parseSubstackPostJson(res.body, postUrl);
        return { type: 'document', document: { ...document, canonicalUrl: entry.canonicalUrl } };
      } catch (err) {
        return { type: 'error', url: entry.canonicalUrl, message: errorMessage(err) };
      }
    };
    const ahead = Math.max(1, this.options.postConcurrency ?? 4);
    const pending: Promise<CrawlItem>[] = [];
    let next = 0;
    let failures = 0;
    while (next < listed.length && pending.length < ahead) pending.push(readPost(listed[next++]!));
    while (pending.length > 0) {
      const item = await pending.shift()!;
      if (next < listed.length && !signal.aborted) pending.push(readPost(listed[next++]!));
      if (item.type === 'error') failures++;
      yield item;
    }
    if (complete) this.completeListings.add(target);
    // A post that could not be read must be tried again next time: the cursor stays where it was.
    if (failures === 0) {
      const newest = listed.length > 0 ? newestOf(listed) : (cursor ?? EMPTY_CURSOR);
      yield { type: 'cursor', cursor: { ...newest, archiveOffset: listed.length } };
    }
  }
}

/** The newest publish time among documents and the URLs published at exactly that time. */
function newestOf(documents: readonly ExtractedDocument[]): SourceCursor {
  let newest: number | undefined;
  let urls: string[] = [];
  for (const doc of documents) {
    if (doc.publishedAt === null) continue;
    if (newest === undefined || doc.publishedAt > newest) {
      newest = doc.publishedAt;
      urls = [doc.canonicalUrl];
    } else if (doc.publishedAt === newest) urls.push(doc.canonicalUrl);
  }
  return { ...EMPTY_CURSOR, newestPublishedAt: newest ?? null, newestUrls: urls };
}
