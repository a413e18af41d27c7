// Public LinkedIn post pages (/posts/… and /feed/update/urn:li:activity:…), built with the head a real
// public post page serves: rel=canonical and og:url on the /posts/ permalink, lnkd:url on the activity URN,
// og:title "<summary> | <Name> posted on the topic | LinkedIn", and a SocialMediaPosting JSON-LD block
// whose comments carry their own authors and dates. Ids, names and times are those of a real public post.
import { describe, expect, it } from '@jest/globals';
import { extractPage } from './extract-page.js';
import { activityTime, isLinkedInPostUrl } from './linkedin-page.js';

const ACTIVITY = '7458772951740358656';
const PERMALINK = `https://www.linkedin.com/posts/eric-vyacheslav-156273169_the-fix-for-agents-losing-context-is-a-folder-activity-${ACTIVITY}-nrvO`;
const FEED_UPDATE = `https://www.linkedin.com/feed/update/urn:li:activity:${ACTIVITY}/`;
// The address the post was shared as, with the share id and app tracking parameters.
const SHARED = `https://www.linkedin.com/posts/eric-vyacheslav-156273169_the-fix-for-agents-losing-context-is-a-folder-share-7458772948787597312-HYrt/?utm_source=share&utm_medium=member_ios&rcm=ACoAACCj0g`;
const PUBLISHED = '2026-05-09T07:00:48.974Z'; // the page's JSON-LD datePublished
const BODY =
  'The fix for agents losing context is a folder of markdown files. \n\nAGENTS.md falls apart as codebases grow.';
const OG_TITLE =
  'Fixing Agent Context with Lat.md Knowledge Graph | Eric Vyacheslav posted on the topic | LinkedIn';

function postPage(opts: { canonical?: boolean; jsonLd?: boolean }): string {
  const ld = {
    '@context': 'http://schema.org',
    '@type': 'SocialMediaPosting',
    '@id': PERMALINK,
    datePublished: PUBLISHED,
    headline: 'The fix for agents losing context is a folder of markdown files.',
    comment: [
      {
        '@type': 'Comment',
        datePublished: '2026-05-09T15:36:13.000Z',
        text: 'You never had to use a single monolithic file.',
        author: { '@type': 'Person', name: 'Timothy Miron' },
      },
    ],
    commentCount: 20,
    articleBody: BODY,
    author: {
      name: 'Eric Vyacheslav',
      url: 'https://il.linkedin.com/in/eric-vyacheslav-156273169',
      '@type': 'Person',
    },
  };
  return `<!DOCTYPE html><html lang="en"><head>
    <meta name="pageKey" content="d_public_post">
    ${opts.canonical === false ? '' : `<link rel="canonical" href="${PERMALINK}">`}
    <meta name="description" content="${BODY} | 20 comments on LinkedIn">
    <meta property="og:description" content="${BODY} | 20 comments on LinkedIn">
    <meta property="og:title" content="${OG_TITLE}">
    <title>${OG_TITLE}</title>
    <meta property="lnkd:url" content="https://www.linkedin.com/feed/update/urn:li:activity:${ACTIVITY}">
    <meta property="og:type" content="article">
    ${opts.canonical === false ? '' : `<meta property="og:url" content="${PERMALINK}">`}
    ${opts.jsonLd === false ? '' : `<script type="application/ld+json">${JSON.stringify(ld)}</script>`}
    </head><body><main><h1 class="section-title">Fixing Agent Context with Lat.md Knowledge Graph</h1>
    </main></body></html>`;
}

describe('LinkedIn public posts', () => {
  it('reads a /posts/ page: post, author (not a commenter), publish time, permalink', () => {
    const doc = extractPage(postPage({}), SHARED);
    expect({ ...doc, raw: undefined }).toEqual({
      category: 'post',
      platform: 'linkedin',
      canonicalUrl: PERMALINK,
      title: 'The fix for agents losing context is a folder of markdown files.',
      author: 'Eric Vyacheslav',
      publishedAt: Date.parse(PUBLISHED),
      draft: false,
      raw: undefined,
      rawContentType: 'text/html; charset=utf-8',
      externalId: `urn:li:activity:${ACTIVITY}`,
    });
  });

  it('reads a /feed/update/ page without JSON-LD from its title and the activity id', () => {
    const doc = extractPage(postPage({ canonical: false, jsonLd: false }), FEED_UPDATE);
    expect(doc).toMatchObject({
      category: 'post',
      canonicalUrl: FEED_UPDATE,
      // The first line of the post, not the whole text run together.
      title: 'The fix for agents losing context is a folder of markdown files.',
      author: 'Eric Vyacheslav',
      // id >> 22: 21 ms after the JSON-LD datePublished, the time the id was minted.
      publishedAt: Date.parse('2026-05-09T07:00:48.995Z'),
      externalId: `urn:li:activity:${ACTIVITY}`,
    });
  });

  it('decodes the creation time in the top bits of an activity id', () => {
    expect(new Date(activityTime(ACTIVITY)!).toISOString()).toBe('2026-05-09T07:00:48.995Z');
    expect(activityTime(ACTIVITY)).toBe(Number(BigInt(ACTIVITY) / 2n ** 22n));
    // Within a second of the JSON-LD datePublished on the same real page.
    expect(Math.abs(activityTime(ACTIVITY)! - Date.parse(PUBLISHED))).toBeLessThan(1000);
    expect(activityTime('12345')).toBeNull();
    expect(activityTime('not-a-number')).toBeNull();
  });

  it('tells post permalinks from other LinkedIn pages', () => {
    expect(isLinkedInPostUrl(PERMALINK)).toBe(true);
    expect(isLinkedInPostUrl(FEED_UPDATE)).toBe(true);
    expect(isLinkedInPostUrl('https://www.linkedin.com/pulse/some-article-ann-example')).toBe(false);
  });

  it('keeps a share id labelled as a share, and survives a stray "%" in the URL', () => {
    const page = postPage({ canonical: false, jsonLd: false }).replace(/<meta property="lnkd:url"[^>]*>/, '');
    const doc = extractPage(
      page,
      'https://www.linkedin.com/posts/ann_100%-sure-share-7458772948787597312-HYrt',
    );
    expect(doc.externalId).toBe('urn:li:share:7458772948787597312');
    expect(doc.publishedAt).toBe(Number(BigInt('7458772948787597312') >> 22n));
  });
});
