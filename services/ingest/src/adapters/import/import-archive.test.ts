import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArchiveReader } from './archive.js';
import { byUrlEnd, iso, walk } from './import-archive.fixture.js';
import { importArchive } from './import-archive.js';
import { stripLineQuotes } from './linkedin-export.js';
import { parseMediumExportPost } from './medium-export.js';
import { buildZip } from './zip-writer.fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, '../../../test/fixtures');
// Real exports that may not be redistributed are tested in import-archive.local.test.ts.

describe('Medium exports', () => {
  const sets = [join(FIXTURES, 'medium-export/TryGhost-migrate')];

  it.each(sets)('reads every post file of %s and flags its drafts', (dir) => {
    const files = walk(dir).filter((f) => /\/posts\/[^/]+\.html$/.test(f));
    // A draft has neither a publish time nor a canonical link in the export.
    const drafts = files.filter((f) => !/class="p-canonical"/.test(readFileSync(f, 'utf8')));
    const documents = files.map((f) => parseMediumExportPost(f, readFileSync(f)));
    expect(documents.filter((d) => d.draft)).toHaveLength(drafts.length);
    for (const d of documents) {
      expect(d.platform).toBe('medium');
      if (d.draft) expect(d.publishedAt).toBeNull();
    }
    // Responses are told from stories: one of the sample's posts is a comment.
    expect(documents.filter((d) => d.category === 'article')).toHaveLength(files.length - 1);
  });

  it('imports one document per canonical URL: the sample gives five of its posts the same one', async () => {
    const dir = sets[0]!;
    const files = walk(dir).filter((f) => /\/posts\/[^/]+\.html$/.test(f));
    const progress: number[] = [];
    const result = await importArchive({ dir }, { onProgress: (p) => progress.push(p.done) });
    expect(result.kind).toBe('medium');
    expect(result.errors).toEqual([]);
    expect(progress.at(-1)).toBe(files.length);
    const urls = result.documents.map((d) => d.canonicalUrl);
    expect(new Set(urls).size).toBe(urls.length);
    expect(urls).toHaveLength(5);
    // basic, advanced, code, quote and short post all name testpost-efefef12121212 (and the same post id).
    expect(result.warnings).toEqual([
      {
        item: 'https://medium.com/@JoeBloggs/testpost-efefef12121212',
        message: '5 entries of the archive are this one document; kept "Advanced Post Title"',
      },
    ]);
  });

  it('tells responses from stories in the sample export', async () => {
    const { documents } = await importArchive({ dir: sets[0]! });
    const comment = byUrlEnd(documents, 'and-this-is-what-a-comment-looks-like-a1b2c3d4e5f6');
    expect(comment).toMatchObject({ category: 'post', title: 'This is a comment', author: 'Paul Davis' });
    expect(iso(comment)).toBe('2024-06-03T09:41:57.629Z');
    expect(byUrlEnd(documents, '/@JoeBloggs/1234567890')).toMatchObject({
      category: 'article',
      title: 'No Slug Post',
    });
  });
});

describe('Substack exports', () => {
  const roots = [
    join(FIXTURES, 'substack-export/TryGhost-migrate/packages/mg-substack/test/fixtures'),
    join(
      FIXTURES,
      'substack-export/TryGhost-migrate/history-cc2a89b4/packages/mg-substack-csv/test/fixtures',
    ),
  ];

  it.each(roots)('imports every row of posts.csv in %s and flags drafts', async (dir) => {
    const csv = readFileSync(join(dir, 'posts.csv'), 'utf8');
    const rows = csv.match(/^\d+\.[^,\n]*,/gm) ?? [];
    const unpublished = csv.match(/^\d+\.[^,\n]*,[^,\n]*,false,/gim) ?? [];
    const result = await importArchive({ dir });
    expect(result.kind).toBe('substack');
    expect(result.errors).toEqual([]);
    expect(result.documents).toHaveLength(rows.length);
    expect(result.documents.filter((d) => d.draft)).toHaveLength(unpublished.length);
  });

  it('maps the 9-column sample by header names and builds URLs from the publication host', async () => {
    const { documents } = await importArchive({ dir: roots[0]! }, { substackHost: 'example.substack.com' });
    const plain = byUrlEnd(documents, '/p/plain-text');
    expect(plain).toMatchObject({
      title: 'Plain Text',
      subtitle: '“This quote’s rather short”',
      draft: false,
    });
    expect(plain.canonicalUrl).toBe('https://example.substack.com/p/plain-text');
    expect(iso(plain)).toBe('2019-07-26T20:48:19.814Z');
    expect(byUrlEnd(documents, '/p/draft-text')).toMatchObject({ draft: true, publishedAt: null });
    expect(byUrlEnd(documents, '/p/thread').category).toBe('post');
  });

  it('never opens subscriber files that sit in the archive', async () => {
    const bytes = buildZip([
      { name: 'posts.csv', data: 'post_id,post_date,is_published,title\n1.a,2024-01-01T00:00:00Z,true,A\n' },
      { name: 'posts/1.a.html', data: '<p>A</p>' },
      { name: 'posts/1.a.opens.csv', data: 'email\nreader@example.com\n' },
      { name: 'posts/1.a.delivers.csv', data: 'email\nreader@example.com\n' },
      { name: 'email_list.my-pub.csv', data: 'email\nreader@example.com\n' },
    ]);
    let reader: ArchiveReader | undefined;
    const result = await importArchive(
      { bytes, fileName: 'substack.zip' },
      { onOpened: (r) => (reader = r) },
    );
    expect(result.documents).toHaveLength(1);
    expect(reader!.opened).toEqual(['posts.csv', 'posts/1.a.html']);
    expect(result.skipped.filter((s) => s.includes('subscriber data, never read'))).toHaveLength(3);
  });
});

describe('LinkedIn exports', () => {
  it('reports malformed rows one by one and imports the rest', async () => {
    const csv = [
      'Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility',
      '2025-01-01 10:00:00,https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A1,"ok",,,MEMBER_NETWORK',
      'yesterday,https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A3,"no date",,,MEMBER_NETWORK',
      '2025-01-02 10:00:00,https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A2,"bad"quote,,,MEMBER_NETWORK',
      '2025-01-04 10:00:00,https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A4,"also ok",,,MEMBER_NETWORK',
      '',
    ].join('\n');
    const result = await importArchive({
      bytes: buildZip([{ name: 'Shares.csv', data: csv }]),
      fileName: 'li.zip',
    });
    // csv-parse resumes after a broken quoted field only at the next clean record, so the row after it is
    // reported as broken too; what matters is that nothing crashes and every loss is listed.
    expect(result.documents.map((d) => d.title)).toEqual(['ok']);
    expect(result.errors).toHaveLength(3);
    expect(result.errors).toContainEqual({
      item: 'Shares.csv:3',
      message: 'Date "yesterday" is not a LinkedIn export date',
    });
    expect(result.errors.find((e) => e.item === 'Shares.csv:4')?.message).toMatch(/Invalid Closing Quote/);
  });

  it('strips the per-line quotes only when every line carries them', () => {
    expect(stripLineQuotes('one"\n""\n"two')).toBe('one\n\ntwo');
    expect(stripLineQuotes('he said "hi"\nand left')).toBe('he said "hi"\nand left');
  });
});
