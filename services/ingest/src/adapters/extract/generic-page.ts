// Any other article page: JSON-LD Article, then OpenGraph, <title>, meta author and article:published_time
// (the first publication; dateModified / article:modified_time are kept as the update time).
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import type { PlatformName } from '../../domain/authors.js';
import {
  ARTICLE_TYPES,
  firstText,
  jsonLdAuthor,
  jsonLdOfType,
  meta,
  normalizeSpace,
  pageCanonicalUrl,
  parseTime,
  str,
  updatedAfter,
} from './html-document.js';
import { ExtractError, rawOf, type PageContext } from './page-context.js';

export function parseGenericPage(ctx: PageContext, platform: PlatformName = 'web'): ExtractedDocument {
  const { doc, url } = ctx;
  const ld = jsonLdOfType(doc, ARTICLE_TYPES);
  const canonicalUrl = pageCanonicalUrl(doc, url.href, str(ld?.['url']));
  const title =
    str(ld?.['headline']) ??
    meta(doc, 'og:title', 'twitter:title') ??
    (normalizeSpace(doc.title) || undefined) ??
    firstText(doc, ['article h1', 'h1']);
  if (!title) throw new ExtractError(`no title found on the page ${url.href}`);
  const author =
    jsonLdAuthor(ld?.['author']) ??
    meta(doc, 'author', 'article:author', 'twitter:creator') ??
    firstText(doc, ['[rel="author"]', '[itemprop="author"]', '.author']) ??
    '';
  const publishedAt =
    parseTime(ld?.['datePublished']) ??
    parseTime(meta(doc, 'article:published_time', 'og:article:published_time', 'date', 'dc.date')) ??
    parseTime(doc.querySelector('time[datetime]')?.getAttribute('datetime'));
  // schema.org and OpenGraph both name the first publication as published and an edit as modified.
  const updatedAt = updatedAfter(
    publishedAt,
    parseTime(ld?.['dateModified']),
    parseTime(meta(doc, 'article:modified_time', 'og:updated_time', 'last-modified', 'dc.date.modified')),
  );
  const subtitle = str(ld?.['alternativeHeadline']);
  return {
    category: 'article',
    platform,
    canonicalUrl,
    title,
    ...(subtitle ? { subtitle } : {}),
    author,
    publishedAt,
    ...(updatedAt !== null ? { updatedAt } : {}),
    draft: false,
    ...rawOf(ctx),
  };
}
