// LinkedIn exports through importArchive, from a zip written by the project's own zip writer in the real
// export's layout (linkedin-export.fixture.ts): one document per post however many rows it has, drafts kept
// as drafts (with or without a link), and nothing read beyond Shares.csv and Articles/.
import { describe, expect, it } from '@jest/globals';
import type { ArchiveReader } from './archive.js';
import { uniqueDocuments, emptyResult } from './export-importer.js';
import { importArchive } from './import-archive.js';
import { ARTICLES, POSTS, VIDEO_THUMBS, linkedinExportZip } from './linkedin-export.fixture.js';

describe('a LinkedIn export', () => {
  it('gives one document per post and article, each under its own id', async () => {
    let reader: ArchiveReader | undefined;
    const result = await importArchive(
      { bytes: await linkedinExportZip(), fileName: 'Basic_LinkedInDataExport_06-10-2025.zip' },
      { authorName: 'Ingrid Holm', onOpened: (r) => (reader = r) },
    );
    expect(result.kind).toBe('linkedin');
    expect(result.errors).toEqual([]);
    const urls = result.documents.map((d) => d.canonicalUrl);
    expect(new Set(urls).size).toBe(urls.length);
    expect(urls.sort()).toEqual(
      [...POSTS, ARTICLES.published.url, ARTICLES.draftWithLink.url, ARTICLES.draftWithoutLink.url].sort(),
    );
    // The five rows of the shared talk are one post that keeps every thumbnail; the commentary is the same.
    const talk = result.documents.find((d) => d.canonicalUrl === POSTS[1])!;
    const payload = JSON.parse(new TextDecoder().decode(talk.raw)) as {
      row: Record<string, string>;
      mediaUrls: string[];
    };
    expect(payload.mediaUrls).toEqual(VIDEO_THUMBS);
    expect(payload.row.ShareCommentary).toBe('My talk on review culture is online.');
    expect(talk).toMatchObject({
      category: 'post',
      publishedAt: Date.UTC(2025, 4, 20, 17, 40),
      draft: false,
    });
    // A one-row post keeps the payload it always had.
    const hiring = result.documents.find((d) => d.canonicalUrl === POSTS[3])!;
    expect(Object.keys(JSON.parse(new TextDecoder().decode(hiring.raw)) as object)).toEqual([
      'format',
      'row',
    ]);
    // Only the allow-listed files were opened.
    expect([...reader!.opened].sort()).toEqual(
      [
        'Shares.csv',
        ARTICLES.published.name,
        ARTICLES.draftWithLink.name,
        ARTICLES.draftWithoutLink.name,
      ].sort(),
    );
  });

  it('imports drafts as drafts, the ones without a link under their file name', async () => {
    const { documents, errors } = await importArchive({
      bytes: await linkedinExportZip(),
      fileName: 'li.zip',
    });
    expect(errors).toEqual([]);
    const byUrl = (url: string) => documents.find((d) => d.canonicalUrl === url);
    expect(byUrl(ARTICLES.published.url)).toMatchObject({
      category: 'article',
      title: ARTICLES.published.title,
      draft: false,
      publishedAt: Date.UTC(2024, 10, 5, 7, 30),
    });
    for (const draft of [ARTICLES.draftWithLink, ARTICLES.draftWithoutLink]) {
      expect(byUrl(draft.url)).toMatchObject({
        category: 'article',
        platform: 'linkedin',
        title: draft.title,
        draft: true,
        publishedAt: null,
      });
    }
    expect(byUrl(ARTICLES.draftWithLink.url)!.externalId).toBe('7340000000000000005');
  });

  it('keeps one of two entries that name the same document, whatever order they come in', () => {
    const doc = (title: string, body: string, draft = false) => ({
      category: 'article' as const,
      platform: 'web' as const,
      canonicalUrl: 'https://blog.example.com/same',
      title,
      author: '',
      publishedAt: null,
      draft,
      raw: new TextEncoder().encode(body),
      rawContentType: 'text/html',
    });
    const pick = (...docs: ReturnType<typeof doc>[]) => {
      const result = { ...emptyResult(), documents: docs };
      uniqueDocuments(result);
      return result;
    };
    const a = doc('Short save', '<p>a</p>');
    const b = doc('Full save', '<p>the whole page</p>');
    const d = doc('Draft', '<p>the whole page, and more of it</p>', true);
    for (const order of [
      [a, b, d],
      [d, b, a],
      [b, d, a],
    ]) {
      const result = pick(...order);
      expect(result.documents.map((x) => x.title)).toEqual(['Full save']);
      expect(result.warnings).toEqual([
        {
          item: 'https://blog.example.com/same',
          message: '3 entries of the archive are this one document; kept "Full save"',
        },
      ]);
    }
  });
});
