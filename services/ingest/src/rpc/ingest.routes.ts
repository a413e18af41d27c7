// IngestService handlers: thin translation between protobuf messages and the domain.
import { ExtractError } from '../adapters/extract/page-context.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import { commonv1, ingestv1 } from '@llmtwin/contracts';
import { nextPageToken, readPage } from '@llmtwin/host';
import { invalidArgument } from '@llmtwin/runtime';
import type {
  AuthorDirectory,
  AuthorRecord,
  PlatformName,
  SourceKind,
  SourceRecord,
} from '../domain/authors.js';
import { parseSourceUrl } from '../domain/authors.js';
import { coverageOf } from '../domain/coverage.js';
import type { CrawlJobRecord, CrawlJobState, CrawlJobs } from '../domain/crawl-jobs.js';
import type { ExtractedDocument } from '../domain/extracted-document.js';
import { toProtoDocument, type RawDocumentStore, type RawDocumentRecord } from '../domain/raw-documents.js';

export interface IngestHandlers {
  authors: AuthorDirectory;
  store: RawDocumentStore;
  jobs: CrawlJobs;
  /** Where uploads wait for their import: within a size limit and a quota, deleted once refused or read. */
  uploads: {
    receive(
      chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
      declaredBytes: number,
      signal: AbortSignal,
    ): Promise<{ path: string; bytes: number }>;
    discard(archivePath: string): Promise<void>;
  };
  /** Refuses, with the reason, an archive that cannot be imported (not a zip, over a limit, unknown layout). */
  checkArchive: (archivePath: string, fileName: string) => Promise<void>;
  /** Parses a saved page without network access. */
  extractPage?: (html: Uint8Array, url: string) => ExtractedDocument;
}

/** The file name as a label: no path, only plain characters, never empty. */
const archiveLabel = (fileName: string) =>
  fileName.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'archive.zip';

/** The chunks of an UploadArchive stream after its header; a second header is a client's bug. */
async function* archiveChunks(rest: AsyncIterator<ingestv1.UploadArchiveRequest>): AsyncIterable<Uint8Array> {
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    if (next.value.part.case === 'header') {
      throw invalidArgument(
        'only the first message may carry the header: send the archive as chunks after it',
      );
    }
    if (next.value.part.case === 'chunk') yield next.value.part.value;
  }
}

const jobStates: Record<CrawlJobState, ingestv1.CrawlJobState> = {
  queued: ingestv1.CrawlJobState.QUEUED,
  running: ingestv1.CrawlJobState.RUNNING,
  succeeded: ingestv1.CrawlJobState.SUCCEEDED,
  partial: ingestv1.CrawlJobState.PARTIAL,
  failed: ingestv1.CrawlJobState.FAILED,
  cancelled: ingestv1.CrawlJobState.CANCELLED,
};

const toJob = (j: CrawlJobRecord) =>
  create(ingestv1.CrawlJobSchema, {
    id: j._id,
    authorId: j.target.authorId,
    sourceId: j.target.sourceId,
    url: j.target.url,
    state: jobStates[j.state],
    itemsTotal: BigInt(j.itemsTotal),
    itemsDone: BigInt(j.itemsDone),
    documentsCreated: BigInt(j.created),
    documentsUpdated: BigInt(j.updated),
    documentsUnchanged: BigInt(j.unchanged),
    documentsTombstoned: BigInt(j.tombstoned),
    errors: j.errors,
    createTime: timestampFromMs(j.createdAt),
    ...(j.startedAt !== null ? { startTime: timestampFromMs(j.startedAt) } : {}),
    ...(j.endedAt !== null ? { endTime: timestampFromMs(j.endedAt) } : {}),
  });

const categoryNames: Record<number, string> = {
  [commonv1.Category.ARTICLE]: 'article',
  [commonv1.Category.POST]: 'post',
  [commonv1.Category.CODE]: 'code',
};

const platforms: Record<PlatformName, commonv1.Platform> = {
  medium: commonv1.Platform.MEDIUM,
  substack: commonv1.Platform.SUBSTACK,
  linkedin: commonv1.Platform.LINKEDIN,
  github: commonv1.Platform.GITHUB,
  web: commonv1.Platform.WEB,
};

const kinds: Record<SourceKind, ingestv1.SourceKind> = {
  profile: ingestv1.SourceKind.PROFILE,
  repository: ingestv1.SourceKind.REPOSITORY,
  'single-url': ingestv1.SourceKind.SINGLE_URL,
  archive: ingestv1.SourceKind.ARCHIVE,
};

const platformNames: Record<number, PlatformName> = Object.fromEntries(
  Object.entries(platforms).map(([name, value]) => [value, name as PlatformName]),
);

function kindFromProto(kind: ingestv1.SourceKind): SourceKind | undefined {
  const found = Object.entries(kinds).find(([, v]) => v === kind);
  return found ? (found[0] as SourceKind) : undefined;
}

const toAuthor = (a: AuthorRecord) =>
  create(ingestv1.AuthorSchema, {
    id: a._id,
    displayName: a.displayName,
    aliases: a.aliases,
    createTime: timestampFromMs(a.createdAt),
  });

