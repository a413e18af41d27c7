// Medium article pages on medium.com, *.medium.com and custom domains, in every markup from 2015 on.
//
// Publish time: in Medium's post-2018 markup `article:published_time` is the post's *latest* publish time
// (it equals latestPublishedAt in the embedded state), while JSON-LD datePublished and firstPublishedAt hold
// the first publication (readability's expected metadata for medium-3 confirms this). So JSON-LD and the
// embedded state win, and a visible date on another day than the meta tag beats the meta tag.
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import {
  ARTICLE_TYPES,
  firstText,
  jsonLdAuthor,
  jsonLdOfType,
  meta,
  normalizeSpace,
  pageCanonicalUrl,
  parseEnglishDate,
  parseTime,
  str,
  stripTitleSuffix,
  zonedMidnight,
} from './html-document.js';
import { ExtractError, rawOf, type PageContext } from './page-context.js';

const TITLE_SELECTORS = [
  'h1[data-testid="storyTitle"]',
  'h1.pw-post-title',
  'h1.graf--title',
  'h2.graf--title',
  'h3.graf--title',
];

export function isMediumPage(doc: Document, text: string): boolean {
  const app = meta(doc, 'al:android:app_name', 'al:ios:app_name');
  if (app?.toLowerCase() === 'medium') return true;
  if (meta(doc, 'og:site_name')?.toLowerCase() === 'medium') return true;
  const head = text.slice(0, 200_000);
  return /<(?:link|script)\b[^>]+(?:cdn-static-1\.medium\.com|glyph\.medium\.com|miro\.medium\.com\/_\/)/i.test(
    head,
  );
}

export function parseMediumPage(ctx: PageContext): ExtractedDocument {
  const { doc, url } = ctx;
  const ld = jsonLdOfType(doc, ARTICLE_TYPES);
  const canonicalUrl = pageCanonicalUrl(doc, url.href, str(ld?.['url']));
  const title = mediumTitle(doc, ld);
  if (!title) throw new ExtractError(`no article title found on the Medium page ${url.href}`);
  const author =
    meta(doc, 'author') ??
    jsonLdAuthor(ld?.['author']) ??
    firstText(doc, ['a[data-testid="authorName"]', 'a.ds-link--styleSubtle[href*="/@"]']) ??
    handleFrom(meta(doc, 'article:author')) ??
    '';
  const postId = mediumPostId(canonicalUrl, doc) ?? mediumPostId(url.href, doc);
  const subtitle =
    firstText(doc, ['.pw-subtitle-paragraph', 'h4.graf--subtitle', 'h2.graf--subtitle']) ?? undefined;
  const tags = mediumTags(doc, ld);
  return {
    category: 'article',
    platform: 'medium',
    canonicalUrl,
    title,
    ...(subtitle ? { subtitle } : {}),
    author,
    publishedAt: mediumPublishedAt(ctx, ld, postId),
    ...(tags.length > 0 ? { tags } : {}),
    draft: false,
    ...rawOf(ctx),
    ...(postId ? { externalId: postId } : {}),
  };
}

function mediumTitle(doc: Document, ld: Record<string, unknown> | undefined): string | undefined {
  const onPage = firstText(doc, TITLE_SELECTORS);
  if (onPage) return onPage;
  const og = meta(doc, 'og:title', 'twitter:title');
  if (og) return stripTitleSuffix(og, ['Medium']);
  const headline = str(ld?.['headline']);
  if (headline) return stripTitleSuffix(headline, ['Medium']);
  const title = normalizeSpace(doc.title);
  return title ? stripTitleSuffix(title, ['Medium']) : undefined;
}

function handleFrom(authorUrl: string | undefined): string | undefined {
  const m = authorUrl ? /@([\w.-]+)/.exec(authorUrl) : null;
  return m ? `@${m[1]}` : undefined;
}

export function mediumPostId(href: string, doc?: Document): string | undefined {
  const app = doc ? meta(doc, 'al:android:url', 'al:ios:url') : undefined;
  const fromApp = app ? /medium:\/\/p\/([0-9a-f]{8,16})/i.exec(app) : null;
  if (fromApp) return fromApp[1];
  try {
    const path = new URL(href).pathname;
    const m = /(?:^|[-/])([0-9a-f]{8,16})\/?$/i.exec(path);
    return m?.[1];
  } catch {
    return undefined;
  }
}

function mediumPublishedAt(
  ctx: PageContext,
  ld: Record<string, unknown> | undefined,
  postId: string | undefined,
): number | null {
  const fromLd = parseTime(ld?.['datePublished']) ?? parseTime(ld?.['dateCreated']);
  if (fromLd !== null) return fromLd;
  const fromState = postId ? firstPublishedAtInState(ctx.text, postId) : null;
  if (fromState !== null) return fromState;
  const fromMeta = parseTime(meta(ctx.doc, 'article:published_time'));
  const timeEl = ctx.doc.querySelector('time[datetime]');
  const fromTimeEl = parseTime(timeEl?.getAttribute('datetime'));
  const visible = parseEnglishDate(
    firstText(ctx.doc, ['.pw-published-date', '[data-testid="storyPublishDate"]']),
  );
  if (fromMeta !== null) {
    if (visible) {
      const day = zonedMidnight(visible.year, visible.month, visible.day, 'UTC');
      // A visible day that is not the meta tag's day means the meta tag is a later re-publish.
      if (Math.abs(fromMeta - day - 43_200_000) > 43_200_000 + 14 * 3_600_000) return day;
    }
    return fromMeta;
  }
  if (fromTimeEl !== null) return fromTimeEl;
  if (visible) return zonedMidnight(visible.year, visible.month, visible.day, 'UTC');
  return null;
}

// The embedded Apollo/legacy state names the post by id, then its fields; firstPublishedAt follows.
function firstPublishedAtInState(text: string, postId: string): number | null {
  const re = new RegExp(`"id"\\s*:\\s*"${postId}"`, 'g');
  for (const match of text.matchAll(re)) {
    const window = text.slice(match.index, match.index + 4000);
    const m = /"firstPublishedAt"\s*:\s*(\d{12,13})/.exec(window);
    if (m) return Number(m[1]);
  }
  return null;
}

function mediumTags(doc: Document, ld: Record<string, unknown> | undefined): string[] {
  const tags: string[] = [];
  const keywords = ld?.['keywords'];
  if (Array.isArray(keywords)) {
    for (const k of keywords) {
      if (typeof k === 'string' && k.startsWith('Tag:')) tags.push(k.slice(4));
    }
  }
  if (tags.length === 0) {
    for (const el of doc.querySelectorAll('meta[property="article:tag"], meta[name="article:tag"]')) {
      const v = normalizeSpace(el.getAttribute('content') ?? el.getAttribute('value'));
      if (v) tags.push(v);
    }
  }
  return [...new Set(tags)];
}
