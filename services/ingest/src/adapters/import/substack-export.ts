// Substack's data export: posts.csv (one row per post; 9 columns in older exports, 10 since inbox_sent_at was
// added, so columns are mapped by header name) and posts/<post_id>.html body fragments, where post_id is
// "<numeric id>.<slug>". The same archive carries subscriber lists (email_list*.csv, posts/*.opens.csv,
// posts/*.delivers.csv): personal data of other people that this importer never opens. Only the paths on
// SUBSTACK_READABLE can be read at all, and subscriber names are refused even if they matched.
//
// Canonical URL: https://<host>/p/<slug> when the caller names the publication's host (the URL the crawler
// would store for the same post, so an import and a crawl meet on one document id); otherwise
// substack-export:<numeric id>, stable across re-imports of the same publication but distinct from the
// crawled URL, since an export alone does not say where the publication lives.
import { parse } from 'csv-parse/sync';
import { isDomainError } from '@llmtwin/runtime';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import type { ArchiveReader } from './archive.js';
import {
  UTF8_CSV,
  UTF8_HTML,
  decodeEntities,
  emptyResult,
  errorMessage,
  guardedReader,
  type ImportResult,
  type ImporterOptions,
} from './export-importer.js';

const POSTS_CSV = /(^|\/)posts\.csv$/;
const BODY_HTML = /(^|\/)posts\/[^/]+\.html$/;
const SUBSCRIBER_FILE = /(\.opens\.csv|\.delivers\.csv)$|(^|\/)email_list[^/]*\.csv$/i;

export function isSubscriberFile(path: string): boolean {
  return SUBSCRIBER_FILE.test(path);
}

export function substackMayRead(path: string): boolean {
  return !isSubscriberFile(path) && (POSTS_CSV.test(path) || BODY_HTML.test(path));
}

export function isSubstackExport(paths: readonly string[]): boolean {
  return paths.some((p) => POSTS_CSV.test(p));
}

const REQUIRED_COLUMNS = ['post_id', 'post_date', 'is_published', 'title'] as const;
const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i;

export async function importSubstackExport(
  reader: ArchiveReader,
  options: ImporterOptions = {},
): Promise<ImportResult> {
  const result = emptyResult();
  if (options.substackHost !== undefined && !HOST.test(options.substackHost)) {
    throw new Error(`substackHost "${options.substackHost}" is not a host name like example.substack.com`);
  }
  const read = guardedReader(reader, substackMayRead);
  const paths = reader.entries.map((e) => e.path);
  const known = new Set(paths);
  const csvFiles = paths.filter((p) => POSTS_CSV.test(p));
  for (const path of paths) {
    if (isSubscriberFile(path)) result.skipped.push(`${path}: subscriber data, never read`);
    else if (!POSTS_CSV.test(path) && !BODY_HTML.test(path))
      result.skipped.push(`${path}: not part of a post`);
  }

  // Rows first, so progress knows the total before bodies are read.
  const rows: { csvPath: string; line: number; record: Record<string, string> }[] = [];
  for (const csvPath of csvFiles) {
    let records: Record<string, string>[];
    try {
      records = parse((await read(csvPath)).toString('utf8').replace(/^\uFEFF/, ''), {
        columns: true,
        relax_column_count: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        on_skip: (err: { message: string; lines?: number } | undefined) => {
          if (err) result.errors.push({ item: `${csvPath}:${err.lines ?? '?'}`, message: err.message });
        },
      }) as Record<string, string>[];
    } catch (err) {
      if (isDomainError(err)) throw err;
      result.errors.push({ item: csvPath, message: errorMessage(err) });
      continue;
    }
    const header = records[0] ? Object.keys(records[0]) : [];
    const missing = REQUIRED_COLUMNS.filter((c) => records.length > 0 && !header.includes(c));
    if (missing.length > 0) {
      result.errors.push({ item: csvPath, message: `posts.csv lacks the column(s) ${missing.join(', ')}` });
      continue;
    }
    records.forEach((record, i) => rows.push({ csvPath, line: i + 2, record }));
  }

  let done = 0;
  for (const { csvPath, line, record } of rows) {
    const item = `${csvPath}:${line}`;
    try {
      const root = csvPath.slice(0, csvPath.length - 'posts.csv'.length);
      const bodyPath = `${root}posts/${record.post_id}.html`;
      let raw: Buffer | undefined;
      if (known.has(bodyPath) && substackMayRead(bodyPath)) raw = await read(bodyPath);
      else result.warnings.push({ item, message: `no body file ${bodyPath}: imported from posts.csv only` });
      result.documents.push(substackDocument(record, raw, options));
    } catch (err) {
      if (isDomainError(err)) throw err;
      result.errors.push({ item, message: errorMessage(err) });
    }
    done += 1;
    options.onProgress?.({ done, total: rows.length, item });
  }
  return result;
}

function substackDocument(
  record: Record<string, string>,
  body: Buffer | undefined,
  options: ImporterOptions,
): ExtractedDocument {
  const postId = (record.post_id ?? '').trim();
  const match = /^(\d+)(?:\.(.*))?$/.exec(postId);
  if (!match) throw new Error(`post_id "${postId}" is not "<number>.<slug>"`);
  const id = match[1]!;
  const slug = match[2] ?? '';
  const title = decodeEntities((record.title ?? '').trim());
  const subtitle = decodeEntities((record.subtitle ?? '').trim());
  const date = (record.post_date ?? '').trim();
  const published = (record.is_published ?? '').trim().toLowerCase() === 'true';
  // Drafts come with an empty title and date in real exports, and is_published=false in all of them.
  const draft = !published || (title === '' && date === '');
  let publishedAt: number | null = null;
  if (!draft && date !== '') {
    publishedAt = Date.parse(date);
    if (Number.isNaN(publishedAt)) throw new Error(`post_date "${date}" is not a date`);
  }
  const type = (record.type ?? '').trim();
  const canonicalUrl =
    options.substackHost && slug
      ? `https://${options.substackHost.toLowerCase()}/p/${slug}`
      : `substack-export:${id}`;
  const raw = body ?? Buffer.from(Object.values(record).map(csvCell).join(','), 'utf8');
  return {
    // A thread is a discussion prompt, closer to a short post than to an essay.
    category: type === 'thread' ? 'post' : 'article',
    platform: 'substack',
    canonicalUrl,
    title,
    ...(subtitle ? { subtitle } : {}),
    author: options.authorName ?? '',
    publishedAt,
    draft,
    raw: new Uint8Array(raw),
    rawContentType: body ? UTF8_HTML : UTF8_CSV,
    externalId: id,
  };
}

const csvCell = (value: string): string =>
  /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