const optionalTime = (field: string, ms: number | null) =>
  ms !== null ? { [field]: timestampFromMs(ms) } : {};

const toSource = (s: SourceRecord, documentCount: number) =>
  create(ingestv1.SourceSchema, {
    id: s._id,
    authorId: s.authorId,
    kind: kinds[s.kind],
    url: s.url,
    platform: platforms[s.platform],
    scheduleIntervalSeconds: BigInt(s.scheduleIntervalSeconds),
    gitRef: s.gitRef,
    createTime: timestampFromMs(s.createdAt),
    ...optionalTime('lastCrawlTime', s.lastCrawlAt),
    ...optionalTime('nextCrawlTime', s.nextCrawlAt),
    cron: s.cron,
    timeZone: s.cronTimeZone,
    jitterSeconds: BigInt(s.jitterSeconds),
    paused: s.paused,
    fullCrawlIntervalSeconds: BigInt(s.fullCrawlIntervalSeconds),
    ...optionalTime('nextFullCrawlTime', s.nextFullCrawlAt),
    ...optionalTime('lastSuccessTime', s.lastSuccessAt),
    ...optionalTime('lastFailureTime', s.lastFailureAt),
    lastError: s.lastError,
    consecutiveFailures: BigInt(s.consecutiveFailures),
    ...optionalTime('failingSince', s.failingSince),
    documentCount: BigInt(documentCount),
    coverage: coverageOf(s),
    cursor: {
      ...optionalTime('newestPublishTime', s.cursor.newestPublishedAt),
      newestUrls: s.cursor.newestUrls,
      archiveOffset: BigInt(s.cursor.archiveOffset ?? 0),
      gitCommit: s.cursor.gitCommit,
    },
  });

