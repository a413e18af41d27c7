// How chunks live in Weaviate: one class per vector collection (`Chunks_<name>`) whose description records its
// dimensions, explicit chunk properties (BM25 on `text` only), UUIDv5 object ids from chunk ids, and the
// translation of records and port filters to and from that schema. Changing anything here changes stored data.
import { v5 as uuidv5, validate as validateUuid } from 'uuid';
import weaviate, {
  Filters,
  type Collection,
  type CollectionConfigCreate,
  type FilterValue,
} from 'weaviate-client';
import { invalidArgument } from '../errors.js';
import type { ChunkMetadata, VectorFilter, VectorRecord } from './vector-store.port.js';

const CLASS_PREFIX = 'Chunks_';
const DESCRIPTION_PREFIX = 'llmtwin vector collection; dimensions=';
/** The namespace of our chunk-id UUIDs (fixed forever: changing it would orphan every stored object). */
const CHUNK_ID_NAMESPACE = '2b0c7c44-4f6e-4d55-9b0e-6a1f3f2f7a10';

/** RFC 9562 (formerly 4122) version-5 UUID: SHA-1 of the namespace and the name, from the `uuid` package. */
export function uuidV5(name: string, namespace: string = CHUNK_ID_NAMESPACE): string {
  if (!validateUuid(namespace)) throw invalidArgument(`not a UUID namespace: ${namespace}`);
  return uuidv5(name, namespace);
}

export const toClassName = (name: string): string => CLASS_PREFIX + name;
export const fromClassName = (className: string): string | undefined =>
  className.startsWith(CLASS_PREFIX) ? className.slice(CLASS_PREFIX.length) : undefined;

export type ChunkProperties = {
  chunkId: string;
  text: string;
  documentId: string;
  documentVersion: number;
  authorId: string;
  category: string;
  platform: string;
  url: string;
  title: string;
  publishedAt: number;
  section: string;
  position: number;
};

export type ChunkCollection = Collection<ChunkProperties, string>;

/** The dimensions a class created by this adapter records in its description, or undefined. */
export function parseDimensions(description: string | undefined): number | undefined {
  if (description === undefined || !description.startsWith(DESCRIPTION_PREFIX)) return undefined;
  const n = Number(description.slice(DESCRIPTION_PREFIX.length));
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The class of one vector collection: vectors supplied by the embed service, cosine HNSW, chunk properties. */
export function chunkClassConfig(
  className: string,
  dimensions: number,
): CollectionConfigCreate<ChunkProperties> {
  return {
    name: className,
    description: DESCRIPTION_PREFIX + String(dimensions),
    vectorizers: weaviate.configure.vectors.selfProvided({
      vectorIndexConfig: weaviate.configure.vectorIndex.hnsw({ distanceMetric: 'cosine' }),
    }),
    properties: [
      {
        name: 'text',
        dataType: 'text',
        tokenization: 'word',
        indexSearchable: true,
        indexFilterable: false,
      },
      { name: 'chunkId', dataType: 'text', tokenization: 'field', indexSearchable: false },
      { name: 'documentId', dataType: 'text', tokenization: 'field', indexSearchable: false },
      { name: 'documentVersion', dataType: 'int', indexRangeFilters: true },
      { name: 'authorId', dataType: 'text', tokenization: 'field', indexSearchable: false },
      { name: 'category', dataType: 'text', tokenization: 'field', indexSearchable: false },
      { name: 'platform', dataType: 'text', tokenization: 'field', indexSearchable: false },
      {
        name: 'url',
        dataType: 'text',
        tokenization: 'field',
        indexSearchable: false,
        indexFilterable: false,
      },
      {
        name: 'title',
        dataType: 'text',
        tokenization: 'word',
        indexSearchable: false,
        indexFilterable: false,
      },
      { name: 'publishedAt', dataType: 'int', indexRangeFilters: true },
      {
        name: 'section',
        dataType: 'text',
        tokenization: 'field',
        indexSearchable: false,
        indexFilterable: false,
      },
      { name: 'position', dataType: 'int', indexFilterable: false },
    ],
  };
}

export function toProperties(record: VectorRecord): ChunkProperties {
  const m = record.metadata;
  return {
    chunkId: record.id,
    text: record.text,
    documentId: m.documentId,
    documentVersion: m.documentVersion,
    authorId: m.authorId,
    category: m.category,
    platform: m.platform,
    url: m.url,
    title: m.title,
    publishedAt: m.publishedAt,
    section: m.section,
    position: m.position,
  };
}

export function toMetadata(p: Partial<ChunkProperties>): ChunkMetadata {
  return {
    documentId: p.documentId ?? '',
    documentVersion: Number(p.documentVersion ?? 0),
    authorId: p.authorId ?? '',
    category: p.category ?? '',
    platform: p.platform ?? '',
    url: p.url ?? '',
    title: p.title ?? '',
    publishedAt: Number(p.publishedAt ?? 0),
    section: p.section ?? '',
    position: Number(p.position ?? 0),
  };
}

/** The port's filter as a Weaviate filter; undefined when it filters nothing. */
export function buildFilter(collection: ChunkCollection, filter: VectorFilter): FilterValue | undefined {
  const f = collection.filter;
  const parts: FilterValue[] = [];
  if (filter.authorId !== undefined) parts.push(f.byProperty('authorId').equal(filter.authorId));
  if (filter.documentIds !== undefined)
    parts.push(f.byProperty('documentId').containsAny([...filter.documentIds]));
  if (filter.categories !== undefined)
    parts.push(f.byProperty('category').containsAny([...filter.categories]));
  if (filter.platforms !== undefined) parts.push(f.byProperty('platform').containsAny([...filter.platforms]));
  if (filter.publishedAfter !== undefined) {
    parts.push(f.byProperty('publishedAt').greaterOrEqual(Math.ceil(filter.publishedAfter)));
  }
  if (filter.publishedBefore !== undefined) {
    parts.push(f.byProperty('publishedAt').lessOrEqual(Math.floor(filter.publishedBefore)));
  }
  if (filter.documentVersionBelow !== undefined) {
    parts.push(f.byProperty('documentVersion').lessThan(Math.ceil(filter.documentVersionBelow)));
  }
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : Filters.and(...parts);
}
