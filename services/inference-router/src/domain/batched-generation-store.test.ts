import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { BatchedGenerationStore } from './batched-generation-store.js';
import { GENERATIONS, newGenerationId, type GenerationRecord } from './generations.js';

const record = (answer: string): GenerationRecord => ({
  _id: newGenerationId(),
  authorId: 'ada',
  query: 'What is a starter?',
  expandedQueries: [],
  filters: { authorId: 'ada', categories: [], platforms: [], publishedAfter: null, publishedBefore: null },
  retrieved: [],
  promptTemplateVersion: 'v1',
  model: 'm',
  promptTokens: 1,
  completionTokens: 1,
  timeToFirstTokenMs: 1,
  totalLatencyMs: 2,
  answer,
  finishReason: 'stop',
  error: '',
  traceId: '',
  createdAt: Date.now(),
});

describe('BatchedGenerationStore', () => {
  let dir: string;
  let warehouse: Warehouse;
  const logger = pino({ level: 'silent' });
  /** What is really in the warehouse, read past the store. */
  const stored = () => warehouse.collection<GenerationRecord>(GENERATIONS).count();

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-batched-generations-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
  });
  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes saved records in one batch after the interval, the last save of a record winning', async () => {
    const store = new BatchedGenerationStore(warehouse, logger, { intervalMs: 30 });
    await store.init();
    const a = record('first');
    await store.save(a);
    await store.save({ ...a, answer: 'second' });
    await store.save(record('other'));
    expect(await stored()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await stored()).toBe(2);
    expect((await warehouse.collection<GenerationRecord>(GENERATIONS).get(a._id))?.answer).toBe('second');
    await store.close();
  });

  it('lets its own reads find a record at once, and writes a full batch without waiting', async () => {
    const store = new BatchedGenerationStore(warehouse, logger, { intervalMs: 60_000, maxBatch: 3 });
    await store.init();
    const a = record('found at once');
    await store.save(a);
    expect((await store.get(a._id)).answer).toBe('found at once');
    for (const answer of ['x', 'y', 'z']) await store.save(record(answer));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await stored()).toBe(4);
    await store.close();
  });

  it('writes the last batch on close, so a clean shutdown loses none', async () => {
    const store = new BatchedGenerationStore(warehouse, logger, { intervalMs: 60_000 });
    await store.init();
    await store.save(record('last'));
    expect(await stored()).toBe(0);
    await store.close();
    expect(await stored()).toBe(1);
  });
});
