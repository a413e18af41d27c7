// The snapshot the dataset builder reads, through the other services' Connect clients (in-process transports
// in embedded mode, gRPC in distributed mode): clean's ListCleanedDocuments, ingest's ListDocuments (which
// leaves the raw payloads out: the cheapest call that gives every document's content hash and source id),
// and the router's ListAnswerEdits. All paged at the largest page the services allow.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { Client } from '@connectrpc/connect';
import type { cleanv1, inferencev1, ingestv1 } from '@llmtwin/contracts';
import type {
  AnswerEdit,
  AnswerEditReader,
  CleanedDocument,
  RawDocumentRef,
  SnapshotReader,
} from '../domain/snapshot-reader.port.js';

const PAGE_SIZE = 500;

const options = (signal?: AbortSignal) => (signal ? { signal } : {});

async function* pages<T>(
  fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>,
): AsyncIterable<T> {
  let token = '';
  do {
    const { items, next } = await fetch(token);
    yield* items;
    token = next;
  } while (token);
}

export class ConnectSnapshotReader implements SnapshotReader {
  constructor(
    private readonly clean: () => Client<typeof cleanv1.CleanService>,
    private readonly ingest: () => Client<typeof ingestv1.IngestService>,
  ) {}

  cleanedDocuments(authorId: string, category: number | undefined, signal?: AbortSignal) {
    return pages<CleanedDocument>(async (pageToken) => {
      const res = await this.clean().listCleanedDocuments(
        { authorId, category: category ?? 0, page: { pageSize: PAGE_SIZE, pageToken } },
        options(signal),
      );
      return {
        items: res.documents.map((d) => ({
          id: d.ref?.documentId ?? '',
          version: Number(d.ref?.version ?? 0n),
          authorId: d.ref?.authorId ?? '',
          category: d.category,
          platform: d.platform,
          canonicalUrl: d.canonicalUrl,
          title: d.title,
          publishedAt: d.publishTime ? timestampMs(d.publishTime) : null,
          text: d.text,
          language: d.language,
          codePath: d.codePath,
          tombstone: d.tombstone,
          draft: d.draft,
        })),
        next: res.page?.nextPageToken ?? '',
      };
    });
  }

  rawDocuments(authorId: string, signal?: AbortSignal) {
    return pages<RawDocumentRef>(async (pageToken) => {
      const res = await this.ingest().listDocuments(
        { authorId, includeTombstones: false, page: { pageSize: PAGE_SIZE, pageToken } },
        options(signal),
      );
      return {
        items: res.documents.map((d) => ({
          id: d.id,
          version: Number(d.version),
          contentHash: d.contentHash,
          sourceId: d.sourceId,
        })),
        next: res.page?.nextPageToken ?? '',
      };
    });
  }
}

export class ConnectAnswerEditReader implements AnswerEditReader {
  constructor(private readonly router: () => Client<typeof inferencev1.InferenceService>) {}

  answerEdits(authorId: string, signal?: AbortSignal) {
    return pages<AnswerEdit>(async (pageToken) => {
      const res = await this.router().listAnswerEdits(
        { authorId, page: { pageSize: PAGE_SIZE, pageToken } },
        options(signal),
      );
      return {
        items: res.edits.map((e) => ({
          generationId: e.generationId,
          query: e.query,
          originalAnswer: e.originalAnswer,
          editedAnswer: e.editedAnswer,
        })),
        next: res.page?.nextPageToken ?? '',
      };
    });
  }
}
