// Medium's data export: one self-contained HTML file per post under posts/ (microformats: h-entry, p-name,
// p-summary, dt-published, p-author, p-canonical). Drafts are named draft_<slug>-<id>.html and carry no
// publish date or canonical link, only a "View original" link to medium.com/p/<id>.
import { isDomainError } from '@llmtwin/runtime';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import type { ArchiveReader } from './archive.js';
import {
  attr,
  byTagClass,
  findAll,
  findFirst,
  hasClass,
  parseHtml,
  textOf,
  type HtmlElement,
} from './html-tree.js';
import {
  UTF8_HTML,
  collapseSpace,
  emptyResult,
  errorMessage,
  guardedReader,
  type ImportResult,
  type ImporterOptions,
} from './export-importer.js';

export const MEDIUM_POST = /(^|\/)posts\/[^/]+\.html$/;
const DRAFT_FILE = /(^|\/)draft_[^/]*\.html$/;
// Non-Latin titles give slugs of dashes only, so the trailing hex id is the only reliable key in a name.
const ID_IN_NAME = /-([0-9a-f]{8,16})\.html$/;
const ID_IN_URL = /(?:^|[-/])([0-9a-f]{8,16})(?:[?#].*)?$/;
// A response is a single short paragraph whose text the export copied into the title; stories have a
// separate title block (graf--title) or a subtitle. Long single-paragraph stories stay articles.
const RESPONSE_MAX_CHARS = 1200;

export function isMediumExport(paths: readonly string[]): boolean {
  return paths.some((p) => MEDIUM_POST.test(p));
}

export async function importMediumExport(
  reader: ArchiveReader,
  options: ImporterOptions = {},
): Promise<ImportResult> {
  const result = emptyResult();
  const posts = reader.entries.map((e) => e.path).filter((p) => MEDIUM_POST.test(p));
  const read = guardedReader(reader, (p) => MEDIUM_POST.test(p));
  for (const path of reader.entries.map((e) => e.path)) {
    if (!MEDIUM_POST.test(path))
      result.skipped.push(`${path}: not a Medium post (profile, claps, sessions…)`);
  }
  let done = 0;
  for (const path of posts) {
    try {
      const raw = await read(path);
      result.documents.push(parseMediumExportPost(path, raw));
    } catch (err) {
      if (isDomainError(err)) throw err;
      result.errors.push({ item: path, message: errorMessage(err) });
    }
    done += 1;
    options.onProgress?.({ done, total: posts.length, item: path });
  }
  return result;
}

export function parseMediumExportPost(path: string, raw: Buffer): ExtractedDocument {
  const root = parseHtml(raw.toString('utf8'));
  const article = findFirst(root, byTagClass('article', 'h-entry')) ?? root;
  const first = (tag: string | null, cls: string): HtmlElement | null =>
    findFirst(article, byTagClass(tag, cls));
  const text = (el: HtmlElement | null): string => (el ? collapseSpace(textOf(el)) : '');
  const title = text(first(null, 'p-name'));
  const subtitle = text(first(null, 'p-summary'));
  const author = text(first('a', 'p-author'));
  const canonicalLink = first('a', 'p-canonical');
  const canonical = canonicalLink ? attr(canonicalLink, 'href') : null;
  const time = first('time', 'dt-published');
  const datetime = time ? attr(time, 'datetime') : null;
  const footer = findFirst(article, (el) => el.tagName === 'footer');
  const shortLink = (footer ? findAll(footer, (el) => el.tagName === 'a') : [])
    .map((a) => attr(a, 'href') ?? '')
    .find((href) => /^https:\/\/medium\.com\/p\/[0-9a-zA-Z]+$/.test(href));

  const fileName = path.slice(path.lastIndexOf('/') + 1);
  const id =
    shortLink?.slice(shortLink.lastIndexOf('/') + 1) ??
    ID_IN_NAME.exec(fileName)?.[1] ??
    (canonical ? ID_IN_URL.exec(canonical)?.[1] : undefined);
  const draft = DRAFT_FILE.test(path) || (!datetime && !canonical);
  const publishedAt = datetime && !draft ? Date.parse(datetime) : null;
  if (publishedAt !== null && Number.isNaN(publishedAt))
    throw new Error(`unreadable publish time "${datetime}"`);

  let canonicalUrl: string;
  if (canonical) canonicalUrl = new URL(canonical).href;
  else if (shortLink) canonicalUrl = shortLink;
  else if (id) canonicalUrl = `https://medium.com/p/${id}`;
  else throw new Error('no canonical link, no medium.com/p/<id> link and no id in the file name');

  const body = findFirst(
    article,
    (el) => el.tagName === 'section' && (hasClass(el, 'e-content') || attr(el, 'data-field') === 'body'),
  );
  const response = !subtitle && body !== null && looksLikeResponse(title, body);
  return {
    category: response ? 'post' : 'article',
    platform: 'medium',
    canonicalUrl,
    title,
    ...(subtitle ? { subtitle } : {}),
    author,
    publishedAt,
    draft,
    raw: new Uint8Array(raw),
    rawContentType: UTF8_HTML,
    ...(id ? { externalId: id } : {}),
  };
}

function looksLikeResponse(title: string, body: HtmlElement): boolean {
  if (findFirst(body, (el) => hasClass(el, 'graf--title'))) return false;
  const text = collapseSpace(textOf(body));
  if (text.length === 0 || text.length > RESPONSE_MAX_CHARS) return false;
  const paragraphs = findAll(body, (el) => hasClass(el, 'graf--p') && !hasClass(el, 'graf--empty'));
  if (paragraphs.length > 2) return false;
  // Medium titles a response with its own opening words, cut with "…" when long.
  const opening = title.replace(/…$/, '').trim();
  return opening.length > 0 && text.includes(opening);
}
