// Shared reading helpers for saved pages: the metadata every platform page carries (meta tags, JSON-LD,
// canonical links). Bytes are decoded as a browser does by @llmtwin/html-encoding (shared with clean).

export function normalizeSpace(text: string | null | undefined): string {
  return (text ?? '')
    .replace(/[\u00a0\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A meta tag's value by name or property. Some saved pages (Postlight's fixtures) were re-serialised with
 * `value=` instead of `content=`, so both attributes are read. */
export function meta(doc: Document, ...keys: string[]): string | undefined {
  for (const key of keys) {
    for (const el of doc.querySelectorAll('meta')) {
      const name = el.getAttribute('property') ?? el.getAttribute('name') ?? el.getAttribute('itemprop');
      if (name?.toLowerCase() !== key.toLowerCase()) continue;
      const value = normalizeSpace(el.getAttribute('content') ?? el.getAttribute('value'));
      if (value) return value;
    }
  }
  return undefined;
}

export function linkHref(doc: Document, rel: string): string | undefined {
  for (const el of doc.querySelectorAll('link[rel][href]')) {
    const rels = (el.getAttribute('rel') ?? '').toLowerCase().split(/\s+/);
    if (rels.includes(rel)) return el.getAttribute('href')?.trim() || undefined;
  }
  return undefined;
}

export type JsonObject = { [key: string]: unknown };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every JSON-LD node of the page, with @graph and arrays flattened; unparseable blocks are skipped. */
export function jsonLdNodes(doc: Document): JsonObject[] {
  const nodes: JsonObject[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isObject(value)) {
      nodes.push(value);
      if (Array.isArray(value['@graph'])) value['@graph'].forEach(visit);
    }
  };
  for (const script of doc.querySelectorAll('script[type="application/ld+json"]')) {
    try {
      visit(JSON.parse(script.textContent ?? ''));
    } catch {
      // A broken block on a page is common and says nothing about the rest of the page.
    }
  }
  return nodes;
}

export function jsonLdOfType(doc: Document, types: string[]): JsonObject | undefined {
  return jsonLdNodes(doc).find((node) => {
    const t = node['@type'];
    const list = Array.isArray(t) ? t : [t];
    return list.some((x) => typeof x === 'string' && types.includes(x));
  });
}

export const ARTICLE_TYPES = [
  'Article',
  'NewsArticle',
  'BlogPosting',
  'TechArticle',
  'Report',
  'ScholarlyArticle',
];

export function str(value: unknown): string | undefined {
  if (typeof value === 'string') return normalizeSpace(value) || undefined;
  return undefined;
}

/** The author's display name from a JSON-LD author field (string, Person, or list of them). */
export function jsonLdAuthor(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    const names = value.map(jsonLdAuthor).filter((n): n is string => !!n);
    return names.length > 0 ? names.join(', ') : undefined;
  }
  if (typeof value === 'string') return str(value);
  if (isObject(value)) return str(value['name']);
  return undefined;
}

const TRACKING_PARAMS = new Set([
  'source',
  'gi',
  'sk',
  'fbclid',
  'gclid',
  'mc_cid',
  'mc_eid',
  'trk',
  'trkinfo',
  'trackingid',
  'lipi',
  'ref',
  'ref_src',
  'r',
  'triedredirect',
  'showwelcome',
  'publication_id',
  'post_id',
  'isfreemail',
  'open',
]);

/** Absolute, without fragment or tracking parameters; undefined for anything but http(s). */
export function canonicalize(href: string | undefined, base: string): string | undefined {
  if (!href) return undefined;
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  url.hash = '';
  for (const key of [...url.searchParams.keys()]) {
    const k = key.toLowerCase();
    if (k.startsWith('utm_') || TRACKING_PARAMS.has(k)) url.searchParams.delete(key);
  }
  if ([...url.searchParams.keys()].length === 0) url.search = '';
  return url.href;
}

