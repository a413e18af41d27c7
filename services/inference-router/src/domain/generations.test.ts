// GenerationStore.list over an embedded warehouse: the warehouse filters (author, model, since/until) and the
// bounded in-memory match of `queryContains`, whose pages go on from the last record read when the bound is
// hit, so that following `next` finds every match and skips none.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  GenerationStore,
  newGenerationId,
  type GenerationQuery,
  type GenerationRecord,
} from './generations.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const record = (
  createdAt: number,
  fields: { authorId?: string; model?: string; query?: string; answer?: string } = {},
): GenerationRecord => ({
  _id: newGenerationId(createdAt),
  authorId: fields.authorId ?? 'ada',
  query: fields.query ?? 'What is a starter?',
  expandedQueries: [],
  filters: { authorId: 'ada', categories: [], platforms: [], publishedAfter: null, publishedBefore: null },
  retrieved: [],
  promptTemplateVersion: 'v1',
  model: fields.model ?? 'extractive',
  promptTokens: 1,
  completionTokens: 1,
  timeToFirstTokenMs: 1,
  totalLatencyMs: 2,
  answer: fields.answer ?? 'Flour and water.',
  finishReason: 'stop',
  error: '',
  traceId: '',
  createdAt,
});

describe('GenerationStore.list', () => {
  let dir: string;
  let warehouse: Warehouse;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-generations-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
  });
  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  const storeWith = async (records: GenerationRecord[], scan?: { maxScanned?: number; batch?: number }) => {
    const store = new GenerationStore(warehouse, scan);
    await store.init();
    for (const r of records) await store.save(r);
    return store;
  };

  /** Every page from the first, following `next`; also the size of each page. */
  const allPages = async (store: GenerationStore, q: Omit<GenerationQuery, 'before'>) => {
    const ids: string[] = [];
    const sizes: number[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const { records, next } = await store.list({ ...q, ...(before ? { before } : {}) });
      ids.push(...records.map((r) => r._id));
      sizes.push(records.length);
      if (!next) return { ids, sizes };
      before = next;
    }
    throw new Error('more than 100 pages');
  };

  it('filters by author, exact model, since (inclusive) and until (exclusive), newest first', async () => {
    const records = [
      record(T0, { model: 'extractive' }),
      record(T0 + 1000, { model: 'twin-1b' }),
      record(T0 + 2000, { model: 'twin-1b', authorId: 'bob' }),
      record(T0 + 3000, { model: 'twin-1b' }),
      record(T0 + 4000, { model: 'twin-1b-v2' }),
    ];
    const store = await storeWith(records);
    const ids = async (q: Omit<GenerationQuery, 'limit'>) =>
      (await store.list({ ...q, limit: 50 })).records.map((r) => r._id);
    const id = (i: number) => records[i]!._id;

    expect(await ids({})).toEqual([id(4), id(3), id(2), id(1), id(0)]);
    expect(await ids({ model: 'twin-1b' })).toEqual([id(3), id(2), id(1)]);
    expect(await ids({ model: 'twin-1b', authorId: 'ada' })).toEqual([id(3), id(1)]);
    expect(await ids({ since: T0 + 1000, until: T0 + 3000 })).toEqual([id(2), id(1)]);
    expect(await ids({ until: T0 + 1000 })).toEqual([id(0)]);
    expect(await ids({ since: T0 + 4000 })).toEqual([id(4)]);
    expect(await ids({ model: 'TWIN-1B' })).toEqual([]);
  });

  it('pages without a text filter as every List RPC does: a full page sets next', async () => {
    const records = [0, 1, 2, 3].map((i) => record(T0 + i * 1000));
    const store = await storeWith(records);
    const first = await store.list({ limit: 2 });
    expect(first.records.map((r) => r._id)).toEqual([records[3]!._id, records[2]!._id]);
    expect(first.next).toBe(records[2]!._id);
    const second = await store.list({ limit: 2, before: first.next });
    expect(second.records.map((r) => r._id)).toEqual([records[1]!._id, records[0]!._id]);
    const third = await store.list({ limit: 2, before: second.next });
    expect(third).toEqual({ records: [], next: '' });
  });

  it('matches queryContains in the question or the answer, ignoring case, within the other filters', async () => {
    const records = [
      record(T0, { query: 'How do I feed a SOURDOUGH starter?' }),
      record(T0 + 1000, { query: 'Rye or wheat?', answer: 'Rye makes a sourer Sourdough.' }),
      record(T0 + 2000, { query: 'How long does it rise?', answer: 'Overnight.' }),
      record(T0 + 3000, { query: 'Sourdough pizza?', model: 'twin-1b' }),
      record(T0 + 4000, { query: 'sourdough', authorId: 'bob' }),
    ];
    const store = await storeWith(records);
    const ids = async (q: Omit<GenerationQuery, 'limit'>) =>
      (await store.list({ ...q, limit: 50 })).records.map((r) => r._id);
    const id = (i: number) => records[i]!._id;

    expect(await ids({ queryContains: 'sourDough' })).toEqual([id(4), id(3), id(1), id(0)]);
    expect(await ids({ queryContains: 'sourdough', authorId: 'ada', model: 'extractive' })).toEqual([
      id(1),
      id(0),
    ]);
    expect(await ids({ queryContains: 'overnight' })).toEqual([id(2)]);
    expect(await ids({ queryContains: 'feed a sourdough' })).toEqual([id(0)]);
    expect(await ids({ queryContains: 'baguette' })).toEqual([]);
  });

  it('stops at the scan bound with next set to the last record read, so following next skips no match', async () => {
    // 23 records, newest first: every fifth one (by age) mentions sourdough.
    const records = Array.from({ length: 23 }, (_, i) =>
      record(T0 + i * 1000, { query: i % 5 === 0 ? `Sourdough question ${i}` : `Other question ${i}` }),
    );
    const newestFirst = [...records].reverse();
    const matching = newestFirst.filter((r) => r.query.startsWith('Sourdough')).map((r) => r._id);
    expect(matching).toHaveLength(5);
    const store = await storeWith(records, { maxScanned: 4, batch: 3 });

    // The newest four are 22, 21, 20, 19: one match (20), then the bound.
    const first = await store.list({ queryContains: 'sourdough', limit: 10 });
    expect(first.records.map((r) => r.query)).toEqual(['Sourdough question 20']);
    expect(first.next).toBe(newestFirst[3]!._id);
    // 18..15 hold 15; 14..11 no match, and still a way on.
    const second = await store.list({ queryContains: 'sourdough', limit: 10, before: first.next });
    expect(second.records.map((r) => r.query)).toEqual(['Sourdough question 15']);
    expect(second.next).toBe(newestFirst[7]!._id);
    const third = await store.list({ queryContains: 'sourdough', limit: 10, before: second.next });
    expect(third).toEqual({ records: [], next: newestFirst[11]!._id });

    const all = await allPages(store, { queryContains: 'sourdough', limit: 10 });
    expect(all.ids).toEqual(matching);
    expect(Math.max(...all.sizes)).toBeLessThanOrEqual(1);
    // A full page ends at its last match, not at the last record read.
    const full = await allPages(store, { queryContains: 'SOURDOUGH', limit: 1 });
    expect(full.ids).toEqual(matching);

    // With a bound larger than the collection, one page holds every match and nothing is left.
    const unbounded = new GenerationStore(warehouse, { maxScanned: 100, batch: 7 });
    const once = await unbounded.list({ queryContains: 'sourdough', limit: 10 });
    expect(once.records.map((r) => r._id)).toEqual(matching);
    expect(once.next).toBe('');
  });
});
