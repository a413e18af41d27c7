// LinkedIn's member data export: Shares.csv (the member's posts) and Articles/*.html (long-form articles,
// drafts among them: imported as drafts, see parseLinkedinArticle).
// Two Shares.csv formats exist: the current one (UTF-8, comma-separated, Date,ShareLink,ShareCommentary,...,
// dates "YYYY-MM-DD HH:MM:SS" in UTC) and the 2018 one (UTF-16 with BOM, tab-separated, Date,Share Title,
// Share Description,Share Link,Share Commentary,..., dates "YYYY/MM/DD HH:MM:SS UTC").
//
// Comments.csv is never read: comments are replies under other people's posts, not the member's own writing,
// so they do not belong among the twin's documents (and the file is malformed: unquoted newlines and \" escapes
// make rows that no CSV parser can recover reliably). Nothing else in the export (connections, messages,
// e-mail addresses) is read either: only the paths on the allow-list below.
import { parse } from 'csv-parse/sync';
import { isDomainError } from '@llmtwin/runtime';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import type { ArchiveReader } from './archive.js';
import { attr, byTagClass, findFirst, parseHtml, textOf } from './html-tree.js';
import {
  UTF8_HTML,
  collapseSpace,
  emptyResult,
  errorMessage,
  guardedReader,
  titleFromText,
  type ImportIssue,
  type ImportResult,
  type ImporterOptions,
} from './export-importer.js';

const SHARES_CSV = /(^|\/)Shares\.csv$/;
const ARTICLE_HTML = /(^|\/)Articles\/(Articles\/)?[^/]+\.html$/;
// An older export's draft: "2019-03-04 10:22:31.0-Title of the draft" (the time it was created, then its title).
const DRAFT_FILE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?-(.*)$/;

export const linkedinMayRead = (path: string): boolean => SHARES_CSV.test(path) || ARTICLE_HTML.test(path);

export function isLinkedinExport(paths: readonly string[]): boolean {
  return paths.some(linkedinMayRead);
}

export async function importLinkedinExport(
  reader: ArchiveReader,
  options: ImporterOptions = {},
): Promise<ImportResult> {
  const result = emptyResult();
  const read = guardedReader(reader, linkedinMayRead);
  const paths = reader.entries.map((e) => e.path);
  const wanted = paths.filter(linkedinMayRead);
  for (const path of paths) {
    if (/(^|\/)Comments\.csv$/.test(path))
      result.skipped.push(`${path}: comments on others' posts, not own writing`);
    else if (!linkedinMayRead(path)) result.skipped.push(`${path}: not a post or article`);
  }
  let done = 0;
  for (const path of wanted) {
    try {
      const raw = await read(path);
      if (SHARES_CSV.test(path)) {
        const part = parseShares(path, raw, options.authorName ?? '');
        result.documents.push(...part.documents);
        result.errors.push(...part.errors);
      } else {
        result.documents.push(parseLinkedinArticle(raw, options.authorName ?? '', path));
      }
    } catch (err) {
      if (isDomainError(err)) throw err;
      result.errors.push({ item: path, message: errorMessage(err) });
    }
    done += 1;
    options.onProgress?.({ done, total: wanted.length, item: path });
  }
  return result;
}

