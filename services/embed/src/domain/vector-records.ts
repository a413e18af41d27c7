// How one document version's chunks become vector records with the metadata RAG filters and cites by.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { commonv1 } from '@llmtwin/contracts';
import type { VectorRecord, VectorStore } from '@llmtwin/ports';

const categoryNames: Partial<Record<commonv1.Category, string>> = {
  [commonv1.Category.ARTICLE]: 'article',
  [commonv1.Category.POST]: 'post',
  [commonv1.Category.CODE]: 'code',
};
const platformNames: Partial<Record<commonv1.Platform, string>> = {
  [commonv1.Platform.MEDIUM]: 'medium',
  [commonv1.Platform.SUBSTACK]: 'substack',
  [commonv1.Platform.LINKEDIN]: 'linkedin',
  [commonv1.Platform.GITHUB]: 'github',
  [commonv1.Platform.WEB]: 'web',
};
export const categoryName = (c: commonv1.Category): string => categoryNames[c] ?? '';
export const platformName = (p: commonv1.Platform): string => platformNames[p] ?? '';
export const categoryEnum = (name: string): commonv1.Category =>
  (Number(Object.keys(categoryNames).find((k) => categoryNames[Number(k) as commonv1.Category] === name)) ||
    commonv1.Category.UNSPECIFIED) as commonv1.Category;
export const platformEnum = (name: string): commonv1.Platform =>
  (Number(Object.keys(platformNames).find((k) => platformNames[Number(k) as commonv1.Platform] === name)) ||
    commonv1.Platform.UNSPECIFIED) as commonv1.Platform;

export interface DocumentChunks {
  documentId: string;
  version: number;
  authorId: string;
  category: commonv1.Category;
  platform: commonv1.Platform;
  canonicalUrl: string;
  title: string;
  publishTime?: { seconds: bigint; nanos: number } | undefined;
  chunks: readonly { id: string; text: string; section: string; position: number }[];
}

export function toVectorRecords(doc: DocumentChunks, vectors: readonly Float32Array[]): VectorRecord[] {
  const publishedAt = doc.publishTime ? timestampMs(doc.publishTime as never) : 0;
  return doc.chunks.map((c, i) => ({
    id: c.id,
    vector: vectors[i] as Float32Array,
    text: c.text,
    metadata: {
      documentId: doc.documentId,
      documentVersion: doc.version,
      authorId: doc.authorId,
      category: categoryName(doc.category),
      platform: platformName(doc.platform),
      url: doc.canonicalUrl,
      title: doc.title,
      publishedAt,
      section: c.section,
      position: c.position,
    },
  }));
}

/** Writes one version of a document into a collection: its chunks in, its older (or all) chunks out. */
export async function applyDocument(
  store: VectorStore,
  collection: string,
  doc: DocumentChunks,
  vectors: readonly Float32Array[],
  tombstone: boolean,
  signal?: AbortSignal,
): Promise<number> {
  if (tombstone) return store.deleteWhere(collection, { documentIds: [doc.documentId] }, signal);
  if (doc.chunks.length > 0) await store.upsert(collection, toVectorRecords(doc, vectors), signal);
  return store.deleteWhere(
    collection,
    { documentIds: [doc.documentId], documentVersionBelow: doc.version },
    signal,
  );
}
