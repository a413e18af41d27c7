import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createVectorStore } from './create-vector-store.js';
import { EmbeddedVectorStore, parseSqliteUrl, toFtsQuery } from './embedded-vector-store.js';
import { relativeScoreFusion } from './relative-score-fusion.js';
import { describeVectorStoreContract } from './vector-store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'llmtwin-vector-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Every store in the suite opens the same file, so the persistence case really reopens it from disk.
describeVectorStoreContract('embedded (sqlite-vec + FTS5)', () =>
  createVectorStore(`sqlite:${join(dir, 'contract.db')}`),
);

describe('embedded vector store specifics', () => {
  it('parses sqlite: URLs and refuses others', async () => {
    expect(parseSqliteUrl('sqlite:./data/vectors.db')).toBe('./data/vectors.db');
    expect(parseSqliteUrl('sqlite:///var/lib/llmtwin/vectors.db')).toBe('/var/lib/llmtwin/vectors.db');
    expect(parseSqliteUrl('sqlite::memory:')).toBe(':memory:');
    expect(() => parseSqliteUrl('sqlite:')).toThrow(/names no file/);
    await expect(createVectorStore('mongodb://localhost')).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await expect(createVectorStore('')).rejects.toMatchObject({ kind: 'invalid-argument' });
    const store = await createVectorStore({ path: ':memory:' });
    expect(store).toBeInstanceOf(EmbeddedVectorStore);
    expect(store.adapter).toBe('embedded');
    await store.close();
  });

  it('quotes every keyword term so no input is read as FTS5 syntax', () => {
    expect(toFtsQuery('Hello, "world" OR NOT x*')).toBe('"hello" OR "world" OR "or" OR "not" OR "x"');
    expect(toFtsQuery('?! ()')).toBeUndefined();
    expect(toFtsQuery('Zürich 東京')).toBe('"zürich" OR "東京"');
  });

  it('finds accented words without their accents (unicode61 remove_diacritics)', async () => {
    const store = await createVectorStore('sqlite::memory:');
    try {
      await store.ensureCollection('accents', { dimensions: 2 });
      await store.upsert('accents', [
        {
          id: 'a',
          vector: [1, 0],
          text: 'Crème brûlée in Zürich',
          metadata: {
            documentId: 'd',
            documentVersion: 1,
            authorId: 'x',
            category: 'post',
            platform: 'web',
            url: 'u',
            title: 't',
            publishedAt: 0,
            section: '',
            position: 0,
          },
        },
      ]);
      const hits = await store.search('accents', { mode: 'keyword', text: 'creme brulee zurich', limit: 3 });
      expect(hits.map((h) => h.id)).toEqual(['a']);
    } finally {
      await store.close();
    }
  });

  it('filtered dense search finds the true top-k even when the matches are far from the query', async () => {
    const store = await createVectorStore('sqlite::memory:');
    try {
      await store.ensureCollection('far', { dimensions: 2 });
      const meta = (author: string) => ({
        documentId: 'd',
        documentVersion: 1,
        authorId: author,
        category: 'post',
        platform: 'web',
        url: 'u',
        title: 't',
        publishedAt: 0,
        section: '',
        position: 0,
      });
      // 2000 near neighbours by one author, then 3 far records by another: a post-filter over the global
      // top-k would return nothing for the second author.
      const near = Array.from({ length: 2000 }, (_, i) => ({
        id: `near${i}`,
        vector: [1, (i % 100) / 1000],
        text: 'near',
        metadata: meta('crowd'),
      }));
      const far = [0.1, 0.5, 0.9].map((y, i) => ({
        id: `far${i}`,
        vector: [-1, y],
        text: 'far',
        metadata: meta('lonely'),
      }));
      await store.upsert('far', [...near, ...far]);
      const hits = await store.search('far', {
        mode: 'dense',
        vector: [1, 0],
        limit: 2,
        filter: { authorId: 'lonely' },
      });
      expect(hits.map((h) => h.id)).toEqual(['far2', 'far1']);
    } finally {
      await store.close();
    }
  });

  it('fuses relative scores as documented', () => {
    const fused = relativeScoreFusion(
      [
        { id: 'a', score: 0.9 },
        { id: 'b', score: 0.5 },
        { id: 'c', score: 0.1 },
      ],
      [
        { id: 'c', score: 12 },
        { id: 'd', score: 2 },
      ],
      0.25,
      10,
    );
    // a: 0.25*1 = 0.25; b: 0.25*0.5 = 0.125; c: 0.25*0 + 0.75*1 = 0.75; d: 0.75*0 = 0
    expect(fused.map((f) => f.id)).toEqual(['c', 'a', 'b', 'd']);
    expect(fused.map((f) => f.score)).toEqual([0.75, 0.25, 0.125, 0]);
    // A one-entry list normalises to 1.
    expect(relativeScoreFusion([{ id: 'x', score: 0.3 }], [], 0.5, 5)).toEqual([{ id: 'x', score: 0.5 }]);
  });
});