/** Decodes a CSV file by its BOM: the 2018 export is UTF-16LE, newer ones UTF-8. */
export function decodeCsv(raw: Buffer): string {
  if (raw[0] === 0xff && raw[1] === 0xfe) return raw.subarray(2).toString('utf16le');
  if (raw[0] === 0xfe && raw[1] === 0xff) {
    const swapped = Buffer.from(raw.subarray(2));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return raw.toString('utf8').replace(/^\uFEFF/, '');
}

export function parseShares(
  path: string,
  raw: Buffer,
  author: string,
): { documents: ExtractedDocument[]; errors: ImportIssue[] } {
  const text = decodeCsv(raw);
  const firstLine = text.slice(0, text.search(/\r?\n/) >>> 0);
  const delimiter = firstLine.includes('\t') ? '\t' : ',';
  const errors: ImportIssue[] = [];
  const records = parse(text, {
    delimiter,
    columns: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (err: { message: string; lines?: number } | undefined) => {
      if (err) errors.push({ item: `${path}:${err.lines ?? '?'}`, message: err.message });
    },
    info: true,
  }) as { record: Record<string, string>; info: { lines: number } }[];
  // A post with several images or a link preview is one row per media URL, every other cell repeated
  // (LinkedIn writes each thumbnail size of a shared video as its own row): one post, one document, its rows
  // merged by the post's link, so one archive never names a document twice.
  const posts = new Map<string, { record: Record<string, string>; item: string; media: string[] }>();
  for (const { record, info } of records) {
    const item = `${path}:${info.lines}`;
    try {
      const url = shareUrl(record);
      const media = (record.MediaUrl ?? record['Media URL'] ?? '').trim();
      const post = posts.get(url.href);
      if (!post) posts.set(url.href, { record, item, media: media ? [media] : [] });
      else if (media && !post.media.includes(media)) post.media.push(media);
    } catch (err) {
      errors.push({ item, message: errorMessage(err) });
    }
  }
  const documents: ExtractedDocument[] = [];
  for (const { record, item, media } of posts.values()) {
    try {
      documents.push(shareDocument(record, media, author, delimiter === '\t'));
    } catch (err) {
      errors.push({ item, message: errorMessage(err) });
    }
  }
  return { documents, errors };
}

function shareUrl(record: Record<string, string>): URL {
  const link = (record.ShareLink ?? record['Share Link'] ?? '').trim();
  if (!link) throw new Error('the row has no ShareLink');
  try {
    return new URL(link);
  } catch {
    throw new Error(`ShareLink "${link}" is not a URL`);
  }
}

function shareDocument(
  record: Record<string, string>,
  media: string[],
  author: string,
  legacy: boolean,
): ExtractedDocument {
  const url = shareUrl(record);
  const dateText = (record.Date ?? '').trim();
  const publishedAt = parseLinkedinDate(dateText);
  const commentary = stripLineQuotes(record.ShareCommentary ?? record['Share Commentary'] ?? '');
  const shareTitle = (record['Share Title'] ?? '').trim();
  const sharedUrl = (record.SharedUrl ?? record['Shared URL'] ?? '').trim();
  const urn = /urn:li:[a-zA-Z]+:\d+/.exec(decodeURIComponent(url.pathname))?.[0];
  const title = titleFromText(commentary) || shareTitle || sharedUrl || `LinkedIn share of ${dateText}`;
  // The raw payload is the row as JSON with the commentary already unquoted: later stages read the text from
  // it, and the quoting quirk is an artefact of the export, not part of what the member wrote.
  const row = { ...record };
  if ('ShareCommentary' in row) row.ShareCommentary = commentary;
  if ('Share Commentary' in row) row['Share Commentary'] = commentary;
  // Every media URL of a post that had several rows; a one-row post keeps the payload it always had.
  const raw = JSON.stringify({
    format: legacy ? 'linkedin-shares-2018' : 'linkedin-shares',
    row,
    ...(media.length > 1 ? { mediaUrls: media } : {}),
  });
  return {
    category: 'post',
    platform: 'linkedin',
    canonicalUrl: url.href,
    title,
    author,
    publishedAt,
    draft: false,
    raw: new Uint8Array(Buffer.from(raw, 'utf8')),
    rawContentType: 'application/json',
    ...(urn ? { externalId: urn } : {}),
  };
}

/** "2025-07-01 14:33:22" (UTC, current exports) or "2017/06/08 08:15:44 UTC" (2018 exports). */
export function parseLinkedinDate(text: string): number {
  const m = /^(\d{4})[-/](\d{2})[-/](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?: ?(?:UTC|Z))?$/.exec(
    text.trim(),
  );
  if (!m) throw new Error(`Date "${text}" is not a LinkedIn export date`);
  const [, y, mo, d, h, mi, s] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
}

/**
 * LinkedIn writes each line of a multi-line commentary as its own quoted string inside the quoted field, so a
 * correct CSV parser returns 'first"\n"second"\n""\n"last'. The quotes are stripped only when every line
 * shows that pattern, so text with genuine quotes at line ends is left alone.
 */
export function stripLineQuotes(value: string): string {
  const lines = value.split('\n');
  if (lines.length < 2) return value;
  const last = lines.length - 1;
  const fits = lines.every((line, i) => {
    const text = line.replace(/\r$/, '');
    if (i === 0) return text.endsWith('"');
    if (i === last) return text.startsWith('"');
    return text.length >= 2 && text.startsWith('"') && text.endsWith('"');
  });
  if (!fits) return value;
  return lines
    .map((line, i) => {
      const text = line.replace(/\r$/, '');
      const start = i === 0 ? 0 : 1;
      const end = i === last ? text.length : text.length - 1;
      return text.slice(start, end);
    })
    .join('\n');
}

/**
 * One file of Articles/. Published articles link their Pulse address in the heading; drafts say "Not
 * published yet" and link their editor page (post/edit/<id>), or, in older exports, link nothing and are
 * named "<created YYYY-MM-DD HH:MM:SS.0>-<title>.html". Those are kept as drafts under
 * linkedin-export:article/<file name>: the name is all that tells one draft from another, it is stable across
 * re-exports, and it is no web address a citation could send a reader to (drafts are never cited: they are
 * left out of retrieval and training until published, under their own Pulse address).
 */
export function parseLinkedinArticle(raw: Buffer, author: string, path = ''): ExtractedDocument {
  const root = parseHtml(raw.toString('utf8'));
  const heading = findFirst(root, byTagClass('h1', null));
  const anchor = heading ? findFirst(heading, byTagClass('a', null)) : null;
  const link = anchor ? (attr(anchor, 'href') ?? '').trim() : '';
  const titleTag = findFirst(root, byTagClass('title', null));
  const publishedEl = findFirst(root, byTagClass(null, 'published'));
  const publishedText = publishedEl ? collapseSpace(textOf(publishedEl)) : '';
  const dateMatch = /(\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?)/.exec(publishedText);
  const draft = !dateMatch;
  const fileName = path.slice(path.lastIndexOf('/') + 1).replace(/\.html$/i, '');
  const title =
    collapseSpace(textOf(heading ?? titleTag ?? root)) ||
    collapseSpace(DRAFT_FILE.exec(fileName)?.[1] ?? '') ||
    'Untitled';
  let canonicalUrl: string;
  if (link) canonicalUrl = new URL(link, 'https://www.linkedin.com/').href;
  else if (fileName) canonicalUrl = `linkedin-export:article/${encodeURIComponent(fileName)}`;
  else throw new Error('the article has no link in its heading and no file name to know it by');
  const id = link ? /\d{10,}/.exec(new URL(canonicalUrl).pathname)?.[0] : undefined;
  return {
    category: 'article',
    platform: 'linkedin',
    canonicalUrl,
    title,
    author,
    publishedAt: dateMatch ? parseLinkedinDate(dateMatch[1]!) : null,
    draft,
    raw: new Uint8Array(raw),
    rawContentType: UTF8_HTML,
    ...(id ? { externalId: id } : {}),
  };
}

export { ARTICLE_HTML as LINKEDIN_ARTICLE, SHARES_CSV as LINKEDIN_SHARES };