/** The page's own idea of its address: rel=canonical, og:url, then the URL it was fetched from. */
export function pageCanonicalUrl(doc: Document, url: string, ...extra: (string | undefined)[]): string {
  for (const candidate of [linkHref(doc, 'canonical'), meta(doc, 'og:url'), ...extra]) {
    const c = canonicalize(candidate, url);
    if (c) return c;
  }
  return canonicalize(url, url) ?? url;
}

const ISO_DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_NO_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Epoch ms UTC from an ISO string, an RFC 822 date, or epoch seconds/ms; null when it is not a time.
 * A time without a zone is read as UTC, never as this machine's zone. */
export function parseTime(value: unknown, dateOnlyZone = 'UTC'): number | null {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    return value < 1e11 ? value * 1000 : value;
  }
  if (typeof value !== 'string') return null;
  const s = value.trim();
  if (!s) return null;
  if (/^\d{10,13}$/.test(s)) return parseTime(Number(s));
  if (ISO_DATE_ONLY.test(s)) {
    const [y, m, d] = s.split('-').map(Number) as [number, number, number];
    return zonedMidnight(y, m, d, dateOnlyZone);
  }
  const ms = Date.parse(ISO_NO_ZONE.test(s) ? s.replace(' ', 'T') + 'Z' : s);
  return Number.isFinite(ms) ? ms : null;
}

/** Midnight of a calendar day in an IANA time zone, as epoch ms. */
export function zonedMidnight(year: number, month: number, day: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day);
  if (timeZone === 'UTC') return guess;
  let result = guess - zoneOffset(guess, timeZone);
  // Around a DST change the offset at the guess may differ from the offset at the result.
  result = guess - zoneOffset(result, timeZone);
  return result;
}

function zoneOffset(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - (ms - (ms % 1000));
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** A visible English date such as "Aug 8, 2016" or "December 19, 2016" → { year, month, day }. */
export function parseEnglishDate(
  text: string | undefined,
): { year: number; month: number; day: number } | null {
  if (!text) return null;
  const m = /\b([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})\b/.exec(text);
  if (!m) return null;
  const month = MONTHS.indexOf(m[1]!.slice(0, 3).toLowerCase()) + 1;
  if (month === 0) return null;
  return { year: Number(m[3]), month, day: Number(m[2]) };
}

export function firstText(doc: Document | Element, selectors: string[]): string | undefined {
  for (const selector of selectors) {
    for (const el of doc.querySelectorAll(selector)) {
      const text = normalizeSpace(el.textContent);
      if (text) return text;
    }
  }
  return undefined;
}

/** Strip a trailing " | by Author | Site", " – Site", " - Site" the way page titles append them. */
export function stripTitleSuffix(title: string, suffixes: string[]): string {
  let t = title;
  for (;;) {
    const before = t;
    for (const s of suffixes) {
      const re = new RegExp(`\\s+[|\\-–—·]\\s+${escapeRegExp(s)}$`, 'i');
      t = t.replace(re, '');
    }
    t = t.replace(/\s+[|\-–—]\s+by\s+[^|\-–—]+$/i, '');
    if (t === before) return t.trim();
  }
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function htmlContentType(encoding: string): string {
  return `text/html; charset=${encoding}`;
}

/** The earliest of the times given: the first publication, where a source may also state a re-publish. */
export function earliest(...times: (number | null | undefined)[]): number | null {
  let first: number | null = null;
  for (const t of times) if (typeof t === 'number' && (first === null || t < first)) first = t;
  return first;
}

/**
 * The latest of the times given, when later than the publish time: an update time that says something.
 * Within a second is the same moment: RFC 822 dates (feeds) have whole seconds where ISO ones have ms.
 */
export function updatedAfter(
  publishedAt: number | null,
  ...times: (number | null | undefined)[]
): number | null {
  let last: number | null = null;
  for (const t of times) if (typeof t === 'number' && (last === null || t > last)) last = t;
  if (last === null) return null;
  return publishedAt === null || last - publishedAt >= 1000 ? last : null;
}
