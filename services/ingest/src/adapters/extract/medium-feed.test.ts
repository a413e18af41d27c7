// A Medium author feed, built in the shape medium.com/feed/@user serves (CDATA-wrapped text, tracking
// parameters on every link, the post id in the guid, the read pixel at the end of content:encoded), carrying
// the body of a real saved Medium article (mozilla/readability's medium-1).
import { describe, expect, it } from '@jest/globals';
import { fixtureJson, fixtureText } from '../../../test/fixture-paths.js';
import { parseHtml } from './inert-dom.js';
import { parseMediumFeed } from './medium-feed.js';

const PAGE = 'medium/mozilla-readability/test/test-pages/medium-1/';
const POST_URL =
  'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb';
const FEED_URL = 'https://medium.com/feed/@pippinlee';
const metadata = fixtureJson<{ title: string; byline: string; publishedTime: string }>(
  `${PAGE}expected-metadata.json`,
);

/** The article body exactly as the saved page holds it. */
const body = parseHtml(fixtureText(`${PAGE}source.html`), POST_URL)
  .querySelector('.postField--body')!
  .innerHTML.trim();

/** A CDATA section for any text: "]]>" inside is split across two sections, as XML requires. */
const cdata = (text: string) => `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

// RFC 822 has whole seconds; the page's own time is 2015-03-17T16:27:40.294Z.
const PUB_DATE = 'Tue, 17 Mar 2015 16:27:40 GMT';
const pixel =
  '<img src="https://medium.com/_/stat?event=post.clientViewed&referrerSource=full_rss&postId=fb39f4f701bb" width="1" height="1" alt="">';

const feed = `<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" version="2.0" xmlns:cc="http://cyber.law.harvard.edu/rss/creativeCommonsRssModule.html">
  <channel>
    <title>${cdata('Stories by Pippin Lee on Medium')}</title>
    <description>${cdata('Stories by Pippin Lee on Medium')}</description>
    <link>https://medium.com/@pippinlee?source=rss-3a8144eabfe3------2</link>
    <image>
      <url>https://cdn-images-1.medium.com/fit/c/150/150/0*312pRa3Jh6ESE7Es.jpeg</url>
      <title>Stories by Pippin Lee on Medium</title>
      <link>https://medium.com/@pippinlee?source=rss-3a8144eabfe3------2</link>
    </image>
    <generator>Medium</generator>
    <lastBuildDate>Wed, 18 Mar 2015 09:00:00 GMT</lastBuildDate>
    <atom:link href="${FEED_URL}" rel="self" type="application/rss+xml"/>
    <webMaster>${cdata('yourfriends@medium.com')}</webMaster>
    <atom:link href="http://medium.superfeedr.com" rel="hub"/>
    <item>
      <title>${cdata(metadata.title)}</title>
      <link>${POST_URL}?source=rss-3a8144eabfe3------2</link>
      <guid isPermaLink="false">https://medium.com/p/fb39f4f701bb</guid>
      <category>${cdata('journalism')}</category>
      <category>${cdata('education')}</category>
      <dc:creator>${cdata(metadata.byline)}</dc:creator>
      <pubDate>${PUB_DATE}</pubDate>
      <atom:updated>2015-03-17T16:27:40.294Z</atom:updated>
      <content:encoded>${cdata(body + pixel)}</content:encoded>
    </item>
    <item>
      <title>${cdata('2015')}</title>
      <link>https://medium.com/@pippinlee/2015-0a1b2c3d4e5f?source=rss-3a8144eabfe3------2</link>
      <guid isPermaLink="false">https://medium.com/p/0a1b2c3d4e5f</guid>
      <dc:creator>${cdata(metadata.byline)}</dc:creator>
      <pubDate>Mon, 02 Mar 2015 23:05:09 GMT</pubDate>
      <content:encoded>${cdata('<p>A year in one word.</p>')}</content:encoded>
    </item>
  </channel>
</rss>`;

describe('parseMediumFeed', () => {
  const docs = parseMediumFeed(new TextEncoder().encode(feed), FEED_URL);

  it('turns every item into an article with its canonical URL, author, UTC time and tags', () => {
    expect(docs).toHaveLength(2);
    const { raw, ...doc } = docs[0]!;
    expect(doc).toEqual({
      category: 'article',
      platform: 'medium',
      canonicalUrl: POST_URL,
      title: metadata.title,
      author: metadata.byline,
      publishedAt: Date.parse(metadata.publishedTime) - 294,
      tags: ['journalism', 'education'],
      draft: false,
      rawContentType: 'text/html; charset=utf-8',
      externalId: 'fb39f4f701bb',
    });
    expect(new Date(doc.publishedAt!).toISOString()).toBe('2015-03-17T16:27:40.000Z');
    // The whole article body, byte for byte: the feed is the only fetch a feed crawl makes.
    expect(new TextDecoder().decode(raw)).toBe(body + pixel);
    expect(body.length).toBeGreaterThan(15000);
    expect(body).toContain('We pushed out the first version of the');
  });

  it('keeps a numeric title as text and leaves tags out when an item has none', () => {
    expect(docs[1]).toMatchObject({
      title: '2015',
      canonicalUrl: 'https://medium.com/@pippinlee/2015-0a1b2c3d4e5f',
      publishedAt: Date.UTC(2015, 2, 2, 23, 5, 9),
      externalId: '0a1b2c3d4e5f',
    });
    expect(docs[1]!.tags).toBeUndefined();
  });

  it('decodes character references in text that is not wrapped in CDATA', () => {
    const [doc] = parseMediumFeed(
      `<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item>
        <title>Rock &amp; Roll&#8217;s &#x2014; notes</title>
        <link>https://medium.com/@a/notes-0a1b2c3d4e5f?source=rss</link>
        <dc:creator>A</dc:creator><pubDate>Tue, 17 Mar 2015 16:27:40 +0100</pubDate>
      </item></channel></rss>`,
      'https://medium.com/feed/@a',
    );
    expect(doc).toMatchObject({
      title: 'Rock & Roll’s — notes',
      publishedAt: Date.UTC(2015, 2, 17, 15, 27, 40),
    });
  });

  it('refuses what is not an RSS feed', () => {
    expect(() => parseMediumFeed('<html><body>nope</body></html>', FEED_URL)).toThrow(/not an RSS feed/);
    expect(() => parseMediumFeed('<rss><channel><item></channel>', FEED_URL)).toThrow(/not well-formed/);
  });
});
