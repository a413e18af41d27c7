// What the dataset builder reads: the author's cleaned snapshot (clean's ListCleanedDocuments), the raw
// documents' hashes and sources (ingest's ListDocuments, which leaves the raw payloads out), and the answer
// edits people made (the router's ListAnswerEdits). Adapters: adapters/connect-snapshot-reader.ts.
import type { commonv1 } from '@llmtwin/contracts';

export interface CleanedDocument {
  id: string;
  /** The raw document's version this text was cleaned from. */
  version: number;
  authorId: string;
  category: commonv1.Category;
  platform: commonv1.Platform;
  canonicalUrl: string;
  title: string;
  /** Epoch ms, or null when unknown. */
  publishedAt: number | null;
  text: string;
  /** An ISO 639-1 code, a programming language (code), or empty. */
  language: string;
  codePath: string;
  tombstone: boolean;
  draft: boolean;
}

export interface RawDocumentRef {
  id: string;
  version: number;
  /** SHA-256 of the raw document's normalised content at `version`, hex. */
  contentHash: string;
  sourceId: string;
}

export interface SnapshotReader {
  /** Every cleaned document of the author (of one category when given), tombstones and drafts included. */
  cleanedDocuments(
    authorId: string,
    category: commonv1.Category | undefined,
    signal?: AbortSignal,
  ): AsyncIterable<CleanedDocument>;
  /** The author's live raw documents, without payloads. */
  rawDocuments(authorId: string, signal?: AbortSignal): AsyncIterable<RawDocumentRef>;
}

export interface AnswerEdit {
  generationId: string;
  query: string;
  originalAnswer: string;
  editedAnswer: string;
}

export interface AnswerEditReader {
  answerEdits(authorId: string, signal?: AbortSignal): AsyncIterable<AnswerEdit>;
}
