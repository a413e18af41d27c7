// Substack's public JSON: the archive listing (`/api/v1/archive?sort=new&offset=N&limit=M`, an array of
// posts; the profile endpoint wraps the same objects in { posts }) and one post (`/api/v1/posts/<slug>`,
// a post object; `/api/v1/posts/by-id/<id>` wraps it in { post, publication }).
import type { Category, ExtractedDocument } from '../../domain/extracted-document.js';
import {
  canonicalize,
  isObject,
  normalizeSpace,
  parseTime,
  updatedAfter,
  type JsonObject,
} from './html-document.js';
import { ExtractError } from './page-context.js';

function parseJson(input: string | Uint8Array | unknown): unknown {
  if (typeof input === 'string') return JSON.parse(input);
  if (input instanceof Uint8Array) return JSON.parse(new TextDecoder('utf-8').decode(input));
  return input;
}

/** Every post of an archive page. Entries without a title or address are skipped, not guessed. */
export function parseSubstackArchive(
  input: string | Uint8Array | unknown,
  baseUrl: string,
): ExtractedDocument[] {
  const value = parseJson(input);
  const list = Array.isArray(value)
    ? value
    : isObject(value) && Array.isArray(value['posts'])
      ? value['posts']
      : null;
  if (!list) throw new ExtractError('a Substack archive is a JSON array of posts (or { posts: [...] })');
  const docs: ExtractedDocument[] = [];
  for (const entry of list) {
    if (!isObject(entry) || typeof entry['title'] !== 'string') continue;
    const doc = substackPostToDocument(entry, { base: baseUrl });
    if (doc.canonicalUrl) docs.push(doc);
  }
  return docs;
}

/** One post from `/api/v1/posts/<slug>` or `/api/v1/posts/by-id/<id>`. */
export function parseSubstackPostJson(input: string | Uint8Array | unknown, url: string): ExtractedDocument {
  const value = parseJson(input);
  const post = isObject(value) && isObject(value['post']) ? value['post'] : value;
  if (!isObject(post) || typeof post['title'] !== 'string') {
    throw new ExtractError(`the JSON from ${url} is not a Substack post (no title)`);
  }
  return substackPostToDocument(post, { base: url });
}

export function substackPostToDocument(
  post: JsonObject,
  opts: { base: string; raw?: Uint8Array },
): ExtractedDocument {
  const slug = typeof post['slug'] === 'string' ? post['slug'] : undefined;
  const canonicalUrl =
    canonicalize(typeof post['canonical_url'] === 'string' ? post['canonical_url'] : undefined, opts.base) ??
    (slug ? canonicalize(`/p/${encodeURIComponent(slug)}`, opts.base) : undefined) ??
    '';
  const bylines = Array.isArray(post['publishedBylines']) ? post['publishedBylines'] : [];
  const author = bylines
    .map((b) => (isObject(b) && typeof b['name'] === 'string' ? normalizeSpace(b['name']) : ''))
    .filter(Boolean)
    .join(', ');
  const tags = (Array.isArray(post['postTags']) ? post['postTags'] : [])
    .map((t) => (isObject(t) && typeof t['name'] === 'string' ? t['name'] : ''))
    .filter(Boolean);
  const subtitle = normalizeSpace(
    typeof post['subtitle'] === 'string'
      ? post['subtitle']
      : typeof post['description'] === 'string'
        ? post['description']
        : '',
  );
  // post_date is the publication; updated_at the last edit, kept apart so an edit never moves the date.
  const publishedAt = parseTime(post['post_date']);
  const draft = post['is_published'] === false || publishedAt === null;
  const updatedAt = draft ? null : updatedAfter(publishedAt, parseTime(post['updated_at']));
  const category: Category = post['type'] === 'thread' ? 'post' : 'article';
  const id = post['id'];
  return {
    category,
    platform: 'substack',
    canonicalUrl,
    title: normalizeSpace(post['title'] as string),
    ...(subtitle ? { subtitle } : {}),
    author,
    publishedAt: draft ? null : publishedAt,
    ...(updatedAt !== null ? { updatedAt } : {}),
    ...(tags.length > 0 ? { tags } : {}),
    draft,
    raw: opts.raw ?? new TextEncoder().encode(JSON.stringify(post)),
    rawContentType: 'application/json',
    ...(typeof id === 'number' || typeof id === 'string' ? { externalId: String(id) } : {}),
  };
}
