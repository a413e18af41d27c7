// An author's or publication's Medium RSS feed (medium.com/feed/@user), whose items carry the full post
// in content:encoded, so a listing needs no page fetches.
//
// Dates: pubDate is the item's one publication time and atom:updated its last edit, kept as the update time.
// Where Medium moved pubDate on a re-publish, the feed alone cannot tell; the warehouse keeps the earliest
// publish time it has seen for a document (keepFirstPublication), so a page crawl or an export that knew the
// first publication is never overridden by a later feed.
import { XMLParser } from 'fast-xml-parser';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import { canonicalize, isObject, normalizeSpace, parseTime, updatedAfter } from './html-document.js';
import { mediumPostId } from './medium-page.js';
import { ExtractError } from './page-context.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  // Titles such as "2024" must stay strings.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Character references (&#8217;, &#x2014;) are plain XML, but fast-xml-parser decodes them only with
  // this option; without it an unwrapped title keeps the raw "&#8217;". CDATA sections stay untouched.
  htmlEntities: true,
  isArray: (name) => name === 'item' || name === 'category',
});

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (isObject(value) && typeof value['#text'] === 'string') return value['#text'];
  return '';
}

export function parseMediumFeed(xml: string | Uint8Array, feedUrl: string): ExtractedDocument[] {
  const source = typeof xml === 'string' ? xml : new TextDecoder('utf-8').decode(xml);
  let tree: unknown;
  try {
    // Validation on: without it a feed cut short (a size limit, a dropped connection) parses silently into
    // fewer items, which would read as posts that disappeared.
    tree = parser.parse(source, true);
  } catch (err) {
    throw new ExtractError(`the feed at ${feedUrl} is not well-formed XML: ${(err as Error).message}`);
  }
  const channel = isObject(tree) && isObject(tree['rss']) ? tree['rss']['channel'] : undefined;
  if (!isObject(channel)) throw new ExtractError(`the document at ${feedUrl} is not an RSS feed`);
  const items = Array.isArray(channel['item']) ? channel['item'] : [];
  const docs: ExtractedDocument[] = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    const link = canonicalize(text(item['link']) || text(item['guid']), feedUrl);
    const title = normalizeSpace(text(item['title']));
    if (!link || !title) continue;
    const content = text(item['content:encoded']) || text(item['description']);
    const categories = Array.isArray(item['category']) ? item['category'].map(text).filter(Boolean) : [];
    const guid = text(item['guid']);
    const id = mediumPostId(guid) ?? mediumPostId(link);
    const publishedAt = parseTime(text(item['pubDate']));
    const updatedAt = updatedAfter(publishedAt, parseTime(text(item['atom:updated'])));
    docs.push({
      category: 'article',
      platform: 'medium',
      canonicalUrl: link,
      title,
      author: normalizeSpace(text(item['dc:creator'])),
      publishedAt,
      ...(updatedAt !== null ? { updatedAt } : {}),
      ...(categories.length > 0 ? { tags: categories } : {}),
      draft: false,
      raw: new TextEncoder().encode(content),
      rawContentType: 'text/html; charset=utf-8',
      ...(id ? { externalId: id } : {}),
    });
  }
  return docs;
}
