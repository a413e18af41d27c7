// Every saved Medium, Substack and LinkedIn page in the committed fixtures gives the right title, canonical
// URL, author, publish time (UTC) and category. Values come from each set's expected files where they have
// the field; otherwise from the page itself, as the comment beside each value says.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PlatformName } from '../../domain/authors.js';
import type { Category } from '../../domain/extracted-document.js';
import { extractPage } from './extract-page.js';
import { committedFixtures, fixtureBytes, fixtureJson } from '../../../test/fixture-paths.js';

type Expected = Record<string, { url?: string; title?: string; author?: string; date_published?: string }>;
const postlightMedium = fixtureJson<Expected>('medium/postlight-parser/expected.json');
const postlightLinkedIn = fixtureJson<Expected>('linkedin/postlight-parser/expected.json');
const mercurySubstack = fixtureJson<Expected>('substack/jocmp-mercury-parser/expected.json');
const readability = (n: number) =>
  fixtureJson<{ title: string; byline: string; publishedTime: string }>(
    `medium/mozilla-readability/test/test-pages/medium-${n}/expected-metadata.json`,
  );

/** defuddle's expected .md files open with a JSON block: title, author, site, published. */
function defuddleFront(relative: string): { title: string; author: string; published: string } {
  const text = readFileSync(resolve(committedFixtures, relative), 'utf8');
  const m = /```json\n([\s\S]*?)\n```/.exec(text);
  if (!m) throw new Error(`no front block in ${relative}`);
  return JSON.parse(m[1]!) as { title: string; author: string; published: string };
}

/** The URL defuddle's fixtures were saved from, written in their first line. */
function savedFrom(relative: string): string {
  const m = /^<!--\s*(\{.*?\})\s*-->/.exec(readFileSync(resolve(committedFixtures, relative), 'utf8'));
  if (!m) throw new Error(`no source URL comment in ${relative}`);
  return (JSON.parse(m[1]!) as { url: string }).url;
}

interface Case {
  file: string;
  url: string;
  title: string;
  canonicalUrl: string;
  author: string;
  publishedAt: string | null;
  platform: PlatformName;
  category: Category;
}

const pl = (k: string) => postlightMedium[k]!;
const li = (k: string) => postlightLinkedIn[k]!;
const ms = (k: string) => mercurySubstack[k]!;
const iso = (d: string) => new Date(d).toISOString();

const ULBRICH = 'https://medium.com/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1';
const WTF = 'https://medium.com/the-wtf-economy/wtf-whats-the-future-e52ab9515573';
const DEFUDDLE = 'substack/kepano-defuddle/';
const d12 = `${DEFUDDLE}tests/expected/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.md`;
const dApp = `${DEFUDDLE}tests/expected/general--substack-app.md`;
const dCustom = `${DEFUDDLE}synthetic/tests/expected/general--substack-custom-domain.md`;
const dNote = `${DEFUDDLE}synthetic/tests/expected/general--substack-note.md`;
const dPermalink = `${DEFUDDLE}synthetic/tests/expected/general--substack-note-permalink.md`;

