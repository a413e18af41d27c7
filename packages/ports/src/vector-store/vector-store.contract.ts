// Test code, and long on purpose: one list of cases per port, kept in one file so that every adapter runs
// exactly the same list (splitting it would let an adapter's test file import only part of the contract).
// The behaviour every VectorStore adapter must have, run against each adapter by its own test file. Results
// are checked against brute force over the same data, so a test fails on wrong answers, not only on errors.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DomainErrorKind } from '@llmtwin/runtime';
import type {
  ChunkMetadata,
  SearchHit,
  SearchQuery,
  VectorFilter,
  VectorRecord,
  VectorStore,
} from './vector-store.port.js';

/** Opens a store on the backend under test. Every call must reach the same data (same file, same server). */
export type VectorStoreFactory = () => Promise<VectorStore>;

const DAY = 86_400_000;
const BASE_TIME = Date.UTC(2024, 0, 1);

/** mulberry32: a seeded generator so a failing case can be replayed exactly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVector(next: () => number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, () => next() * 2 - 1);
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function metadata(overrides: Partial<ChunkMetadata> = {}): ChunkMetadata {
  return {
    documentId: 'doc-1',
    documentVersion: 1,
    authorId: 'author-1',
    category: 'article',
    platform: 'medium',
    url: 'https://example.com/post',
    title: 'A post',
    publishedAt: BASE_TIME,
    section: 'intro',
    position: 0,
    ...overrides,
  };
}

function record(
  id: string,
  vector: number[],
  text: string,
  overrides: Partial<ChunkMetadata> = {},
): VectorRecord {
  return { id, vector, text, metadata: metadata(overrides) };
}

/** The reference semantics of a filter. */
function matches(m: ChunkMetadata, f: VectorFilter): boolean {
  return (
    (f.authorId === undefined || m.authorId === f.authorId) &&
    (f.documentIds === undefined || f.documentIds.includes(m.documentId)) &&
    (f.categories === undefined || f.categories.includes(m.category)) &&
    (f.platforms === undefined || f.platforms.includes(m.platform)) &&
    (f.publishedAfter === undefined || m.publishedAt >= f.publishedAfter) &&
    (f.publishedBefore === undefined || m.publishedAt <= f.publishedBefore) &&
    (f.documentVersionBelow === undefined || m.documentVersion < f.documentVersionBelow)
  );
}

