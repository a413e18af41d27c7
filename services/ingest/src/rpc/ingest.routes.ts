// IngestService handlers: thin translation between protobuf messages and the domain.
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import { commonv1, ingestv1 } from '@llmtwin/contracts';
import { nextPageToken, readPage } from '@llmtwin/host';
import type {
  AuthorDirectory,
  AuthorRecord,
  PlatformName,
  SourceKind,
  SourceRecord,
} from '../domain/authors.js';

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

const toSource = (s: SourceRecord) =>
  create(ingestv1.SourceSchema, {
    id: s._id,
    authorId: s.authorId,
    kind: kinds[s.kind],
    url: s.url,
    platform: platforms[s.platform],
    scheduleIntervalSeconds: BigInt(s.scheduleIntervalSeconds),
    gitRef: s.gitRef,
    createTime: timestampFromMs(s.createdAt),
    ...(s.lastCrawlAt !== null ? { lastCrawlTime: timestampFromMs(s.lastCrawlAt) } : {}),
    ...(s.nextCrawlAt !== null ? { nextCrawlTime: timestampFromMs(s.nextCrawlAt) } : {}),
  });

export function registerIngestRoutes(router: ConnectRouter, authors: AuthorDirectory): void {
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
        gitRef: req.gitRef,
      });
      return { source: toSource(source) };
    },
    async listSources(req) {
      const page = readPage(req.page);
      const items = await authors.listSources(req.authorId, page);
      return { sources: items.map(toSource), page: { nextPageToken: nextPageToken(items, page.size) } };
    },
    async removeSource(req) {
      await authors.removeSource(req.id);
      return {};
    },
  });
}