export function registerIngestRoutes(router: ConnectRouter, h: IngestHandlers): void {
  const { authors, store, jobs } = h;
  const withCount = async (s: SourceRecord) =>
    toSource(s, await store.documents.count({ sourceId: s._id, tombstone: false }));

  /** An upload on disk becomes an import job, or is refused and deleted while the caller waits. */
  const submitArchive = async (authorId: string, fileName: string, archivePath: string) => {
    const label = archiveLabel(fileName);
    try {
      await h.checkArchive(archivePath, label);
      const source = await authors.archiveSource(authorId, label);
      return await jobs.submit({
        authorId,
        sourceId: source._id,
        kind: 'archive',
        url: `archive:${label}`,
        gitRef: '',
        archivePath,
      });
    } catch (err) {
      await h.uploads.discard(archivePath);
      throw err;
    }
  };

  router.service(ingestv1.IngestService, {
    async createAuthor(req) {
      const author = await authors.createAuthor({
        id: req.id,
        displayName: req.displayName,
        aliases: req.aliases,
      });
      return { author: toAuthor(author) };
    },
    async getAuthor(req) {
      return { author: toAuthor(await authors.getAuthor(req.id)) };
    },
    async listAuthors(req) {
      const page = readPage(req.page);
      const items = await authors.listAuthors(page);
      return { authors: items.map(toAuthor), page: { nextPageToken: nextPageToken(items, page.size) } };
    },
    async addSource(req) {
      const source = await authors.addSource({
        authorId: req.authorId,
        url: req.url,
        kind: kindFromProto(req.kind),
        scheduleIntervalSeconds: Number(req.scheduleIntervalSeconds),
        cron: req.cron,
        timeZone: req.timeZone,
        jitterSeconds: Number(req.jitterSeconds),
        ...(req.fullCrawlIntervalSeconds !== undefined
          ? { fullCrawlIntervalSeconds: Number(req.fullCrawlIntervalSeconds) }
          : {}),
        gitRef: req.gitRef,
      });
      return { source: toSource(source, 0) };
    },
    async listSources(req) {
      const page = readPage(req.page);
      const items = await authors.listSources(req.authorId, page);
      return {
        sources: await Promise.all(items.map(withCount)),
        page: { nextPageToken: nextPageToken(items, page.size) },
      };
    },
    async pauseSource(req) {
      return { source: await withCount(await authors.pauseSource(req.id)) };
    },
    async resumeSource(req) {
      return { source: await withCount(await authors.resumeSource(req.id)) };
    },
    async removeSource(req) {
      const source = await authors.getSource(req.id);
      // Documents first, the source last: a crash part-way leaves the source in place, so the same call
      // can be retried and tombstones (and the taint of everything built from them) are never skipped.
      if (req.purgeDocuments) {
        for await (const doc of store.documents.scan(
          { sourceId: source._id, tombstone: false },
          { exclude: ['raw'] },
        )) {
          await store.tombstone(doc._id, `remove-source:${source._id}`);
        }
      }
      await authors.removeSource(req.id);
      return {};
    },
    async crawlNow(req) {
      if (req.target.case === 'sourceId') {
        const source = await authors.getSource(req.target.value);
        // Without a successful crawl there is no cursor: the first crawl reads everything anyway.
        const incremental = !req.full && source.lastSuccessAt !== null;
        const job = await jobs.submit({
          authorId: source.authorId,
          sourceId: source._id,
          kind: source.kind,
          url: source.url,
          gitRef: source.gitRef,
          mode: incremental ? 'incremental' : 'full',
          ...(incremental ? { cursor: source.cursor } : {}),
        });
        return { job: toJob(job) };
      }
      if (req.target.case === 'url') {
        await authors.getAuthor(req.authorId);
        const url = parseSourceUrl(req.target.value);
        const job = await jobs.submit({
          authorId: req.authorId,
          sourceId: '',
          kind: 'single-url',
          url: url.href,
          gitRef: '',
        });
        return { job: toJob(job) };
      }
      throw invalidArgument('give either source_id or url (with author_id)', [
        { field: 'target', message: 'source_id or url is required' },
      ]);
    },
    async importArchive(req, ctx) {
      await authors.getAuthor(req.authorId);
      if (req.content.byteLength === 0) {
        throw invalidArgument('content is empty: send the archive bytes', [
          { field: 'content', message: 'required' },
        ]);
      }
      const saved = await h.uploads.receive([req.content], req.content.byteLength, ctx.signal);
      return { job: toJob(await submitArchive(req.authorId, req.fileName, saved.path)) };
    },
    async uploadArchive(requests, ctx) {
      const stream = requests[Symbol.asyncIterator]();
      const first = await stream.next();
      if (first.done || first.value.part.case !== 'header') {
        throw invalidArgument('the first message must be the header (author_id, file_name), then the chunks');
      }
      const header = first.value.part.value;
      await authors.getAuthor(header.authorId);
      const saved = await h.uploads.receive(archiveChunks(stream), Number(header.sizeBytes), ctx.signal);
      return { job: toJob(await submitArchive(header.authorId, header.fileName, saved.path)) };
    },
    async getCrawlJob(req) {
      return { job: toJob(await jobs.get(req.id)) };
    },
    async listCrawlJobs(req) {
      const page = readPage(req.page);
      const filter: Record<string, unknown> = {};
      if (req.authorId) filter['target.authorId'] = req.authorId;
      if (req.sourceId) filter['target.sourceId'] = req.sourceId;
      if (page.after) filter['_id'] = { $lt: page.after };
      const items = await jobs.jobs.find(filter as never, {
        sort: [{ field: '_id', direction: 'desc' }],
        limit: page.size,
      });
      return { jobs: items.map(toJob), page: { nextPageToken: nextPageToken(items, page.size) } };
    },
    async getDocument(req) {
      const doc = await store.get(req.id);
      return { document: toProtoDocument(doc, { includeRaw: !req.omitRaw }) };
    },
    async listDocuments(req) {
      const page = readPage(req.page);
      const filter: Record<string, unknown> = {};
      if (req.authorId) filter['authorId'] = req.authorId;
      if (req.category) {
        const name = categoryNames[req.category];
        if (!name)
          throw invalidArgument('unknown category', [
            { field: 'category', message: 'article, post or code' },
          ]);
        filter['category'] = name;
      }
      if (req.platform) filter['platform'] = platformNames[req.platform];
      if (!req.includeTombstones) filter['tombstone'] = false;
      if (page.after) filter['_id'] = { $gt: page.after };
      const items = await store.documents.find(filter as never, {
        sort: [{ field: '_id', direction: 'asc' }],
        limit: page.size,
        exclude: ['raw'],
      });
      return {
        documents: items.map((d: RawDocumentRecord) => toProtoDocument(d, { includeRaw: false })),
        page: { nextPageToken: nextPageToken(items, page.size) },
      };
    },
    async deleteDocument(req) {
      const res = await store.tombstone(req.id, 'delete-document');
      return { document: toProtoDocument(res.document, { includeRaw: false }) };
    },
    async extractPage(req) {
      if (!h.extractPage) throw invalidArgument('page extraction is not available in this build');
      const url = parseSourceUrl(req.url);
      if (req.html.byteLength === 0)
        throw invalidArgument('html is empty', [{ field: 'html', message: 'required' }]);
      let found: ExtractedDocument;
      try {
        found = h.extractPage(req.html, url.href);
      } catch (err) {
        // The parser says what the page lacks (a title, a body): that is the caller's page to fix.
        if (err instanceof ExtractError)
          throw invalidArgument(`the page could not be read as a document: ${err.message}`, [
            { field: 'html', message: err.message },
          ]);
        throw err;
      }
      const doc: RawDocumentRecord = {
        _id: '',
        authorId: req.authorId,
        category: found.category,
        platform: found.platform,
        sourceId: '',
        canonicalUrl: found.canonicalUrl,
        title: found.title,
        subtitle: found.subtitle ?? '',
        author: found.author,
        publishedAt: found.publishedAt,
        updatedAt: found.updatedAt ?? null,
        crawledAt: Date.now(),
        contentHash: '',
        version: 0,
        tombstone: false,
        draft: found.draft,
        raw: found.raw,
        rawContentType: found.rawContentType,
        tags: found.tags ?? [],
        externalId: found.externalId ?? '',
        codePath: '',
        codeLanguage: '',
        codeCommit: '',
      };
      return { document: toProtoDocument(doc, { includeRaw: false }) };
    },
  });
}
