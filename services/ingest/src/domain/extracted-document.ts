// What every crawler, parser and importer produces: one document as found at its source, standardised into
// the three categories. The warehouse turns it into a versioned raw document (see raw-documents.ts).
import type { PlatformName } from './authors.js';

export type Category = 'article' | 'post' | 'code';

export interface ExtractedDocument {
  category: Category;
  platform: PlatformName;
  /** Canonical URL (rel=canonical / og:url / the platform's permalink), absolute, no fragment. For code:
   * the repository URL plus the file path (e.g. https://github.com/o/r/blob/<path>). */
  canonicalUrl: string;
  title: string;
  subtitle?: string;
  /** The author as the source names them (display name or handle), for checks and display. */
  author: string;
  /** First publication time, epoch ms UTC; null when the source has none (drafts, some exports). A later
   * re-publish never moves it: sources that state both (Medium pages) give the first one here. */
  publishedAt: number | null;
  /** The latest time the source says the document was modified or re-published, epoch ms UTC, when that is
   * later than publishedAt; absent (or null) when the source states nothing later. */
  updatedAt?: number | null;
  tags?: string[];
  /** Drafts are kept but flagged, never treated as published writing. */
  draft: boolean;
  /** The payload as fetched or found in the archive (HTML, JSON, a CSV row, source code bytes). */
  raw: Uint8Array;
  /** Media type of raw, e.g. 'text/html; charset=utf-8', 'application/json', 'text/csv'. */
  rawContentType: string;
  /** A platform id when the source has one (Medium post id, Substack post id, LinkedIn share URN). */
  externalId?: string;
  /** Code only. */
  code?: { repository: string; path: string; language: string; commit: string };
}
