import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import type { ArchiveReader } from './archive.js';
import { importArchive } from './import-archive.js';
import { stripLineQuotes } from './linkedin-export.js';
import { buildZip } from './zip-writer.fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../../../..');
const FIXTURES = resolve(here, '../../../test/fixtures');
// Local-only exports are read in place beside the repository, never copied into it.
const LOCAL = resolve(repo, '../shared/fixtures/local-only');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)],
  );
}

const byUrlEnd = (docs: ExtractedDocument[], end: string): ExtractedDocument => {
  const found = docs.filter((d) => d.canonicalUrl.endsWith(end));
  expect(found).toHaveLength(1);
  return found[0]!;
};

const iso = (d: ExtractedDocument): string | null =>
  d.publishedAt === null ? null : new Date(d.publishedAt).toISOString();

describe('Medium exports', () => {
  const sets = [
    join(FIXTURES, 'medium-export/TryGhost-migrate'),
    join(LOCAL, 'medium-export/juliandavidmr-me'),
  ];

  it.each(sets)('imports every post file of %s and flags its drafts', async (dir) => {
    const files = walk(dir).filter((f) => /\/posts\/[^/]+\.html$/.test(f));
    // A draft has neither a publish time nor a canonical link in the export.
    const drafts = files.filter((f) => !/class="p-canonical"/.test(readFileSync(f, 'utf8')));
    const progress: number[] = [];
    const result = await importArchive({ dir }, { onProgress: (p) => progress.push(p.done) });
    expect(result.kind).toBe('medium');
    expect(result.errors).toEqual([]);
    expect(result.documents).toHaveLength(files.length);
    expect(result.documents.filter((d) => d.draft)).toHaveLength(drafts.length);
    expect(progress.at(-1)).toBe(files.length);
    for (const d of result.documents) {
      expect(d.platform).toBe('medium');
      if (d.draft) expect(d.publishedAt).toBeNull();
    }
  });

  it('reads title, canonical URL, author, UTC time and category of a real export', async () => {
    const { documents } = await importArchive({ dir: sets[1]! });
    expect(documents.filter((d) => d.draft)).toHaveLength(12);
    const story = byUrlEnd(documents, '/@anlijudavid/m%C3%AD-itinerario-e3d5a2cd08bf');
    expect(story).toMatchObject({
      title: 'Mí itinerario',
      author: 'David',
      category: 'article',
      draft: false,
    });
    expect(story.externalId).toBe('e3d5a2cd08bf');
    expect(iso(story)).toBe('2017-01-05T04:30:28.997Z');
    const response = byUrlEnd(documents, '-5c8bd6af90a0');
    expect(response).toMatchObject({ title: 'Estoy pasando por la misma situación.', category: 'post' });
    const draft = byUrlEnd(documents, '/p/ca71f6d1ee83');
    expect(draft).toMatchObject({
      draft: true,
      publishedAt: null,
      canonicalUrl: 'https://medium.com/p/ca71f6d1ee83',
    });
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
    expect(documents.filter((d) => d.category === 'article')).toHaveLength(8);
  });

  it('imports the same export from a zip made by the zip tool, from bytes, and from the folder alike', async () => {
    const work = mkdtempSync(join(tmpdir(), 'llmtwin-medium-'));
    try {
      const zipPath = join(work, 'medium.zip');
      execFileSync('zip', ['-qr', zipPath, '.'], { cwd: sets[1]! });
      const fromDir = await importArchive({ dir: sets[1]! });
      const fromZip = await importArchive({ zipPath });
      const fromBytes = await importArchive({ bytes: readFileSync(zipPath), fileName: 'medium.zip' });
      const urls = (r: { documents: ExtractedDocument[] }) => r.documents.map((d) => d.canonicalUrl).sort();
      expect(urls(fromZip)).toEqual(urls(fromDir));
      expect(urls(fromBytes)).toEqual(urls(fromDir));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('Substack exports', () => {
  const roots = [
    join(FIXTURES, 'substack-export/TryGhost-migrate/packages/mg-substack/test/fixtures'),
    join(
      FIXTURES,
      'substack-export/TryGhost-migrate/history-cc2a89b4/packages/mg-substack-csv/test/fixtures',
    ),
    join(LOCAL, 'substack-export/ricardovegamx-filmrick.com/substack'),
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

  it('maps the real 10-column export, without bodies, to substack-export: URLs', async () => {
    const result = await importArchive({ dir: roots[2]! });
    const post = byUrlEnd(result.documents, 'substack-export:164530038');
    expect(post.title).toBe('Photowalk: "How a Roll from 2008 Took Me Back to Tlalpan"');
    expect(iso(post)).toBe('2025-05-27T03:16:51.137Z');
    expect(result.warnings).toHaveLength(15);
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
  const current = join(LOCAL, 'linkedin-export/sanand0-linkedin');
  const legacy = join(LOCAL, 'linkedin-export/abhishekwebcode-LinkedInDataExport-2018');

  it('imports every share of both current exports and never opens Comments.csv', async () => {
    const files = walk(current).filter((f) => f.endsWith('/Shares.csv'));
    const rows = files.reduce(
      (n, f) => n + (readFileSync(f, 'utf8').match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,https:/gm)?.length ?? 0),
      0,
    );
    let reader: ArchiveReader | undefined;
    const result = await importArchive({ dir: current }, { onOpened: (r) => (reader = r) });
    expect(result.kind).toBe('linkedin');
    expect(result.errors).toEqual([]);
    expect(result.documents).toHaveLength(rows);
    expect(rows).toBe(202 + 185);
    expect(reader!.opened.every((p) => p.endsWith('Shares.csv'))).toBe(true);
    const first = byUrlEnd(result.documents, 'urn%3Ali%3Ashare%3A7345821826846990338');
    expect(first).toMatchObject({
      category: 'post',
      title: "I'm off for a 10-day Vipassana meditation program.",
    });
    expect(iso(first)).toBe('2025-07-01T14:33:22.000Z');
    const row = (JSON.parse(Buffer.from(first.raw).toString('utf8')) as { row: Record<string, string> }).row;
    expect(row.ShareCommentary).toMatch(/^I'm off for a 10-day Vipassana meditation program\.\n\n𝗪𝗛𝗔𝗧\? /u);
    expect(row.ShareCommentary).toMatch(
      /\nI've scheduled LinkedIn posts, so you'll still see stuff\. But I won't be replying\.$/,
    );
    for (const d of result.documents) {
      const text = (JSON.parse(Buffer.from(d.raw).toString('utf8')) as { row: Record<string, string> }).row;
      expect(text.ShareCommentary).not.toMatch(/"\n"/);
    }
  });

  it('imports the UTF-16 tab-separated 2018 shares and the draft article', async () => {
    const shares = readFileSync(join(legacy, 'Shares.csv')).subarray(2).toString('utf16le');
    const rows = shares.match(/^"\d{4}\/\d\d\/\d\d /gm) ?? [];
    const result = await importArchive({ dir: legacy });
    expect(result.errors).toEqual([]);
    expect(result.documents).toHaveLength(rows.length + 1);
    const iif = byUrlEnd(result.documents, 'urn%3Ali%3Aactivity%3A6174631705446576128');
    expect(iif).toMatchObject({ title: 'Iif', category: 'post', draft: false });
    expect(iso(iif)).toBe('2016-08-25T17:41:57.000Z');
    expect(byUrlEnd(result.documents, 'urn%3Ali%3Aactivity%3A6056467667525582848').title).toBe(
      'ICC WORLD CUP',
    );
    const article = byUrlEnd(result.documents, '/post/edit/6345123162681896960');
    expect(article).toMatchObject({ category: 'article', title: 'Untitled', draft: true, publishedAt: null });
  });

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
