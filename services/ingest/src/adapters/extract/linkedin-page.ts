// LinkedIn pages reachable without logging in: Pulse articles (linkedin.com/pulse/...) and public posts
// (linkedin.com/posts/..., linkedin.com/feed/update/urn:li:activity:...).
//
// Pulse pages from 2017 on carry only the publish *day*; LinkedIn renders days in its home zone, so a day
// is read as midnight America/Los_Angeles (what the Postlight fixtures' expected times show, 08:00Z).
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import {
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

const LINKEDIN_ZONE = 'America/Los_Angeles';
// Post ids in a permalink: a /posts/ slug ends in "activity-<id>-<hash>" ("share-<id>-<hash>" as the apps
// share it), /feed/update/ carries the URN. Share and ugcPost ids carry their time the same way.
const POST_ID = /(?:(activity|share)-|urn:li:(activity|share|ugcPost):)(\d{15,22})/;

export function isLinkedInPostUrl(href: string): boolean {
  let path: string;
  try {
    path = new URL(href).pathname;
  } catch {
    return false;
  }
  return path.startsWith('/posts/') || path.startsWith('/feed/update/');
}

export function parseLinkedInPage(ctx: PageContext): ExtractedDocument {
  const canonicalUrl = pageCanonicalUrl(ctx.doc, ctx.url.href);
  if (isLinkedInPostUrl(canonicalUrl) || isLinkedInPostUrl(ctx.url.href))
    return parseLinkedInPost(ctx, canonicalUrl);
  return parseLinkedInArticle(ctx, canonicalUrl);
}

function parseLinkedInArticle(ctx: PageContext, canonicalUrl: string): ExtractedDocument {
  const { doc } = ctx;
  const ld = jsonLdOfType(doc, ['Article', 'NewsArticle', 'BlogPosting']);
  const pageTitle = normalizeSpace(doc.title);
  const title =
    meta(doc, 'og:title') ??
    str(ld?.['headline']) ??
    firstText(doc, ['h1.pulse-title', 'h1[itemprop="headline"]', 'article h1', 'h1']) ??
    stripTitleSuffix(pageTitle, ['LinkedIn']);
  if (!title) throw new ExtractError(`no article title found on the LinkedIn page ${ctx.url.href}`);
  const author =
    meta(doc, 'article:author') ??
    jsonLdAuthor(ld?.['author']) ??
    twitterWrittenBy(doc) ??
    authorFromTitle(pageTitle, title) ??
    ownText(doc.querySelector('[itemprop="author"] [itemprop="name"], [itemprop="author"]')) ??
    firstText(doc, ['.base-main-card__title', '.author-info__name']) ??
    '';
  return {
    category: 'article',
    platform: 'linkedin',
    canonicalUrl,
    title,
    author,
    ...withUpdate(articlePublishedAt(doc, ld), doc, ld),
    draft: false,
    ...rawOf(ctx),
  };
}

/** The publish time with the page's modification time beside it, when that is later. */
function withUpdate(
  publishedAt: number | null,
  doc: Document,
  ld: Record<string, unknown> | undefined,
): { publishedAt: number | null; updatedAt?: number } {
  const updatedAt = updatedAfter(
    publishedAt,
    parseTime(str(ld?.['dateModified']), LINKEDIN_ZONE),
    parseTime(meta(doc, 'article:modified_time'), LINKEDIN_ZONE),
  );
  return { publishedAt, ...(updatedAt !== null ? { updatedAt } : {}) };
}

function articlePublishedAt(doc: Document, ld: Record<string, unknown> | undefined): number | null {
  const candidates = [
    str(ld?.['datePublished']),
    doc.querySelector('time[itemprop="datePublished"][datetime]')?.getAttribute('datetime') ?? undefined,
    meta(doc, 'article:published_time'),
  ];
  for (const c of candidates) {
    const t = parseTime(c, LINKEDIN_ZONE);
    if (t !== null) return t;
  }
  for (const el of doc.querySelectorAll('time, .base-main-card__metadata, .article-meta, p, span, div')) {
    if (el.children.length > 0) continue;
    const text = normalizeSpace(el.textContent);
    if (!/^Published (on )?[A-Z]/.test(text)) continue;
    const d = parseEnglishDate(text);
    if (d) return zonedMidnight(d.year, d.month, d.day, LINKEDIN_ZONE);
  }
  return null;
}

function twitterWrittenBy(doc: Document): string | undefined {
  for (let i = 1; i <= 4; i++) {
    const label = meta(doc, `twitter:label${i}`);
    const data = meta(doc, `twitter:data${i}`);
    if (data && (!label || /written by|author/i.test(label))) return data;
  }
  return undefined;
}

// Older Pulse titles read "Title | Author | LinkedIn".
function authorFromTitle(pageTitle: string, title: string): string | undefined {
  const parts = pageTitle.split(/\s+\|\s+/);
  if (parts.length === 3 && parts[2] === 'LinkedIn' && parts[0] === title) return parts[1];
  return undefined;
}

function ownText(el: Element | null): string | undefined {
  if (!el) return undefined;
  let text = '';
  for (const node of el.childNodes) if (node.nodeType === 3) text += node.textContent ?? '';
  return normalizeSpace(text) || undefined;
}

function parseLinkedInPost(ctx: PageContext, canonicalUrl: string): ExtractedDocument {
  const { doc } = ctx;
  const ld = jsonLdOfType(doc, ['SocialMediaPosting', 'DiscussionForumPosting', 'Article']);
  const ogTitle = meta(doc, 'og:title') ?? normalizeSpace(doc.title);
  // Public post pages title themselves "<summary> | <Name> posted on the topic | LinkedIn" (current pages)
  // or "<Name> on LinkedIn: <first words>" (older captures).
  const onLinkedIn = /^(.+?) (?:on|posted on) LinkedIn:\s*(.*)$/s.exec(ogTitle);
  const onTopic = /\|\s*([^|]+?) posted on the topic \| LinkedIn$/.exec(ogTitle);
  // Line breaks are kept (str and meta collapse them) so the title can be the post's first line.
  const text =
    multiline(ld?.['articleBody']) ??
    multiline(ld?.['text']) ??
    multiline(doc.querySelector('meta[property="og:description"]')?.getAttribute('content')) ??
    onLinkedIn?.[2];
  const title = firstLine(str(ld?.['headline']) ?? text ?? stripTitleSuffix(ogTitle, ['LinkedIn']));
  if (!title) throw new ExtractError(`no post text found on the LinkedIn page ${ctx.url.href}`);
  const author = jsonLdAuthor(ld?.['author']) ?? onTopic?.[1] ?? onLinkedIn?.[1] ?? meta(doc, 'author') ?? '';
  const post = postId(canonicalUrl) ?? postId(meta(doc, 'lnkd:url')) ?? postId(ctx.url.href);
  const publishedAt =
    parseTime(ld?.['datePublished']) ??
    parseTime(ld?.['dateCreated']) ??
    (post ? activityTime(post.id) : null);
  return {
    category: 'post',
    platform: 'linkedin',
    canonicalUrl,
    title,
    author,
    ...withUpdate(publishedAt, doc, ld),
    draft: false,
    ...rawOf(ctx),
    ...(post ? { externalId: `urn:li:${post.kind}:${post.id}` } : {}),
  };
}

function postId(href: string | undefined): { kind: string; id: string } | undefined {
  if (!href) return undefined;
  let text = href;
  try {
    text = decodeURIComponent(href);
  } catch {
    // A stray "%" in a slug: the id, if any, is still readable undecoded.
  }
  const m = POST_ID.exec(text);
  return m ? { kind: m[1] ?? m[2]!, id: m[3]! } : undefined;
}

/** LinkedIn activity ids carry their creation time in the top 41 bits (ms since the Unix epoch). */
export function activityTime(id: string): number | null {
  try {
    const ms = Number(BigInt(id) >> 22n);
    return ms > Date.UTC(2003, 0, 1) && ms < Date.UTC(2100, 0, 1) ? ms : null;
  } catch {
    return null;
  }
}

function multiline(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value : undefined;
}

function firstLine(text: string | undefined): string {
  const line = normalizeSpace((text ?? '').split(/\n/).find((l) => l.trim()) ?? '');
  return line.length > 120 ? line.slice(0, 117).trimEnd() + '…' : line;
}
