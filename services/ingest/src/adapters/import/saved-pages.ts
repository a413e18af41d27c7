// Saved pages: HTML files someone saved from the web (browser "Save page as", a mirror, the demo's bundled
// pages), each with the address it was saved from, listed in a pages.json manifest:
//   {"pages": [{"file": "pages/post.html", "url": "https://example.com/post"}, ...]}
// The URL is required because saved HTML rarely knows its own address reliably; extraction still prefers
// the page's own canonical link over it, exactly as for a crawled page. Every page goes through the same
// extraction and the same size limit as a crawled one; only the files the manifest lists are ever read.
import { invalidArgument, isDomainError } from '@llmtwin/runtime';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import { extractPage } from '../extract/index.js';
import { checkEntryName, type ArchiveReader } from './archive.js';
import {
  emptyResult,
  errorMessage,
  guardedReader,
  type ImportResult,
  type ImporterOptions,
} from './export-importer.js';

export const SAVED_PAGES_MANIFEST = 'pages.json';

/** The largest page kept, as for a crawled page (SafeFetcher's default body limit). */
export const MAX_SAVED_PAGE_BYTES = 10 * 1024 * 1024;

/** Most pages one manifest may list: as many as an archive may hold entries. */
export const MAX_SAVED_PAGES = 20_000;

export interface SavedPageEntry {
  /** Path of the HTML file, relative to the folder holding pages.json. */
  file: string;
  /** The address the page was saved from: absolute http(s). */
  url: string;
  /** The Content-Type the page was served with, when known: its charset outranks a <meta charset>. */
  contentType?: string;
}

export interface SavedPagesManifest {
  pages: SavedPageEntry[];
}

// A manifest at the root, or in the one folder a zip of a folder ("zip -r saved.zip saved/") puts it in.
const NESTED_MANIFEST = /^[^/]+\/pages\.json$/;

/** Where the manifest of a saved-pages archive is, or null when the archive is not one. */
export function savedPagesManifestPath(paths: readonly string[]): string | null {
  if (paths.includes(SAVED_PAGES_MANIFEST)) return SAVED_PAGES_MANIFEST;
  const nested = paths.filter((p) => NESTED_MANIFEST.test(p));
  return nested.length === 1 ? nested[0]! : null;
}

export function isSavedPagesArchive(paths: readonly string[]): boolean {
  return savedPagesManifestPath(paths) !== null;
}

export async function importSavedPages(
  reader: ArchiveReader,
  options: ImporterOptions = {},
): Promise<ImportResult> {
  const result = emptyResult();
  const paths = reader.entries.map((e) => e.path);
  const manifestPath = savedPagesManifestPath(paths);
  if (!manifestPath) throw invalidArgument(`"${reader.name}" has no ${SAVED_PAGES_MANIFEST}`);
  const base = manifestPath.slice(0, manifestPath.length - SAVED_PAGES_MANIFEST.length);
  const manifestBytes = await guardedReader(reader, (p) => p === manifestPath)(manifestPath);
  const items = parseManifest(manifestPath, manifestBytes).map((item) => checkItem(item, base));

  const allowed = new Set(items.flatMap((item) => ('problem' in item ? [] : [item.path])));
  const read = guardedReader(reader, (p) => allowed.has(p));
  const sizes = new Map(reader.entries.map((e) => [e.path, e.size]));
  for (const path of paths) {
    if (path !== manifestPath && !allowed.has(path))
      result.skipped.push(`${path}: not listed in ${manifestPath}`);
  }

  // Two listed pages with one canonical URL would overwrite each other on every import, so a re-import would
  // never be a no-op: the first one listed is kept.
  const firstWithUrl = new Map<string, string>();
  for (const [index, item] of items.entries()) {
    const label = item.path ?? `${manifestPath}#${index}`;
    try {
      if ('problem' in item) throw new Error(item.problem);
      const size = sizes.get(item.path);
      if (size === undefined) throw new Error(`listed in ${manifestPath} but not in the archive`);
      if (size > MAX_SAVED_PAGE_BYTES) throw tooLarge(size);
      const raw = await read(item.path);
      if (raw.byteLength > MAX_SAVED_PAGE_BYTES) throw tooLarge(raw.byteLength);
      const document = extractPage(
        new Uint8Array(raw),
        item.url,
        item.contentType ? { contentType: item.contentType } : {},
      );
      const earlier = firstWithUrl.get(document.canonicalUrl);
      if (earlier !== undefined) {
        throw new Error(`same canonical URL ${document.canonicalUrl} as ${earlier}, which was kept`);
      }
      firstWithUrl.set(document.canonicalUrl, label);
      result.documents.push(withAuthor(document, options.authorName));
    } catch (err) {
      // Limits and corrupt archive data end the whole import, as in the other importers.
      if (isDomainError(err)) throw err;
      result.errors.push({ item: label, message: errorMessage(err) });
    }
    options.onProgress?.({ done: index + 1, total: items.length, item: label });
  }
  return result;
}

// Without a readable manifest nothing can be imported: the whole import fails, saying what to fix.
function parseManifest(path: string, raw: Buffer): unknown[] {
  const expected = `expected {"pages": [{"file": "<path in the archive>", "url": "https://…"}]}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw invalidArgument(`${path} is not valid JSON (${errorMessage(err)}): ${expected}`);
  }
  const pages = typeof parsed === 'object' && parsed !== null ? (parsed as { pages?: unknown }).pages : null;
  if (!Array.isArray(pages)) throw invalidArgument(`${path} has no "pages" array: ${expected}`);
  if (pages.length > MAX_SAVED_PAGES) {
    throw invalidArgument(`${path} lists ${pages.length} pages, over the limit of ${MAX_SAVED_PAGES}`);
  }
  return pages;
}

type CheckedItem = { path: string; url: string; contentType?: string } | { problem: string; path?: string };

/** One manifest entry, its file resolved to the archive path it names; a bad entry fails alone. */
function checkItem(item: unknown, base: string): CheckedItem {
  if (typeof item !== 'object' || item === null) {
    return { problem: 'each entry of "pages" must be an object with "file" and "url"' };
  }
  const { file, url, contentType } = item as { file?: unknown; url?: unknown; contentType?: unknown };
  if (typeof file !== 'string' || file === '')
    return { problem: '"file" is missing: give the path of the page' };
  let path: string;
  try {
    // The same rules as for the archive's own entry names: no "..", no absolute paths, no backslashes.
    path = base + checkEntryName(file);
  } catch (err) {
    return { problem: errorMessage(err) };
  }
  if (typeof url !== 'string' || url === '') {
    return { path, problem: `"url" of ${file} is missing: give the address the page was saved from` };
  }
  if (contentType !== undefined && typeof contentType !== 'string') {
    return { path, problem: `"contentType" of ${file} must be a string such as "text/html; charset=utf-8"` };
  }
  return { path, url, ...(contentType ? { contentType } : {}) };
}

const tooLarge = (bytes: number) =>
  new Error(`the page is ${bytes} bytes, over the ${MAX_SAVED_PAGE_BYTES} bytes a crawled page may have`);

function withAuthor(document: ExtractedDocument, authorName: string | undefined): ExtractedDocument {
  return document.author || !authorName ? document : { ...document, author: authorName };
}
