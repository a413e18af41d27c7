// A Medium story re-published seven weeks after it first came out, as a saved page (in full and in the
// trimmed forms captures take), as a feed item and as an export post (test/fixtures/medium-republished,
// written for this project): the publish time is the first publication wherever the story comes from, the
// re-publish or edit is kept as the update time, and no order of crawls moves the stored date later. A blog
// post and a LinkedIn article edited after publication show the same rule on the other parsers.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ingesteventsv1, topics } from '@llmtwin/contracts';
import { decodeEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixtureBytes, fixtureText } from '../../../test/fixture-paths.js';
import { RawDocumentStore } from '../../domain/raw-documents.js';
import { parseMediumExportPost } from '../import/medium-export.js';
import { extractPage } from './extract-page.js';
import { parseMediumFeed } from './medium-feed.js';

const DIR = 'medium-republished/';
const URL_ = 'https://medium.com/@ingrid.holm/what-a-year-of-code-review-taught-our-team-5e1f0c9a7b2d';
const EXPORT_POST = 'export/posts/2024-01-09_What-a-year-of-code-review-taught-our-team-5e1f0c9a7b2d.html';
const FIRST = Date.parse('2024-01-09T08:15:27.311Z'); // datePublished, firstPublishedAt
const REPUBLISHED = Date.parse('2024-03-01T10:02:45.880Z'); // article:published_time, latestPublishedAt
const EDITED = Date.parse('2024-03-04T17:40:02.118Z'); // dateModified
const FEED_DATE = Date.parse('2024-03-01T10:02:45Z'); // the feed's pubDate: the re-publish, whole seconds
const page = fixtureText(`${DIR}republished-story.html`);

const withoutJsonLd = (html: string) =>
  html.replace(/<script[^>]*application\/ld\+json[^>]*>.*?<\/script>/s, '');
const withoutState = (html: string) => html.replace(/<script>window\.__APOLLO_STATE__ = .*?<\/script>/s, '');
const extract = (html: string) => extractPage(new TextEncoder().encode(html), URL_);

/** The feed item Medium serves for the story after the re-publish: one publication time, the latest. */
const feed = `<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"><channel>
  <title><![CDATA[Stories by Ingrid Holm on Medium]]></title>
  <link>https://medium.com/@ingrid.holm?source=rss-3b7d2f9c1a08------2</link>
  <generator>Medium</generator>
  <item>
    <title><![CDATA[What a year of code review taught our team]]></title>
    <link>${URL_}?source=rss-3b7d2f9c1a08------2</link>
    <guid isPermaLink="false">https://medium.com/p/5e1f0c9a7b2d</guid>
    <category><![CDATA[code-review]]></category>
    <dc:creator><![CDATA[Ingrid Holm]]></dc:creator>
    <pubDate>Fri, 01 Mar 2024 10:02:45 GMT</pubDate>
    <atom:updated>2024-03-04T17:40:02.118Z</atom:updated>
    <content:encoded><![CDATA[<p>When we started reviewing every change in pairs, the queue grew faster than we could read it.</p>]]></content:encoded>
  </item>
</channel></rss>`;

describe('Medium pages: the first publication is the publish time', () => {
  it('takes JSON-LD datePublished over a later article:published_time and keeps the edit as the update', () => {
    const doc = extract(page);
    expect(doc).toMatchObject({ platform: 'medium', canonicalUrl: URL_, externalId: '5e1f0c9a7b2d' });
    expect(doc.publishedAt).toBe(FIRST);
    expect(doc.updatedAt).toBe(EDITED);
  });

  it('finds firstPublishedAt in the Apollo state by the post id, past other posts and 6 KB of body', () => {
    const doc = extract(withoutJsonLd(page));
    // Not the meta tag (the re-publish), not a recommended story's date listed before the post.
    expect(new Date(doc.publishedAt!).toISOString()).toBe('2024-01-09T08:15:27.311Z');
    expect(doc.updatedAt).toBe(REPUBLISHED);
  });

  it('takes the byline day over the meta tag when a capture kept nothing else', () => {
    const trimmed = withoutState(withoutJsonLd(page));
    expect(extract(trimmed)).toMatchObject({ publishedAt: Date.UTC(2024, 0, 9), updatedAt: REPUBLISHED });
    // Medium drops the year for the current year's stories: the meta tag's year is the byline's.
    const yearless = trimmed.replace('>Jan 9, 2024<', '>Jan 9<');
    expect(extract(yearless)).toMatchObject({ publishedAt: Date.UTC(2024, 0, 9), updatedAt: REPUBLISHED });
    // A December byline under a January meta time is the year before.
    const december = yearless
      .replace('>Jan 9<', '>Dec 28<')
      .replace('content="2024-03-01T10:02:45.880Z"', 'content="2024-01-05T10:00:00.000Z"');
    expect(extract(december).publishedAt).toBe(Date.UTC(2023, 11, 28));
  });

  it('keeps the precise meta time when the byline shows the same day (a story never re-published)', () => {
    const once = withoutState(withoutJsonLd(page)).replace(
      'content="2024-03-01T10:02:45.880Z"',
      'content="2024-01-09T23:30:00.000Z"',
    );
    const doc = extract(once);
    // 23:30 UTC on Jan 9 is Jan 10 in UTC+14; the byline's Jan 9 is the same publication, not an earlier one.
    expect(doc.publishedAt).toBe(Date.parse('2024-01-09T23:30:00.000Z'));
    expect(doc.updatedAt).toBeUndefined();
  });
});

