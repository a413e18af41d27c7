// Medium article pages on medium.com, *.medium.com and custom domains, in every markup from 2015 on.
//
// Publish time: in Medium's post-2018 markup `article:published_time` is the post's *latest* publish time
// (it equals latestPublishedAt in the embedded state), while JSON-LD datePublished and firstPublishedAt hold
// the first publication (readability's expected metadata for medium-3 confirms this). The first publication
// is the document's publish time; the re-publish or edit time is kept apart as its update time.
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import {
  ARTICLE_TYPES,
  earliest,
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
  updatedAfter,
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
    ...mediumDates(ctx, ld, postId),
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

interface MediumDates {
  publishedAt: number | null;
  updatedAt?: number;
}

/**
 * The first publication is the earliest of JSON-LD datePublished, the embedded state's firstPublishedAt and
 * the meta tag (which is never earlier than the first: at worst it is the latest re-publish, so it decides
 * only when the other two are missing). A visible date on an earlier day beats them all (a trimmed capture
 * that kept only the meta tag and the byline). The update time is the latest of dateModified,
 * latestPublishedAt and a meta time later than the first publication.
 */
function mediumDates(
  ctx: PageContext,
  ld: Record<string, unknown> | undefined,
  postId: string | undefined,
): MediumDates {
  const ldPublished = parseTime(ld?.['datePublished']);
  // The embedded state is parsed only when JSON-LD lacks the date (trimmed captures, pre-2018 markup): where
  // both exist they agree, and parsing a state of half a megabyte would cost more than the rest of the page.
  const state = postId && ldPublished === null ? postState(ctx.doc, postId) : undefined;
  const fromMeta = parseTime(meta(ctx.doc, 'article:published_time'));
  const modified = [
    parseTime(ld?.['dateModified']),
    state?.latestPublishedAt ?? null,
    fromMeta,
    parseTime(meta(ctx.doc, 'article:modified_time')),
  ];
  let first = earliest(ldPublished, state?.firstPublishedAt, fromMeta);
  if (first === null) {
    // dateCreated is when the draft was started, so it comes only after every publication time.
    first =
      parseTime(ld?.['dateCreated']) ??
      parseTime(ctx.doc.querySelector('time[datetime]')?.getAttribute('datetime'));
  }
  const day = visibleDay(ctx.doc, first);
  // The byline shows the day only, in the reader's zone: it wins only on an earlier day than any zone
  // could put the precise time on (UTC-12 to UTC+14).
  if (day !== null && (first === null || day + DAY_MS + 14 * HOUR_MS <= first)) first = day;
  const updatedAt = updatedAfter(first, ...modified);
  return { publishedAt: first, ...(updatedAt !== null ? { updatedAt } : {}) };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The byline's publish day as UTC midnight. Medium leaves the year out for the current year ("Mar 3"); the
 * first publication is never later than the precise time found, so such a day takes that time's year
 * (or, when that puts it after the time, the year before).
 */
function visibleDay(doc: Document, precise: number | null): number | null {
  const text = firstText(doc, ['.pw-published-date', '[data-testid="storyPublishDate"]']);
  const full = parseEnglishDate(text);
  if (full) return zonedMidnight(full.year, full.month, full.day, 'UTC');
  const short = text ? /^([A-Za-z]{3,9})\.?\s+(\d{1,2})$/.exec(text) : null;
  if (!short || precise === null) return null;
  const year = new Date(precise).getUTCFullYear();
  const parsed = parseEnglishDate(`${short[1]} ${short[2]}, ${year}`);
  if (!parsed) return null;
  const day = zonedMidnight(parsed.year, parsed.month, parsed.day, 'UTC');
  return day <= precise ? day : zonedMidnight(year - 1, parsed.month, parsed.day, 'UTC');
}

interface PostState {
  firstPublishedAt?: number;
  latestPublishedAt?: number;
}

/**
 * The post's own record in the state Medium embeds in the page: `window.__APOLLO_STATE__ = {...}` (2019 on,
 * the post under "Post:<id>") or `var GLOBALS = {...}` / `window["obvInit"]({...})` (2015-2018, the post
 * under embedded.value). The whole object is parsed and the record found by its id: the state also holds
 * other posts (recommendations, the author's latest) with their own firstPublishedAt, and the post's own
 * fields can sit far from its id, so a text window around the id is not enough.
 */
function postState(doc: Document, postId: string): PostState | undefined {
  for (const script of doc.querySelectorAll('script:not([src])')) {
    const text = script.textContent ?? '';
    if (!text.includes('"firstPublishedAt"') || !text.includes(postId)) continue;
    // The object literal assigned (`= {`) or passed (`({`); a script may build others in code first.
    for (const m of [...text.matchAll(/(?:=|\()\s*\{/g)].slice(0, 8)) {
      const value = objectLiteral(text, m.index + m[0].length - 1);
      const found = value === undefined ? undefined : findPost(value, postId, 0);
      if (found) return found;
    }
  }
  return undefined;
}

function findPost(value: unknown, postId: string, depth: number): PostState | undefined {
  if (depth > 12 || typeof value !== 'object' || value === null) return undefined;
  if (!Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    if (obj['id'] === postId && typeof obj['firstPublishedAt'] === 'number') {
      const first = obj['firstPublishedAt'];
      const latest = obj['latestPublishedAt'];
      return {
        ...(first > 0 ? { firstPublishedAt: first } : {}),
        ...(typeof latest === 'number' && latest > 0 ? { latestPublishedAt: latest } : {}),
      };
    }
  }
  for (const child of Object.values(value)) {
    const found = findPost(child, postId, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The object literal starting at `start`, parsed; undefined when it is no JSON (JavaScript code). */
function objectLiteral(text: string, start: number): unknown {
  const json = balancedObject(text, start);
  if (json === undefined || !json.includes('"firstPublishedAt"')) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/** The text of the JSON object starting at `start`, up to its matching brace (strings skipped). */
function balancedObject(text: string, start: number): string | undefined {
  if (start < 0 || text[start] !== '{') return undefined;
  // Strings and braces only, in one regex pass: far faster than a character loop over a large state.
  const token = /"(?:[^"\\]|\\.)*"|[{}]/g;
  token.lastIndex = start;
  let depth = 0;
  for (let m = token.exec(text); m; m = token.exec(text)) {
    if (m[0] === '{') depth++;
    else if (m[0] === '}' && --depth === 0) return text.slice(start, token.lastIndex);
  }
  return undefined;
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
