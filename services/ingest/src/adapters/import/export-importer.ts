// What the three export importers share: their result shape, the allow-list guard around the archive and
// small text helpers.
import { invalidArgument } from '@llmtwin/runtime';
import { createHash } from 'node:crypto';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import type { ArchiveReader } from './archive.js';

export interface ImportIssue {
  /** The archive path (and row, for CSV files) the problem is about. */
  item: string;
  message: string;
}

export interface ImportResult {
  documents: ExtractedDocument[];
  /** Items that could not be imported; the rest of the archive still is. */
  errors: ImportIssue[];
  /** Documents imported with less than usual (e.g. a Substack post whose body file is missing). */
  warnings: ImportIssue[];
  /** Archive paths deliberately not read, each with the reason. */
  skipped: string[];
}

export interface ImportProgress {
  done: number;
  total: number;
  item: string;
}

export interface ImporterOptions {
  /** Shown as the author where the export itself does not name one (Substack, LinkedIn). */
  authorName?: string;
  /** Substack only: the publication's host (e.g. "example.substack.com" or a custom domain). */
  substackHost?: string;
  onProgress?: (progress: ImportProgress) => void;
}

export const emptyResult = (): ImportResult => ({ documents: [], errors: [], warnings: [], skipped: [] });

export function mergeInto(target: ImportResult, part: ImportResult): void {
  // One push per item: spreading an archive's worth of items (200,000 skipped entries) into one call's
  // arguments overflows the stack.
  for (const key of ['documents', 'errors', 'warnings', 'skipped'] as const) {
    const into = target[key] as unknown[];
    for (const item of part[key]) into.push(item);
  }
}

/**
 * One document per canonical URL in one archive. A document's id is its author and canonical URL, so two
 * entries naming the same URL (a page saved twice, one article in two folders of an export) would be stored
 * twice by one import, the second counted as an update of the first, and flip on every re-import. One is kept:
 * a published one over a draft, then the longest payload, then the smaller hash, so the choice depends on the
 * entries alone and not on the order a zip tool wrote them in. Each merge is reported as a warning.
 */
export function uniqueDocuments(result: ImportResult): void {
  const byUrl = new Map<string, ExtractedDocument[]>();
  for (const doc of result.documents) {
    const same = byUrl.get(doc.canonicalUrl);
    if (same) same.push(doc);
    else byUrl.set(doc.canonicalUrl, [doc]);
  }
  if (byUrl.size === result.documents.length) return;
  const digest = (d: ExtractedDocument) => createHash('sha256').update(d.raw).digest('hex');
  result.documents = [...byUrl.values()].map((same) => {
    if (same.length === 1) return same[0]!;
    const [kept] = [...same].sort(
      (a, b) =>
        Number(a.draft) - Number(b.draft) ||
        b.raw.byteLength - a.raw.byteLength ||
        digest(a).localeCompare(digest(b)),
    );
    result.warnings.push({
      item: kept!.canonicalUrl,
      message: `${same.length} entries of the archive are this one document; kept "${kept!.title}"`,
    });
    return kept!;
  });
}

/**
 * Reads only paths an importer declared it needs; anything else (a subscriber list above all) is refused
 * before a single byte of it is inflated.
 */
export function guardedReader(
  reader: ArchiveReader,
  allowed: (path: string) => boolean,
): (path: string) => Promise<Buffer> {
  return (path) => {
    if (!allowed(path)) {
      return Promise.reject(invalidArgument(`the importer may not read "${path}": not on its allow-list`));
    }
    return reader.read(path);
  };
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

/** Decodes the HTML character references some exports leave in CSV text. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X')) return safeCodePoint(parseInt(ref.slice(2), 16), whole);
    if (ref.startsWith('#')) return safeCodePoint(parseInt(ref.slice(1), 10), whole);
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

function safeCodePoint(code: number, fallback: string): string {
  return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback;
}

export const collapseSpace = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** A title for text that has none (a LinkedIn share): its first line, cut at a word boundary. */
export function titleFromText(text: string, max = 100): string {
  const first = collapseSpace(text.split('\n').find((l) => l.trim() !== '') ?? '');
  if (first.length <= max) return first;
  const cut = first.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

export const UTF8_HTML = 'text/html; charset=utf-8';
export const UTF8_CSV = 'text/csv; charset=utf-8';
