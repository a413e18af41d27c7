// The vector store: embedded chunks with the metadata RAG filters and cites by. Implemented by Weaviate and by
// an embedded persistent index (SQLite with sqlite-vec for vectors and FTS5 for BM25).

export interface ChunkMetadata {
  documentId: string;
  documentVersion: number;
  authorId: string;
  /** 'article' | 'post' | 'code' */
  category: string;
  /** 'medium' | 'substack' | 'linkedin' | 'github' | 'web' */
  platform: string;
  url: string;
  title: string;
  /** Epoch ms; 0 when unknown. */
  publishedAt: number;
  section: string;
  position: number;
}

export interface VectorRecord {
  /** Deterministic chunk id (any string; adapters map it to their own id format). */
  id: string;
  vector: readonly number[] | Float32Array;
  text: string;
  metadata: ChunkMetadata;
}

export interface VectorFilter {
  authorId?: string;
  documentIds?: readonly string[];
  categories?: readonly string[];
  platforms?: readonly string[];
  /** Inclusive bounds on publishedAt, epoch ms. */
  publishedAfter?: number;
  publishedBefore?: number;
  /** Only chunks of a document version below this (to remove older versions). */
  documentVersionBelow?: number;
}

export type SearchMode = 'dense' | 'keyword' | 'hybrid';

export interface SearchQuery {
  mode: SearchMode;
  /** Required for dense and hybrid. */
  vector?: readonly number[] | Float32Array;
  /** Required for keyword and hybrid. */
  text?: string;
  limit: number;
  filter?: VectorFilter;
  /** Hybrid weight of the dense side, 0..1 (default 0.5). */
  alpha?: number;
}

export interface SearchHit {
  id: string;
  /** Higher is better; comparable only within one result list. */
  score: number;
  text: string;
  metadata: ChunkMetadata;
}

export interface CollectionInfo {
  name: string;
  dimensions: number;
  count: number;
}

export interface VectorStore {
  /** 'embedded' or 'weaviate'. */
  readonly adapter: string;
  /** Creates the collection if missing; fails with 'failed-precondition' if it exists with other dimensions. */
  ensureCollection(name: string, options: { dimensions: number }): Promise<void>;
  dropCollection(name: string): Promise<void>;
  listCollections(): Promise<CollectionInfo[]>;
  /**
   * Points `alias` at `collection` atomically: searches through the alias see either the old or the new
   * collection, never a mix. Used to swap in a rebuilt index.
   */
  setAlias(alias: string, collection: string): Promise<void>;
  /** The collection an alias points at, or undefined. */
  resolveAlias(alias: string): Promise<string | undefined>;
  /** Inserts or replaces records by id. `collection` may be an alias. */
  upsert(collection: string, records: readonly VectorRecord[], signal?: AbortSignal): Promise<void>;
  get(collection: string, ids: readonly string[], signal?: AbortSignal): Promise<VectorRecord[]>;
  deleteByIds(collection: string, ids: readonly string[], signal?: AbortSignal): Promise<number>;
  /** Deletes every record matching the filter (e.g. all chunks of a document); an empty filter is refused. */
  deleteWhere(collection: string, filter: VectorFilter, signal?: AbortSignal): Promise<number>;
  search(collection: string, query: SearchQuery, signal?: AbortSignal): Promise<SearchHit[]>;
  count(collection: string, filter?: VectorFilter, signal?: AbortSignal): Promise<number>;
  ping(signal?: AbortSignal): Promise<void>;
  version(): Promise<string>;
  close(): Promise<void>;
}