/** Brute-force top-k by cosine similarity. */
function nearest(
  records: readonly VectorRecord[],
  query: number[],
  k: number,
): { id: string; score: number }[] {
  return records
    .map((r) => ({ id: r.id, score: cosine(Array.from(r.vector), query) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

/**
 * The hits are a correct top-k: their true similarities equal the brute-force top-k similarities (so ties
 * may come in either order), each score is the cosine similarity, and they come best first.
 */
function expectExactNearest(
  hits: readonly SearchHit[],
  records: readonly VectorRecord[],
  query: number[],
  k: number,
): void {
  const expected = nearest(records, query, k);
  const byId = new Map(records.map((r) => [r.id, r]));
  expect(hits.length).toBe(expected.length);
  const actual = hits.map((hit) => {
    const rec = byId.get(hit.id);
    expect(rec).toBeDefined();
    const truth = cosine(Array.from(rec!.vector), query);
    expect(hit.score).toBeCloseTo(truth, 4);
    return truth;
  });
  actual.forEach((score, i) => expect(score).toBeCloseTo(expected[i]!.score, 4));
  for (let i = 1; i < hits.length; i += 1)
    expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score - 1e-6);
}

async function caught(
  promise: Promise<unknown>,
): Promise<{ name: string; kind: DomainErrorKind | undefined; message: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name?: string; kind?: DomainErrorKind; message?: string };
    return { name: e.name ?? '', kind: e.kind, message: e.message ?? '' };
  }
  return { name: 'none', kind: undefined, message: 'the call succeeded' };
}

async function expectDomainError(promise: Promise<unknown>, kind: DomainErrorKind): Promise<void> {
  expect(await caught(promise)).toMatchObject({ name: 'DomainError', kind });
}

const ids = (hits: readonly { id: string }[]): string[] => hits.map((h) => h.id);

export function describeVectorStoreContract(name: string, factory: VectorStoreFactory): void {
  describe(`VectorStore contract: ${name}`, () => {
    let store: VectorStore;
    const created: string[] = [];
    const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    let counter = 0;
    const uniqueName = (label: string): string => {
      counter += 1;
      const n = `ct_${run}_${label}_${counter}`;
      created.push(n);
      return n;
    };
    const freshCollection = async (label: string, dimensions: number): Promise<string> => {
      const n = uniqueName(label);
      await store.ensureCollection(n, { dimensions });
      return n;
    };

    beforeAll(async () => {
      store = await factory();
    });

    afterAll(async () => {
      if (store === undefined) return;
      for (const n of created) {
        // Aliases share the namespace and refuse dropCollection; only real leftovers are dropped.
        if ((await store.resolveAlias(n)) === undefined) await store.dropCollection(n);
      }
      await store.close();
    });

    it('reports its adapter, a version and answers ping', async () => {
      expect(typeof store.adapter).toBe('string');
      expect(await store.version()).toMatch(/\d+\.\d+/);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('ensureCollection is idempotent and refuses other dimensions', async () => {
      const c = await freshCollection('ensure', 8);
      await store.ensureCollection(c, { dimensions: 8 });
      const listed = (await store.listCollections()).filter((info) => info.name === c);
      expect(listed).toEqual([{ name: c, dimensions: 8, count: 0 }]);
      await expectDomainError(store.ensureCollection(c, { dimensions: 16 }), 'failed-precondition');
    });

    it('refuses bad names, wrong vector lengths, zero vectors and unknown collections', async () => {
      await expectDomainError(store.ensureCollection('Bad-Name', { dimensions: 4 }), 'invalid-argument');
      await expectDomainError(store.ensureCollection('ok_name', { dimensions: 0 }), 'invalid-argument');
      const c = await freshCollection('refuse', 4);
      await expectDomainError(store.upsert(c, [record('a', [1, 2, 3], 'three dims')]), 'invalid-argument');
      await expectDomainError(store.upsert(c, [record('a', [0, 0, 0, 0], 'zero')]), 'invalid-argument');
      await expectDomainError(
        store.search(c, { mode: 'dense', vector: [1, 0, 0, 0], limit: 0 }),
        'invalid-argument',
      );
      await expectDomainError(store.search(c, { mode: 'dense', limit: 3 }), 'invalid-argument');
      await expectDomainError(store.search(c, { mode: 'keyword', limit: 3 }), 'invalid-argument');
      await expectDomainError(
        store.search(c, { mode: 'hybrid', vector: [1, 0, 0, 0], text: 'x', limit: 3, alpha: 1.5 }),
        'invalid-argument',
      );
      const missing = uniqueName('missing');
      await expectDomainError(store.upsert(missing, [record('a', [1, 0, 0, 0], 'x')]), 'not-found');
      await expectDomainError(
        store.search(missing, { mode: 'dense', vector: [1, 0, 0, 0], limit: 3 }),
        'not-found',
      );
      await expectDomainError(store.search(missing, { mode: 'keyword', text: 'x', limit: 3 }), 'not-found');
      await expectDomainError(store.count(missing), 'not-found');
      await expectDomainError(store.get(missing, ['a']), 'not-found');
      await expectDomainError(store.deleteByIds(missing, ['a']), 'not-found');
      await expectDomainError(store.deleteWhere(missing, { documentIds: ['doc-1'] }), 'not-found');
      // The failed upsert must not have created the collection as a side effect.
      expect((await store.listCollections()).map((info) => info.name)).not.toContain(missing);
    });

    it('upserts, gets and replaces records by id', async () => {
      const c = await freshCollection('crud', 4);
      const a = record('chunk:a/1', [1, 0, 0, 0], 'first chunk', { position: 0 });
      const b = record('chunk:b/1', [0, 1, 0, 0], 'second chunk', { position: 1, title: 'B' });
      const d = record('chunk:c/1', [0, 0, 1, 0], 'third chunk', { position: 2 });
      await store.upsert(c, [a, b, d]);
      expect(await store.count(c)).toBe(3);

      const got = await store.get(c, ['chunk:c/1', 'nope', 'chunk:a/1']);
      expect(ids(got)).toEqual(['chunk:c/1', 'chunk:a/1']);
      expect(got[0]!.text).toBe('third chunk');
      expect(got[0]!.metadata).toEqual(d.metadata);
      Array.from(got[1]!.vector).forEach((x, i) => expect(x).toBeCloseTo(a.vector[i]!, 5));
      expect(await store.get(c, [])).toEqual([]);

      const replaced = record('chunk:a/1', [0.5, 0.5, 0.5, -0.25], 'opening chunk, edited', {
        documentVersion: 2,
        authorId: 'author-2',
        publishedAt: BASE_TIME + DAY,
      });
      await store.upsert(c, [replaced]);
      expect(await store.count(c)).toBe(3);
      const [again] = await store.get(c, ['chunk:a/1']);
      expect(again!.text).toBe('opening chunk, edited');
      expect(again!.metadata).toEqual(replaced.metadata);
      Array.from(again!.vector).forEach((x, i) => expect(x).toBeCloseTo(replaced.vector[i] as number, 5));
      // The replaced vector and text are what search sees; the old ones are gone.
      const dense = await store.search(c, { mode: 'dense', vector: [1, 0, 0, 0], limit: 3 });
      expect(dense.find((h) => h.id === 'chunk:a/1')!.score).toBeCloseTo(
        cosine([0.5, 0.5, 0.5, -0.25], [1, 0, 0, 0]),
        4,
      );
      expect(ids(await store.search(c, { mode: 'keyword', text: 'edited', limit: 3 }))).toEqual([
        'chunk:a/1',
      ]);
      expect(await store.search(c, { mode: 'keyword', text: 'first', limit: 3 })).toEqual([]);
      expect(await store.count(c, { authorId: 'author-1' })).toBe(2);
    });

    it('deletes by ids', async () => {
      const c = await freshCollection('delids', 4);
      await store.upsert(c, [
        record('x1', [1, 0, 0, 0], 'one'),
        record('x2', [0, 1, 0, 0], 'two'),
        record('x3', [0, 0, 1, 0], 'three'),
      ]);
      expect(await store.deleteByIds(c, ['x1', 'missing', 'x3'])).toBe(2);
      expect(await store.count(c)).toBe(1);
      expect(ids(await store.get(c, ['x1', 'x2', 'x3']))).toEqual(['x2']);
      expect(await store.deleteByIds(c, [])).toBe(0);
      expect(ids(await store.search(c, { mode: 'keyword', text: 'one three', limit: 5 }))).toEqual([]);
    });

    it('deletes where a filter matches: by document id, by documentVersionBelow; refuses an empty filter', async () => {
      const c = await freshCollection('delwhere', 4);
      const next = seeded(7);
      const recs: VectorRecord[] = [];
      const add = (doc: string, version: number, n: number): void => {
        for (let i = 0; i < n; i += 1) {
          recs.push(
            record(`${doc}:v${version}:${i}`, randomVector(next, 4), `chunk ${i} of ${doc}`, {
              documentId: doc,
              documentVersion: version,
              position: i,
            }),
          );
        }
      };
      add('doc-1', 1, 3);
      add('doc-1', 2, 2);
      add('doc-2', 1, 2);
      await store.upsert(c, recs);
      await expectDomainError(store.deleteWhere(c, {}), 'invalid-argument');
      expect(await store.count(c)).toBe(7);

      expect(await store.deleteWhere(c, { documentIds: ['doc-1'], documentVersionBelow: 2 })).toBe(3);
      expect(await store.count(c)).toBe(4);
      expect(await store.count(c, { documentIds: ['doc-1'] })).toBe(2);
      expect(ids(await store.get(c, ['doc-1:v2:0', 'doc-1:v1:0']))).toEqual(['doc-1:v2:0']);

      expect(await store.deleteWhere(c, { documentIds: ['doc-2'] })).toBe(2);
      expect(await store.count(c)).toBe(2);
      expect(await store.deleteWhere(c, { documentIds: [] })).toBe(0);
      expect(await store.deleteWhere(c, { documentIds: ['doc-1'] })).toBe(2);
      expect(await store.count(c)).toBe(0);
    });

    it('dense search returns the exact nearest neighbours', async () => {
      const dims = 16;
      const c = await freshCollection('dense', dims);
      const next = seeded(42);
      const recs = Array.from({ length: 150 }, (_, i) =>
        record(`d${i}`, randomVector(next, dims), `dense record ${i}`, { position: i }),
      );
      await store.upsert(c, recs);
      for (let q = 0; q < 6; q += 1) {
        const query = randomVector(next, dims);
        const hits = await store.search(c, { mode: 'dense', vector: query, limit: 10 });
        expectExactNearest(hits, recs, query, 10);
      }
      const exact = await store.search(c, { mode: 'dense', vector: Array.from(recs[17]!.vector), limit: 1 });
      expect(ids(exact)).toEqual(['d17']);
      expect(exact[0]!.score).toBeCloseTo(1, 4);
      expect(exact[0]!.metadata).toEqual(recs[17]!.metadata);
      expect(exact[0]!.text).toBe('dense record 17');
      // Float32Array queries are accepted as well as number arrays.
      expect(
        ids(await store.search(c, { mode: 'dense', vector: Float32Array.from(recs[3]!.vector), limit: 1 })),
      ).toEqual(['d3']);
    });

    it('keyword search ranks the document with the rare term first and survives query syntax', async () => {
      const c = await freshCollection('keyword', 4);
      const next = seeded(3);
      const texts = [
        'the river flows past the old mill',
        'the mill grinds grain near the river',
        'a zygomorphic orchid grows by the river',
        'grain and river and mill and river again',
        'nothing here mentions water at all',
        'the river is wide and the river is slow',
      ];
      await store.upsert(
        c,
        texts.map((t, i) => record(`k${i}`, randomVector(next, 4), t)),
      );
      const hits = await store.search(c, { mode: 'keyword', text: 'river zygomorphic', limit: 10 });
      expect(hits[0]!.id).toBe('k2');
      expect(new Set(ids(hits))).toEqual(new Set(['k0', 'k1', 'k2', 'k3', 'k5']));
      for (let i = 1; i < hits.length; i += 1)
        expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
      expect(hits[0]!.score).toBeGreaterThan(0);

      const hostile = await store.search(c, {
        mode: 'keyword',
        text: '"zygomorphic" AND (orchid* OR -col:x) ^{} NOT',
        limit: 3,
      });
      expect(hostile[0]!.id).toBe('k2');
      expect(await store.search(c, { mode: 'keyword', text: '?! "" ()*', limit: 3 })).toEqual([]);
      expect(await store.search(c, { mode: 'keyword', text: 'absentword', limit: 3 })).toEqual([]);
    });

    it('hybrid search returns both a keyword-only and a vector-only match', async () => {
      const dims = 8;
      const c = await freshCollection('hybrid', dims);
      const next = seeded(11);
      const query = [1, 0, 0, 0, 0, 0, 0, 0];
      const filler = ['alpha beta', 'gamma delta', 'epsilon zeta', 'eta theta', 'iota kappa'];
      const recs: VectorRecord[] = Array.from({ length: 30 }, (_, i) => {
        const v = randomVector(next, dims);
        v[0] = -Math.abs(v[0]!) * 0.2; // keep the filler away from the query direction
        return record(`h${i}`, v, `${filler[i % filler.length]!} filler ${i}`);
      });
      const vectorOnly = record(
        'vector-only',
        [0.99, 0.05, 0, 0, 0, 0, 0.05, 0],
        'plain words without the term',
      );
      const keywordOnly = record(
        'keyword-only',
        [-1, 0.1, 0.1, 0, 0, 0, 0, 0],
        'quokka sightings on the island',
      );
      await store.upsert(c, [...recs, vectorOnly, keywordOnly]);

      const hits = await store.search(c, {
        mode: 'hybrid',
        vector: query,
        text: 'quokka',
        limit: 5,
        alpha: 0.5,
      });
      expect(hits.length).toBe(5);
      expect(ids(hits).slice(0, 2).sort()).toEqual(['keyword-only', 'vector-only']);
      for (let i = 1; i < hits.length; i += 1)
        expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score - 1e-6);

      const denseSide = await store.search(c, {
        mode: 'hybrid',
        vector: query,
        text: 'quokka',
        limit: 3,
        alpha: 1,
      });
      expect(denseSide[0]!.id).toBe('vector-only');
      const keywordSide = await store.search(c, {
        mode: 'hybrid',
        vector: query,
        text: 'quokka',
        limit: 3,
        alpha: 0,
      });
      expect(keywordSide[0]!.id).toBe('keyword-only');
      const defaultAlpha = await store.search(c, { mode: 'hybrid', vector: query, text: 'quokka', limit: 5 });
      expect(ids(defaultAlpha).slice(0, 2).sort()).toEqual(['keyword-only', 'vector-only']);
    });

    describe('filters restrict results in every mode', () => {
      const dims = 8;
      const authors = ['alice', 'bob', 'carol'];
      const categories = ['article', 'post', 'code'];
      const platforms = ['medium', 'substack', 'github', 'linkedin'];
      const next = seeded(99);
      const recs: VectorRecord[] = Array.from({ length: 72 }, (_, i) =>
        record(`f${i}`, randomVector(next, dims), `signal number ${i} ${platforms[i % 4]!}`, {
          authorId: authors[i % 3]!,
          category: categories[Math.floor(i / 2) % 3]!,
          platform: platforms[i % 4]!,
          documentId: `doc-${i % 7}`,
          documentVersion: 1 + (Math.floor(i / 5) % 2),
          publishedAt: BASE_TIME + i * DAY,
          position: i,
        }),
      );
      const cases: [string, VectorFilter][] = [
        ['author', { authorId: 'bob' }],
        ['categories', { categories: ['post', 'code'] }],
        ['platforms', { platforms: ['github'] }],
        [
          'date range (inclusive)',
          { publishedAfter: BASE_TIME + 10 * DAY, publishedBefore: BASE_TIME + 30 * DAY },
        ],
        ['published after only', { publishedAfter: BASE_TIME + 60 * DAY }],
        ['document ids', { documentIds: ['doc-2', 'doc-5'] }],
        ['document version below', { documentVersionBelow: 2 }],
        [
          'several at once',
          { authorId: 'alice', platforms: ['medium', 'substack'], publishedAfter: BASE_TIME + 5 * DAY },
        ],
      ];
      let c: string;
      const queries = [randomVector(next, dims), randomVector(next, dims)];

      beforeAll(async () => {
        c = await freshCollection('filters', dims);
        await store.upsert(c, recs);
      });

      it.each(cases)('%s', async (_label, filter) => {
        const matching = recs.filter((r) => matches(r.metadata, filter));
        expect(matching.length).toBeGreaterThan(0);
        expect(matching.length).toBeLessThan(recs.length);
        expect(await store.count(c, filter)).toBe(matching.length);
        const limit = 6;
        for (const query of queries) {
          const dense = await store.search(c, { mode: 'dense', vector: query, limit, filter });
          expectExactNearest(dense, matching, query, limit);
        }
        const modes: SearchQuery[] = [
          { mode: 'keyword', text: 'signal', limit, filter },
          { mode: 'hybrid', vector: queries[0]!, text: 'signal', limit, filter },
          { mode: 'hybrid', vector: queries[1]!, text: 'signal', limit, filter, alpha: 0.3 },
        ];
        for (const query of modes) {
          const hits = await store.search(c, query);
          expect(hits.length).toBe(Math.min(limit, matching.length));
          for (const hit of hits) expect(matches(hit.metadata, filter)).toBe(true);
        }
        const many = await store.search(c, { mode: 'keyword', text: 'signal', limit: 100, filter });
        expect(new Set(ids(many))).toEqual(new Set(ids(matching)));
      });

      it('an empty list matches nothing and an empty filter matches everything', async () => {
        const query = queries[0]!;
        expect(
          await store.search(c, { mode: 'dense', vector: query, limit: 5, filter: { categories: [] } }),
        ).toEqual([]);
        expect(
          await store.search(c, { mode: 'keyword', text: 'signal', limit: 5, filter: { documentIds: [] } }),
        ).toEqual([]);
        expect(await store.count(c, { platforms: [] })).toBe(0);
        expect(await store.count(c, {})).toBe(recs.length);
        expect(await store.count(c)).toBe(recs.length);
        expectExactNearest(
          await store.search(c, { mode: 'dense', vector: query, limit: 5, filter: {} }),
          recs,
          query,
          5,
        );
      });
    });

    it('stores and finds unicode text', async () => {
      const c = await freshCollection('unicode', 4);
      const text = 'Zürich café — naïve façade, 東京 🚀 "quotes" & <tags> \\ back\'slash';
      const rec = record('ü/1', [1, 2, 3, 4], text, {
        title: 'Über uns – «Titel»',
        authorId: 'jürgen',
        section: 'Größe',
      });
      await store.upsert(c, [rec, record('plain', [4, 3, 2, 1], 'plain ascii text')]);
      const [got] = await store.get(c, ['ü/1']);
      expect(got!.text).toBe(text);
      expect(got!.metadata).toEqual(rec.metadata);
      for (const term of ['zürich', 'ZÜRICH', 'façade', '東京']) {
        expect(ids(await store.search(c, { mode: 'keyword', text: term, limit: 5 }))).toEqual(['ü/1']);
      }
      expect(
        ids(
          await store.search(c, {
            mode: 'dense',
            vector: [1, 2, 3, 4],
            limit: 1,
            filter: { authorId: 'jürgen' },
          }),
        ),
      ).toEqual(['ü/1']);
    });

    it('aliases: writes and searches go through them, and a swap moves readers to the new collection', async () => {
      const dims = 4;
      const a = await freshCollection('alias_a', dims);
      const b = await freshCollection('alias_b', dims);
      const alias = uniqueName('alias');
      expect(await store.resolveAlias(alias)).toBeUndefined();
      await store.setAlias(alias, a);
      expect(await store.resolveAlias(alias)).toBe(a);
      await store.setAlias(alias, a);

      await store.upsert(alias, [
        record('a1', [1, 0, 0, 0], 'old index one'),
        record('a2', [0, 1, 0, 0], 'old index two'),
      ]);
      expect(await store.count(a)).toBe(2);
      expect(await store.count(alias)).toBe(2);
      expect(ids(await store.get(alias, ['a1']))).toEqual(['a1']);
      expect(
        ids(await store.search(alias, { mode: 'dense', vector: [1, 0, 0, 0], limit: 5 })).sort(),
      ).toEqual(['a1', 'a2']);

      await store.upsert(b, [
        record('b1', [1, 0, 0, 0], 'new index one'),
        record('b2', [0, 1, 0, 0], 'new index two'),
        record('b3', [0, 0, 1, 0], 'new index three'),
      ]);
      await store.setAlias(alias, b);
      expect(await store.resolveAlias(alias)).toBe(b);
      expect(
        ids(await store.search(alias, { mode: 'dense', vector: [1, 0, 0, 0], limit: 5 })).sort(),
      ).toEqual(['b1', 'b2', 'b3']);
      expect(ids(await store.search(alias, { mode: 'keyword', text: 'index', limit: 5 })).sort()).toEqual([
        'b1',
        'b2',
        'b3',
      ]);
      expect(await store.count(alias)).toBe(3);

      // Readers racing a swap see one collection or the other, never a mix.
      const racing = Array.from({ length: 12 }, (_, i) =>
        store.search(alias, {
          mode: i % 2 === 0 ? 'dense' : 'keyword',
          vector: [1, 0, 0, 0],
          text: 'index',
          limit: 5,
        }),
      );
      const swap = store.setAlias(alias, a);
      const results = await Promise.all(racing);
      await swap;
      for (const hits of results) {
        const names = ids(hits);
        expect(names.length).toBeGreaterThan(0);
        expect(names.every((id) => id.startsWith('a')) || names.every((id) => id.startsWith('b'))).toBe(true);
      }
      expect(await store.resolveAlias(alias)).toBe(a);

      // Aliases and collections share one namespace.
      await expectDomainError(store.setAlias(alias, uniqueName('nothing')), 'not-found');
      await expectDomainError(store.setAlias(b, a), 'failed-precondition');
      await expectDomainError(store.ensureCollection(alias, { dimensions: dims }), 'failed-precondition');
      await expectDomainError(store.dropCollection(alias), 'failed-precondition');
      expect((await store.listCollections()).map((info) => info.name)).not.toContain(alias);

      // Dropping a collection removes the aliases that point at it.
      await store.dropCollection(a);
      expect(await store.resolveAlias(alias)).toBeUndefined();
      await expectDomainError(store.count(alias), 'not-found');
    });

    it('lists and drops collections', async () => {
      const c = await freshCollection('listdrop', 4);
      await store.upsert(c, [record('l1', [1, 0, 0, 0], 'one'), record('l2', [0, 1, 0, 0], 'two')]);
      expect((await store.listCollections()).find((info) => info.name === c)).toEqual({
        name: c,
        dimensions: 4,
        count: 2,
      });
      await store.dropCollection(c);
      expect((await store.listCollections()).map((info) => info.name)).not.toContain(c);
      await store.dropCollection(c);
      await expectDomainError(store.count(c), 'not-found');
      await store.ensureCollection(c, { dimensions: 6 });
      expect(await store.count(c)).toBe(0);
    });

    it('honours an aborted signal', async () => {
      const c = await freshCollection('abort', 4);
      const controller = new AbortController();
      controller.abort();
      await expectDomainError(
        store.search(c, { mode: 'dense', vector: [1, 0, 0, 0], limit: 1 }, controller.signal),
        'cancelled',
      );
      await expectDomainError(
        store.upsert(c, [record('z', [1, 0, 0, 0], 'z')], controller.signal),
        'cancelled',
      );
      expect(await store.count(c)).toBe(0);
    });

    it('keeps data across store objects (persistence)', async () => {
      const c = uniqueName('persist');
      const first = await factory();
      await first.ensureCollection(c, { dimensions: 4 });
      await first.upsert(c, [
        record('p1', [1, 0, 0, 0], 'persisted text'),
        record('p2', [0, 1, 0, 0], 'other'),
      ]);
      await first.close();
      const second = await factory();
      try {
        expect(ids(await second.get(c, ['p1']))).toEqual(['p1']);
        expect(ids(await second.search(c, { mode: 'dense', vector: [1, 0, 0, 0], limit: 1 }))).toEqual([
          'p1',
        ]);
        expect(ids(await second.search(c, { mode: 'keyword', text: 'persisted', limit: 1 }))).toEqual(['p1']);
        expect((await second.listCollections()).find((info) => info.name === c)).toEqual({
          name: c,
          dimensions: 4,
          count: 2,
        });
      } finally {
        await second.close();
      }
    });
  });
}
