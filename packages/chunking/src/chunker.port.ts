// What the chunk service needs from a chunking policy. The real one is the domain chunker (token-aware,
// structure-aware, per category); tests use a fake. Chunk ids must be deterministic in (document id,
// version, position), so that re-chunking the same version gives the same ids (reindex relies on it).
export type CategoryName = 'article' | 'post' | 'code';

export interface ChunkInput {
  documentId: string;
  version: number;
  authorId: string;
  category: CategoryName;
  text: string;
  /** Programming language, for code. */
  language: string;
  title: string;
}

export interface ChunkPiece {
  id: string;
  position: number;
  text: string;
  tokenCount: number;
  /** Heading path or syntax unit. */
  section: string;
  startOffset: number;
  endOffset: number;
}

export interface ChunkPolicyInfo {
  category: CategoryName;
  maxTokens: number;
  overlapTokens: number;
  strategy: string;
  tokenizer: string;
}

export interface Chunker {
  chunk(input: ChunkInput): ChunkPiece[] | Promise<ChunkPiece[]>;
  policies(): readonly ChunkPolicyInfo[];
}
