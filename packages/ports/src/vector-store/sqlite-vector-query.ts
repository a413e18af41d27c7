// Filters, keyword queries, vectors and rows of the embedded vector store translated to and from SQLite:
// the parts where the port's values meet sqlite-vec's and FTS5's rules (bigint integers, quoted FTS terms,
// float32 blobs).
import type { ChunkMetadata, VectorFilter } from './vector-store.port.js';

export interface MetaRow {
  rid: number;
  chunk_id: string;
  text: string;
  document_id: string;
  document_version: number;
  author_id: string;
  category: string;
  platform: string;
  url: string;
  title: string;
  published_at: number;
  section: string;
  position: number;
}

export type SqlParam = string | bigint | number | Buffer;

/** sqlite-vec compares INTEGER metadata only with SQLite integers, which better-sqlite3 binds from bigint. */
export const int = (n: number): bigint => BigInt(n);

/**
 * Splits free text into terms and quotes each, so punctuation, quotes and FTS5 operators in user input
 * are never read as FTS5 query syntax; terms are OR-ed, like Weaviate's default BM25 operator.
 */
export function toFtsQuery(text: string): string | undefined {
  const terms =
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
  const unique = [...new Set(terms.filter((t) => /[\p{L}\p{N}]/u.test(t)))].slice(0, 64);
  if (unique.length === 0) return undefined;
  return unique.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
}

/** The SQL condition for a filter over columns named as in the metadata and vec0 tables. */
export function filterSql(filter: VectorFilter, prefix: string): { sql: string; params: SqlParam[] } {
  const parts: string[] = [];
  const params: SqlParam[] = [];
  const col = (name: string): string => `${prefix}${name}`;
  if (filter.authorId !== undefined) {
    parts.push(`${col('author_id')} = ?`);
    params.push(filter.authorId);
  }
  const inList = (column: string, values: readonly string[] | undefined): void => {
    if (values === undefined) return;
    parts.push(`${col(column)} in (select value from json_each(?))`);
    params.push(JSON.stringify(values));
  };
  inList('document_id', filter.documentIds);
  inList('category', filter.categories);
  inList('platform', filter.platforms);
  if (filter.publishedAfter !== undefined) {
    parts.push(`${col('published_at')} >= ?`);
    params.push(int(Math.ceil(filter.publishedAfter)));
  }
  if (filter.publishedBefore !== undefined) {
    parts.push(`${col('published_at')} <= ?`);
    params.push(int(Math.floor(filter.publishedBefore)));
  }
  if (filter.documentVersionBelow !== undefined) {
    parts.push(`${col('document_version')} < ?`);
    params.push(int(Math.ceil(filter.documentVersionBelow)));
  }
  return { sql: parts.length === 0 ? '' : ' and ' + parts.join(' and '), params };
}

export function toBlob(vector: readonly number[] | Float32Array): Buffer {
  const f32 = vector instanceof Float32Array ? vector : Float32Array.from(vector);
  return Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
}

export function fromBlob(blob: Buffer): number[] {
  // Copy first: the Buffer's offset inside its pool need not be 4-byte aligned.
  const copy = new Uint8Array(blob.byteLength);
  copy.set(blob);
  return Array.from(new Float32Array(copy.buffer));
}

export function toMetadata(row: MetaRow): ChunkMetadata {
  return {
    documentId: row.document_id,
    documentVersion: row.document_version,
    authorId: row.author_id,
    category: row.category,
    platform: row.platform,
    url: row.url,
    title: row.title,
    publishedAt: row.published_at,
    section: row.section,
    position: row.position,
  };
}
