// Substack post pages (*.substack.com and custom domains) and Substack Notes.
//
// `window._preloads` carries the post as the API serves it (post_date in UTC), so it wins over JSON-LD,
// whose dates are rendered in the capturing machine's zone. Pages saved without it (trimmed captures) fall
// back to JSON-LD, meta tags and the visible byline.
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import {
  ARTICLE_TYPES,
  firstText,
  isObject,
  jsonLdAuthor,
  jsonLdOfType,
  meta,
  normalizeSpace,
  pageCanonicalUrl,
  parseEnglishDate,
  parseTime,
  str,
  stripTitleSuffix,
  updatedAfter,
  zonedMidnight,
  type JsonObject,
} from './html-document.js';
import { ExtractError, rawOf, type PageContext } from './page-context.js';
import { substackPostToDocument } from './substack-api.js';

const NOTE_PATH = /\/note\/(c-\d+)/;

export function isSubstackPage(doc: Document, text: string): boolean {
  if (/window\._preloads\s*=/.test(text)) return true;
  for (const el of doc.querySelectorAll('link[href], script[src]')) {
    const ref = el.getAttribute('href') ?? el.getAttribute('src') ?? '';
    if (/^https?:\/\/substackcdn\.com\//i.test(ref)) return true;
  }
  return meta(doc, 'generator')?.toLowerCase() === 'substack';
}

export function isSubstackNoteUrl(url: string): boolean {
  try {
    return NOTE_PATH.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

export function parseSubstackPage(ctx: PageContext): ExtractedDocument {
  const { doc, url } = ctx;
  const canonicalUrl = pageCanonicalUrl(doc, url.href);
  if (isSubstackNoteUrl(canonicalUrl) || isSubstackNoteUrl(url.href))
    return parseSubstackNote(ctx, canonicalUrl);

  const preloads = readPreloads(doc);
  const post = preloads && isObject(preloads['post']) ? preloads['post'] : undefined;
  if (post && typeof post['title'] === 'string') {
    const fromApi = substackPostToDocument(post, { base: canonicalUrl, raw: ctx.bytes });
    return { ...fromApi, ...rawOf(ctx), canonicalUrl: fromApi.canonicalUrl || canonicalUrl };
  }

  const ld = jsonLdOfType(doc, ARTICLE_TYPES);
  const title =
    firstText(doc, ['h1.post-title', 'article h1']) ??
    meta(doc, 'og:title') ??
    str(ld?.['headline']) ??
    stripTitleSuffix(normalizeSpace(doc.title), ['Substack']);
  if (!title) throw new ExtractError(`no post title found on the Substack page ${url.href}`);
  const subtitle = firstText(doc, ['h3.subtitle', 'h2.subtitle']);
  const author =
    jsonLdAuthor(ld?.['author']) ??
    meta(doc, 'author') ??
    firstText(doc, ['.post-header a[href*="substack.com/@"]', 'a[href*="substack.com/@"]']) ??
    '';
  return {
    category: 'article',
    platform: 'substack',
    canonicalUrl,
    title,
    ...(subtitle ? { subtitle } : {}),
    author,
    ...substackDates(doc, ld),
    draft: false,
    ...rawOf(ctx),
  };
}

function substackDates(
  doc: Document,
  ld: JsonObject | undefined,
): { publishedAt: number | null; updatedAt?: number } {
  const publishedAt = substackPublishedAt(doc, ld);
  const updatedAt = updatedAfter(
    publishedAt,
    parseTime(ld?.['dateModified']),
    parseTime(meta(doc, 'article:modified_time')),
  );
  return { publishedAt, ...(updatedAt !== null ? { updatedAt } : {}) };
}

function substackPublishedAt(doc: Document, ld: JsonObject | undefined): number | null {
  const exact = parseTime(ld?.['datePublished']) ?? parseTime(meta(doc, 'article:published_time'));
  if (exact !== null) return exact;
  // Trimmed captures keep only the byline's "May 01, 2026": the day is all the page still knows.
  const header = doc.querySelector('.post-header') ?? doc.querySelector('.post') ?? doc.body;
  if (!header) return null;
  for (const el of header.querySelectorAll('div, time, span')) {
    if (el.children.length > 0) continue;
    const text = normalizeSpace(el.textContent);
    if (!/^[A-Z][a-z]{2,8}\.? \d{1,2}, \d{4}$/.test(text)) continue;
    const d = parseEnglishDate(text);
    if (d) return zonedMidnight(d.year, d.month, d.day, 'UTC');
  }
  return null;
}

function parseSubstackNote(ctx: PageContext, canonicalUrl: string): ExtractedDocument {
  const { doc } = ctx;
  const ld = jsonLdOfType(doc, ['SocialMediaPosting', 'DiscussionForumPosting', 'Comment']);
  const ogTitle = meta(doc, 'og:title');
  // Notes have no title; the platform's own label is "Name (@handle)".
  const title = ogTitle ?? normalizeSpace(doc.title).replace(/:\s*".*$/, '');
  const byline = ogTitle ? /^(.*?)\s*\(@[\w.-]+\)\s*$/.exec(ogTitle)?.[1] : undefined;
  const metaAuthor = meta(doc, 'author');
  const author =
    jsonLdAuthor(ld?.['author']) ??
    byline ??
    (metaAuthor && metaAuthor.toLowerCase() !== 'substack' ? metaAuthor : undefined) ??
    '';
  const id = NOTE_PATH.exec(new URL(canonicalUrl).pathname)?.[1] ?? str(ld?.['identifier']);
  return {
    category: 'post',
    platform: 'substack',
    canonicalUrl,
    title,
    author,
    publishedAt: parseTime(ld?.['datePublished']) ?? parseTime(ld?.['dateCreated']),
    draft: false,
    ...rawOf(ctx),
    ...(id ? { externalId: id } : {}),
  };
}

/** The `window._preloads` object, whether assigned as a literal or as JSON.parse("<escaped JSON>"). */
export function readPreloads(doc: Document): JsonObject | undefined {
  for (const script of doc.querySelectorAll('script:not([src])')) {
    const body = script.textContent ?? '';
    const at = body.search(/window\._preloads\s*=/);
    if (at < 0) continue;
    const rest = body.slice(body.indexOf('=', at) + 1).trimStart();
    try {
      if (rest.startsWith('JSON.parse(')) {
        const literal = readStringLiteral(rest.slice('JSON.parse('.length).trimStart());
        if (literal === undefined) continue;
        const value: unknown = JSON.parse(literal);
        if (isObject(value)) return value;
      } else if (rest.startsWith('{')) {
        const end = balancedEnd(rest);
        const value: unknown = JSON.parse(rest.slice(0, end));
        if (isObject(value)) return value;
      }
    } catch {
      // A malformed state blob: fall back to the page's markup.
    }
  }
  return undefined;
}

// Reads a JS string literal and returns its value; Substack emits JSON-compatible escapes.
function readStringLiteral(s: string): string | undefined {
  const quote = s[0];
  if (quote !== '"' && quote !== "'") return undefined;
  let i = 1;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') i += 2;
    else if (c === quote) break;
    else i++;
  }
  if (i >= s.length) return undefined;
  const inner = s.slice(1, i);
  const asJson = quote === '"' ? inner : inner.replace(/\\'/g, "'").replace(/"/g, '\\"');
  const value: unknown = JSON.parse(`"${asJson}"`);
  return typeof value === 'string' ? value : undefined;
}

function balancedEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return s.length;
}
