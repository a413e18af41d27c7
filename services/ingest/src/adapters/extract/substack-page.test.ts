// A Substack post page carries the post as the API serves it in `window._preloads`, written as
// JSON.parse("<the JSON as a string literal>"), with non-ASCII and "<" escaped as \uXXXX. The page here
// embeds the real /api/v1/posts/by-id/167180194 response that way.
import { describe, expect, it } from '@jest/globals';
import { extractPage } from './extract-page.js';
import { fixtureJson } from '../../../test/fixture-paths.js';
import { parseHtml } from './inert-dom.js';
import { readPreloads } from './substack-page.js';

type Json = Record<string, unknown>;
const byId = fixtureJson<{ post: Json; publication: Json; publicationSettings: Json }>(
  'substack-api/jakub-k-slys-substack-api/samples/api/v1/posts/by-id/167180194',
);
const CANONICAL = 'https://angelsant.substack.com/p/week-of-june-24-2025-build-saas-without';

const preloads = {
  isEU: false,
  language: 'en',
  base_url: 'https://angelsant.substack.com',
  pub: byId.publication,
  post: byId.post,
  publicationSettings: byId.publicationSettings,
};

/** The string literal Substack writes inside JSON.parse(...). */
function scriptLiteral(value: unknown): string {
  return JSON.stringify(JSON.stringify(value)).replace(
    /[\u007f-\uffff<>&]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

function page(
  jsonLdDate: string,
  script = `window._preloads        = JSON.parse(${scriptLiteral(preloads)})`,
) {
  return `<!DOCTYPE html><html lang="en"><head>
    <title>Week of June 24, 2025: Build SaaS Without Code</title>
    <link rel="canonical" href="${CANONICAL}">
    <meta property="og:title" content="Week of June 24, 2025: Build SaaS Without Code">
    <link rel="stylesheet" href="https://substackcdn.com/bundle/theme/main.css">
    <script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
      "url":"${CANONICAL}","headline":"Week of June 24, 2025: Build SaaS Without Code",
      "datePublished":"${jsonLdDate}","author":[{"@type":"Person","name":"Someone Else"}]}</script>
    </head><body><div id="entry"><div class="post-header"><h1 class="post-title">A re-rendered headline</h1>
    </div></div><script>${script}</script></body></html>`;
}

describe('Substack window._preloads', () => {
  it('reads the JSON.parse string literal back into the post', () => {
    const value = readPreloads(parseHtml(page('2025-06-30T13:56:04Z'), CANONICAL));
    expect(value?.['post']).toEqual(byId.post);
    expect(value?.['base_url']).toBe('https://angelsant.substack.com');
  });

  it('takes title, subtitle, UTC post_date, updated_at, canonical_url and author from it, over JSON-LD', () => {
    // The JSON-LD date is the same wall-clock time labelled with another zone: a different instant.
    const html = page('2025-06-30T13:56:04.688-07:00');
    const doc = extractPage(new TextEncoder().encode(html), `${CANONICAL}?utm_source=substack&r=2abc`);
    expect({ ...doc, raw: undefined }).toEqual({
      category: 'article',
      platform: 'substack',
      canonicalUrl: CANONICAL,
      title: 'Week of June 24, 2025: Build SaaS Without Code',
      subtitle: 'The New Blueprint for Solopreneurs',
      author: 'Angel Rodriguez Santiago',
      publishedAt: Date.parse('2025-06-30T13:56:04.688Z'),
      // updated_at, an edit after publication: kept apart, never the publish time.
      updatedAt: Date.parse('2025-07-01T00:17:16.196Z'),
      tags: ['tldr', 'workflows', 'content', 'digest', 'solopreneur', 'entrepreneur', 'agency'],
      draft: false,
      raw: undefined,
      rawContentType: 'text/html; charset=utf-8',
      externalId: '167180194',
    });
    // What is stored is the page as fetched, not the state blob.
    expect(new TextDecoder().decode(doc.raw)).toBe(html);
  });

  it('falls back to JSON-LD when the state blob is missing or broken', () => {
    const broken = page('2025-06-30T06:56:04-07:00', 'window._preloads = JSON.parse("{\\"post\\": ")');
    expect(extractPage(broken, CANONICAL)).toMatchObject({
      title: 'A re-rendered headline',
      author: 'Someone Else',
      publishedAt: Date.parse('2025-06-30T13:56:04Z'),
      canonicalUrl: CANONICAL,
    });
  });

  it('also reads a state object assigned as a literal', () => {
    const literal = page(
      '2025-06-30T13:56:04Z',
      `window._preloads = ${JSON.stringify({ post: byId.post })};`,
    );
    expect(extractPage(literal, CANONICAL).publishedAt).toBe(Date.parse('2025-06-30T13:56:04.688Z'));
  });
});