const cases: Case[] = [
  // The WTF article, 2016 and 2019 captures: the 2019 page is canonical on the publication's custom domain.
  {
    file: 'medium/postlight-parser/history-d038a36/fixtures/medium.com/1477523363921.html',
    url: pl('history-d038a36/fixtures/medium.com/1477523363921.html').url!,
    title: pl('history-d038a36/fixtures/medium.com/1477523363921.html').title!,
    canonicalUrl: WTF, // rel=canonical in the page
    author: pl('history-d038a36/fixtures/medium.com/1477523363921.html').author!,
    publishedAt: pl('history-d038a36/fixtures/medium.com/1477523363921.html').date_published!,
    platform: 'medium',
    category: 'article',
  },
  {
    file: 'medium/postlight-parser/fixtures/medium.com.html',
    url: pl('fixtures/medium.com.html').url!,
    title: pl('fixtures/medium.com.html').title!,
    canonicalUrl: 'https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573', // rel=canonical in the page
    author: pl('fixtures/medium.com.html').author!,
    publishedAt: pl('fixtures/medium.com.html').date_published!,
    platform: 'medium',
    category: 'article',
  },
  // The Ulbrich article captured in 2017 and twice in 2019; expected.json has no metadata for it, so the
  // values are read from the pages: h1.graf--title/og:title, meta author, rel=canonical.
  {
    file: 'medium/postlight-parser/history-aa682d7/fixtures/medium.com/1485902752952.html',
    url: pl('history-aa682d7/fixtures/medium.com/1485902752952.html').url!,
    title: 'Flag Attributes in Android — How to Use Them',
    canonicalUrl: ULBRICH,
    author: 'Jakob Ulbrich',
    publishedAt: '2016-08-08T14:26:01.601Z', // article:published_time and <time datetime> agree
    platform: 'medium',
    category: 'article',
  },
  {
    file: 'medium/postlight-parser/history-2422e47/fixtures/medium.com/1485902752952.html',
    url: pl('history-2422e47/fixtures/medium.com/1485902752952.html').url!,
    title: 'Flag Attributes in Android — How to Use Them',
    canonicalUrl: ULBRICH,
    author: 'Jakob Ulbrich',
    // The only date this capture carries is article:published_time, which Medium by then filled with the
    // latest re-publish (2018-01-19), not the 2016-08-08 first publication the 2017 capture shows.
    publishedAt: '2018-01-19T17:06:07.358Z',
    platform: 'medium',
    category: 'article',
  },
  {
    file: 'medium/postlight-parser/fixtures/medium.com--another.html',
    url: pl('fixtures/medium.com--another.html').url!,
    title: 'Flag Attributes in Android — How to Use Them',
    canonicalUrl: ULBRICH,
    author: 'Jakob Ulbrich',
    // article:published_time says 2018-01-19 (a re-publish); the visible p.pw-published-date says
    // "Aug 8, 2016", the first publication (the 2017 capture: 2016-08-08T14:26Z). Only the day is left.
    publishedAt: '2016-08-08T00:00:00.000Z',
    platform: 'medium',
    category: 'article',
  },
  {
    file: 'medium/postlight-parser/fixtures/medium.com--mtg.html',
    url: pl('fixtures/medium.com--mtg.html').url!,
    title: 'How the ‘Magic: The Gathering’ Color Wheel Explains Humanity', // og:title and JSON-LD headline
    canonicalUrl: 'https://humanparts.medium.com/the-mtg-color-wheel-c9700a7cf36d', // rel=canonical
    author: 'Duncan A Sabien', // meta author
    // JSON-LD datePublished = firstPublishedAt 1522718943912; article:published_time (2020-09-03) is
    // latestPublishedAt, as the embedded state shows.
    publishedAt: '2018-04-03T01:29:03.912Z',
    platform: 'medium',
    category: 'article',
  },
  ...[1, 2, 3].map((n): Case => ({
    file: `medium/mozilla-readability/test/test-pages/medium-${n}/source.html`,
    url: [
      'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb',
      'https://medium.com/@ckirchoff/on-behalf-of-literally-429fab868ca8',
      'https://medium.com/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1',
    ][n - 1]!,
    // readability's title for medium-3 is the JSON-LD headline with " - John C. Welch - Medium" left on;
    // the article's own title (og:title) is the first part.
    title: n === 3 ? 'Samantha and The Great Big Lie' : readability(n).title,
    canonicalUrl: [
      'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb',
      'https://medium.com/@ckirchoff/on-behalf-of-literally-429fab868ca8',
      'https://medium.com/@johncwelch/samantha-and-the-great-big-lie-d146a92473a1',
    ][n - 1]!, // og:url / rel=canonical
    author: readability(n).byline,
    publishedAt: readability(n).publishedTime,
    platform: 'medium',
    category: 'article',
  })),
  {
    file: 'substack/jocmp-mercury-parser/fixtures/substack.com/1777688784578.html',
    url: ms('fixtures/substack.com/1777688784578.html').url!,
    title: ms('fixtures/substack.com/1777688784578.html').title!,
    canonicalUrl: ms('fixtures/substack.com/1777688784578.html').url!, // equals rel=canonical
    author: ms('fixtures/substack.com/1777688784578.html').author!,
    // The trimmed capture lost _preloads and JSON-LD; the byline's "May 01, 2026" is all that is left.
    publishedAt: '2026-05-01T00:00:00.000Z',
    platform: 'substack',
    category: 'article',
  },
  {
    file: `${DEFUDDLE}tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html`,
    url: 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes',
    title: defuddleFront(d12).title,
    canonicalUrl: 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes', // rel=canonical
    author: defuddleFront(d12).author,
    publishedAt: defuddleFront(d12).published, // JSON-LD datePublished carries +00:00
    platform: 'substack', // custom domain, recognised by substackcdn markers
    category: 'article',
  },
  {
    file: `${DEFUDDLE}tests/fixtures/general--substack-app.html`,
    url: 'https://substack.com/@richholmes/note/c-202380205',
    title: defuddleFront(dApp).title,
    canonicalUrl: 'https://substack.com/@richholmes/note/c-202380205', // rel=canonical
    // defuddle's "Substack" is the site's meta author; the note's author is JSON-LD author.name.
    author: 'Rich Holmes',
    publishedAt: '2026-01-20T10:25:59.000Z', // JSON-LD dateCreated 2026-01-20T02:25:59-08:00
    platform: 'substack',
    category: 'post',
  },
  ...[
    ['general--substack-note', dNote],
    ['general--substack-note-permalink', dPermalink],
  ].map(([name, expected]): Case => ({
    file: `${DEFUDDLE}synthetic/tests/fixtures/${name}.html`,
    url: savedFrom(`${DEFUDDLE}synthetic/tests/fixtures/${name}.html`),
    title: defuddleFront(expected!).title,
    canonicalUrl: savedFrom(`${DEFUDDLE}synthetic/tests/fixtures/${name}.html`), // equals rel=canonical
    author: defuddleFront(expected!).author,
    publishedAt: defuddleFront(expected!).published || null,
    platform: 'substack',
    category: 'post',
  })),
  {
    file: `${DEFUDDLE}synthetic/tests/fixtures/general--substack-custom-domain.html`,
    url: savedFrom(`${DEFUDDLE}synthetic/tests/fixtures/general--substack-custom-domain.html`),
    title: defuddleFront(dCustom).title,
    // No canonical link in the page: the address it was saved from.
    canonicalUrl: 'https://www.example-newsletter.com/p/test-article',
    author: defuddleFront(dCustom).author,
    publishedAt: defuddleFront(dCustom).published,
    platform: 'substack',
    category: 'article',
  },
  ...[
    'fixtures/www.linkedin.com.html',
    'history-2422e47/fixtures/www.linkedin.com/1485452542218.html',
    'history-bb52de5/fixtures/www.linkedin.com/1480368940900.html',
  ].map((key): Case => ({
    file: `linkedin/postlight-parser/${key}`,
    url: li(key).url!,
    title: li(key).title!,
    canonicalUrl: li(key).url!, // equals rel=canonical in each capture
    author: li(key).author!,
    publishedAt: li(key).date_published!,
    platform: 'linkedin',
    category: 'article',
  })),
];