describe('other platforms: published is the first publication, a modification is kept apart', () => {
  // A blog post edited after it came out, as WordPress and most CMSs mark it up (JSON-LD and OpenGraph).
  const blog = `<!doctype html><html><head><title>Moving off cron | Ops notes</title>
    <meta property="og:type" content="article">
    <meta property="og:title" content="Moving off cron">
    <meta property="article:published_time" content="2024-02-12T09:30:00+01:00">
    <meta property="article:modified_time" content="2024-04-02T16:05:11+02:00">
    <link rel="canonical" href="https://ops.example.org/2024/02/moving-off-cron/">
    <script type="application/ld+json">{"@context":"https://schema.org","@type":"BlogPosting",
      "headline":"Moving off cron","datePublished":"2024-02-12T09:30:00+01:00",
      "dateModified":"2024-04-02T16:05:11+02:00","author":{"@type":"Person","name":"Sam Ortiz"}}</script>
    </head><body><article><h1>Moving off cron</h1><p>We replaced forty cron jobs with one scheduler.</p>
    <p><em>Updated in April with the retry numbers.</em></p></article></body></html>`;

  it('generic pages: datePublished, and dateModified as the update', () => {
    const doc = extractPage(blog, 'https://ops.example.org/2024/02/moving-off-cron/');
    expect(doc).toMatchObject({
      platform: 'web',
      publishedAt: Date.parse('2024-02-12T08:30:00Z'),
      updatedAt: Date.parse('2024-04-02T14:05:11Z'),
    });
    // Only the meta tags (no JSON-LD): the same two times.
    const metaOnly = blog.replace(/<script type="application\/ld\+json">.*?<\/script>/s, '');
    expect(extractPage(metaOnly, 'https://ops.example.org/2024/02/moving-off-cron/')).toMatchObject({
      publishedAt: Date.parse('2024-02-12T08:30:00Z'),
      updatedAt: Date.parse('2024-04-02T14:05:11Z'),
    });
  });

  it('LinkedIn articles: datePublished, and dateModified as the update', () => {
    const pulse = 'https://www.linkedin.com/pulse/what-reviews-ingrid-holm';
    const page = `<!doctype html><html><head><title>What reviews are for | LinkedIn</title>
      <meta property="og:title" content="What reviews are for">
      <link rel="canonical" href="${pulse}">
      <script type="application/ld+json">{"@context":"http://schema.org","@type":"Article",
        "headline":"What reviews are for","datePublished":"2024-11-05T07:30:00.000+00:00",
        "dateModified":"2025-01-14T12:00:00.000+00:00","author":{"@type":"Person","name":"Ingrid Holm"}}</script>
      </head><body><article><h1>What reviews are for</h1><p>Every team had its own idea.</p></article></body></html>`;
    expect(extractPage(page, pulse)).toMatchObject({
      platform: 'linkedin',
      category: 'article',
      publishedAt: Date.parse('2024-11-05T07:30:00Z'),
      updatedAt: Date.parse('2025-01-14T12:00:00Z'),
    });
  });
});

describe('Medium feeds and exports', () => {
  it('reads pubDate as the publish time and atom:updated as the update time', () => {
    const [item] = parseMediumFeed(feed, 'https://medium.com/feed/@ingrid.holm');
    expect(item).toMatchObject({ canonicalUrl: URL_, publishedAt: FEED_DATE });
    expect(item!.updatedAt).toBe(EDITED);
  });

  it('reads the export post at its first publication', () => {
    const doc = parseMediumExportPost(EXPORT_POST, Buffer.from(fixtureBytes(`${DIR}${EXPORT_POST}`)));
    expect(doc).toMatchObject({ canonicalUrl: URL_, publishedAt: FIRST, draft: false });
  });
});

describe('the warehouse keeps the first publication whatever order the sources come in', () => {
  let dir: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let store: RawDocumentStore;
  const ctx = { authorId: 'ingrid', sourceId: 'src_1', crawlJobId: 'job_1' };
  const [feedItem] = parseMediumFeed(feed, 'https://medium.com/feed/@ingrid.holm');
  const stored = async () => (await store.documents.find({ authorId: 'ingrid' }))[0]!;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'first-publication-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    bus = createEventBus(`log:${path.join(dir, 'e.db')}`);
    store = new RawDocumentStore(warehouse, bus);
    await store.init();
  });
  afterEach(async () => {
    await bus.close();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a feed crawl after the page never moves the date to the re-publish, and re-crawls are no-ops', async () => {
    await store.upsert(extract(page), ctx);
    const fromFeed = await store.upsert(feedItem!, ctx);
    expect(fromFeed.change).toBe('updated'); // the feed's payload is the body alone: a new version
    expect(await stored()).toMatchObject({ publishedAt: FIRST, updatedAt: EDITED });
    expect((await store.upsert(feedItem!, ctx)).change).toBe('unchanged');

    const [, second] = (await bus.read(topics.documentsRaw)).map((m) =>
      decodeEvent(ingesteventsv1.RawDocumentChangedSchema, m),
    );
    // The event carries both: publish_time the first publication, update_time the edit.
    expect(timestampMs(second!.document!.publishTime!)).toBe(FIRST);
    expect(timestampMs(second!.document!.updateTime!)).toBe(EDITED);
  });

  it('the export (or a page) after a feed crawl moves the date back to the first publication', async () => {
    await store.upsert(feedItem!, ctx);
    expect(await stored()).toMatchObject({ publishedAt: FEED_DATE, updatedAt: EDITED });
    const exported = parseMediumExportPost(EXPORT_POST, Buffer.from(fixtureBytes(`${DIR}${EXPORT_POST}`)));
    await store.upsert(exported, ctx);
    // The export states no update time; the later date the feed gave was a re-publish, kept as one.
    expect(await stored()).toMatchObject({ publishedAt: FIRST, updatedAt: FEED_DATE });
    await store.upsert(feedItem!, ctx);
    expect(await stored()).toMatchObject({ publishedAt: FIRST, updatedAt: EDITED });
  });
});
