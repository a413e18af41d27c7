// The importers on real exports that may not be redistributed: read in place from
// ../shared/fixtures/local-only beside the repository, never copied into it. Its own jest project
// (local-fixtures) runs only where that folder exists (CI does); a user's clone runs the rest without it.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import type { ArchiveReader } from './archive.js';
import { byUrlEnd, iso, walk } from './import-archive.fixture.js';
import { importArchive } from './import-archive.js';

const here = dirname(fileURLToPath(import.meta.url));
const LOCAL = resolve(here, '../../../../../../shared/fixtures/local-only');
const MEDIUM = join(LOCAL, 'medium-export/juliandavidmr-me');
const SUBSTACK = join(LOCAL, 'substack-export/ricardovegamx-filmrick.com/substack');

describe('Medium exports (local-only)', () => {
  it.each([MEDIUM])('imports every post file of %s and flags its drafts', async (dir) => {
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
    const { documents } = await importArchive({ dir: MEDIUM });
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
  it('imports the same export from a zip made by the zip tool, from bytes, and from the folder alike', async () => {
    const work = mkdtempSync(join(tmpdir(), 'llmtwin-medium-'));
    try {
      const zipPath = join(work, 'medium.zip');
      execFileSync('zip', ['-qr', zipPath, '.'], { cwd: MEDIUM });
      const fromDir = await importArchive({ dir: MEDIUM });
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

describe('Substack exports (local-only)', () => {
  it.each([SUBSTACK])('imports every row of posts.csv in %s and flags drafts', async (dir) => {
    const csv = readFileSync(join(dir, 'posts.csv'), 'utf8');
    const rows = csv.match(/^\d+\.[^,\n]*,/gm) ?? [];
    const unpublished = csv.match(/^\d+\.[^,\n]*,[^,\n]*,false,/gim) ?? [];
    const result = await importArchive({ dir });
    expect(result.kind).toBe('substack');
    expect(result.errors).toEqual([]);
    expect(result.documents).toHaveLength(rows.length);
    expect(result.documents.filter((d) => d.draft)).toHaveLength(unpublished.length);
  });
  it('maps the real 10-column export, without bodies, to substack-export: URLs', async () => {
    const result = await importArchive({ dir: SUBSTACK });
    const post = byUrlEnd(result.documents, 'substack-export:164530038');
    expect(post.title).toBe('Photowalk: "How a Roll from 2008 Took Me Back to Tlalpan"');
    expect(iso(post)).toBe('2025-05-27T03:16:51.137Z');
    expect(result.warnings).toHaveLength(15);
  });
});

describe('LinkedIn exports (local-only)', () => {
  const current = join(LOCAL, 'linkedin-export/sanand0-linkedin');
  const legacy = join(LOCAL, 'linkedin-export/abhishekwebcode-LinkedInDataExport-2018');
  it('imports every share of both current exports once and never opens Comments.csv', async () => {
    const files = walk(current).filter((f) => f.endsWith('/Shares.csv'));
    const links = files.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,(https:[^,]+),/gm)].map(
        (m) => m[1]!,
      ),
    );
    const rows = links.length;
    let reader: ArchiveReader | undefined;
    const result = await importArchive({ dir: current }, { onOpened: (r) => (reader = r) });
    expect(result.kind).toBe('linkedin');
    expect(result.errors).toEqual([]);
    // The two exports overlap, and a post with several media has a row for each (a shared video: one per
    // thumbnail size): one document per post.
    expect(rows).toBe(202 + 185);
    expect(result.documents).toHaveLength(new Set(links).size);
    expect(new Set(result.documents.map((d) => d.canonicalUrl)).size).toBe(result.documents.length);
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
});