describe('extractPage on every saved platform page', () => {
  it.each(cases.map((c) => [c.file, c] as const))('%s', (_file, c) => {
    const doc = extractPage(fixtureBytes(c.file), c.url);
    expect({
      title: doc.title,
      canonicalUrl: doc.canonicalUrl,
      author: doc.author,
      publishedAt: doc.publishedAt === null ? null : new Date(doc.publishedAt).toISOString(),
      platform: doc.platform,
      category: doc.category,
    }).toEqual({
      title: c.title,
      canonicalUrl: c.canonicalUrl,
      author: c.author,
      publishedAt: c.publishedAt === null ? null : iso(c.publishedAt),
      platform: c.platform,
      category: c.category,
    });
    expect(doc.draft).toBe(false);
    expect(doc.raw.byteLength).toBeGreaterThan(0);
  });

  it('covers every committed page of the Medium, Substack and LinkedIn sets', () => {
    const pages: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = resolve(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.html') && name !== 'expected.html') pages.push(path);
      }
    };
    for (const set of ['medium', 'substack', 'linkedin']) walk(resolve(committedFixtures, set));
    expect(pages.sort()).toEqual(cases.map((c) => resolve(committedFixtures, c.file)).sort());
  });

  it('recognises a Medium custom domain by its app markers', () => {
    const doc = extractPage(
      fixtureBytes('medium/postlight-parser/fixtures/medium.com.html'),
      'https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573?source=rss#x',
    );
    expect(doc.platform).toBe('medium');
    expect(doc.externalId).toBe('e52ab9515573');
  });

  it('falls back to a generic article reader for other sites', () => {
    const html = `<!doctype html><html><head><title>Site | A post</title>
      <link rel="canonical" href="/posts/a-post?utm_source=x&amp;id=7#top">
      <script type="application/ld+json">{"@type":"BlogPosting","headline":"A post","author":{"name":"Ann"},
      "datePublished":"2024-02-03T04:05:06+02:00"}</script><script>throw new Error('never run')</script>
      </head><body><h1>A post</h1></body></html>`;
    expect(extractPage(html, 'https://blog.example.org/posts/a-post')).toMatchObject({
      platform: 'web',
      category: 'article',
      title: 'A post',
      author: 'Ann',
      canonicalUrl: 'https://blog.example.org/posts/a-post?id=7',
      publishedAt: Date.UTC(2024, 1, 3, 2, 5, 6),
    });
  });

  it('refuses a URL that is not absolute http(s)', () => {
    expect(() => extractPage('<html></html>', 'not a url')).toThrow(/not an absolute URL/);
    expect(() => extractPage('<html></html>', 'file:///etc/passwd')).toThrow(/http/);
  });
});
