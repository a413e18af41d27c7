import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { isDomainError } from '@llmtwin/runtime';
import { pino } from 'pino';
import { GenerationStore } from './generations.js';
import { RagService, type GenerationEvent } from './rag.js';
import type { Passage, SearchFn } from './retrieve.js';

const passage: Passage = {
  chunkId: 'chk_1',
  documentId: 'doc_1',
  text: 'Sourdough needs a starter that you feed with flour and water. It rises overnight.',
  score: 0.8,
  title: 'Bread',
  url: 'https://example.com/bread',
  publishedAt: Date.UTC(2024, 0, 2),
  category: 1,
  platform: 1,
};

async function collect(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('RagService', () => {
  let dir: string;
  let warehouse: Warehouse;
  let store: GenerationStore;
  const rag = (search: SearchFn) => new RagService({ search, store, logger: pino({ level: 'silent' }) });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-rag-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    store = new GenerationStore(warehouse);
    await store.init();
  });
  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('searches with the author and filters, and records the answer it streamed', async () => {
    const seen: unknown[] = [];
    const events = await collect(
      rag(async (query, filters, limit) => {
        seen.push({ query, filters, limit });
        return [passage];
      }).generate({
        query: ' how do I feed a sourdough starter? ',
        authorId: 'jane',
        topK: 2,
        platforms: [3],
      }),
    );
    expect(seen).toEqual([
      {
        query: 'how do I feed a sourdough starter?',
        filters: { authorId: 'jane', categories: [], platforms: [3] },
        limit: 8,
      },
    ]);
    const done = events.at(-1)!;
    if (!('done' in done)) throw new Error('no done event');
    expect(
      events
        .slice(0, -1)
        .map((e) => ('delta' in e ? e.delta : ''))
        .join(''),
    ).toBe(done.done.answer);
    expect(done.done.citations).toEqual([
      {
        index: 1,
        documentId: 'doc_1',
        chunkId: 'chk_1',
        title: 'Bread',
        url: 'https://example.com/bread',
        publishedAt: Date.UTC(2024, 0, 2),
        score: 0.8,
        passages: [{ chunkId: 'chk_1', score: 0.8, snippet: passage.text, rank: 1 }],
      },
    ]);
    const [record] = (await store.list({ limit: 10 })).records;
    expect(record).toMatchObject({
      _id: done.done.generationId,
      finishReason: 'stop',
      answer: done.done.answer,
      retrieved: [{ chunkId: 'chk_1', score: 0.8, citation: 1 }],
    });
  });

  describe('two chunks of one document', () => {
    // Ranked: bread's opening, the rye page, then bread's later chunk: two documents, three passages.
    const later: Passage = {
      ...passage,
      chunkId: 'chk_2',
      text: 'Feed the starter twice a day once it is active, with equal weights of flour and water.',
      score: 0.6,
    };
    const rye: Passage = {
      ...passage,
      chunkId: 'rye_1',
      documentId: 'doc_rye',
      title: 'Rye',
      url: 'https://example.com/rye',
      text: 'Rye flour makes a sour starter that rises fast.',
      score: 0.7,
    };
    const search: SearchFn = async () => [passage, rye, later];

    it('are one citation with both passages, in the started event and in done', async () => {
      const events = await collect(
        rag(search).generate({ query: 'feed sourdough starter', authorId: 'jane' }),
      );
      const started = events[0]!;
      if (!('started' in started)) throw new Error('no started event');
      const bread = {
        index: 1,
        documentId: 'doc_1',
        chunkId: 'chk_1',
        title: 'Bread',
        url: 'https://example.com/bread',
        publishedAt: Date.UTC(2024, 0, 2),
        score: 0.8,
        passages: [
          { chunkId: 'chk_1', score: 0.8, snippet: passage.text, rank: 1 },
          { chunkId: 'chk_2', score: 0.6, snippet: later.text, rank: 3 },
        ],
      };
      expect(started.started.citations).toEqual([
        bread,
        expect.objectContaining({
          index: 2,
          documentId: 'doc_rye',
          passages: [{ chunkId: 'rye_1', score: 0.7, snippet: rye.text, rank: 2 }],
        }),
      ]);
      const done = events.at(-1)!;
      if (!('done' in done)) throw new Error('no done event');
      expect(done.done.citations).toEqual(started.started.citations);
      // The extractive answer cites by document: both bread sentences are [1], never [3].
      expect(done.done.answer).toContain(`“${later.text}” [1]`);
      expect(done.done.answer).not.toMatch(/\[3\]/);
      const [record] = (await store.list({ limit: 10 })).records;
      expect(record!.retrieved.map((r) => [r.chunkId, r.citation])).toEqual([
        ['chk_1', 1],
        ['rye_1', 2],
        ['chk_2', 1],
      ]);
    });
  });

  it('records a failed generation with its error, and rethrows', async () => {
    const err = await failure(
      collect(
        rag(async () => {
          throw new Error('embed is down');
        }).generate({ query: 'bread?', authorId: 'jane' }),
      ),
    );
    expect((err as Error).message).toBe('embed is down');
    const [record] = (await store.list({ authorId: 'jane', limit: 10 })).records;
    expect(record).toMatchObject({ finishReason: 'error', error: 'embed is down', query: 'bread?' });
  });

  it('records a stream the client abandoned after the first delta', async () => {
    const stream = rag(async () => [passage]).generate({ query: 'sourdough starter', authorId: 'jane' });
    const started = await stream.next();
    expect(started.value).toMatchObject({
      started: { model: 'extractive', citations: [{ index: 1, url: 'https://example.com/bread' }] },
    });
    const first = await stream.next();
    expect(first.value).toHaveProperty('delta');
    await stream.return(undefined);
    const [record] = (await store.list({ limit: 10 })).records;
    expect(record).toMatchObject({ finishReason: 'error', error: 'cancelled by the client' });
    expect(record!.answer).toBe((first.value as { delta: string }).delta);
  });

  it('rejects what it cannot do: empty query, unknown model, disable_rag without an LLM', async () => {
    const service = rag(async () => [passage]);
    const empty = await failure(collect(service.generate({ query: '', authorId: 'jane' })));
    expect(isDomainError(empty, 'invalid-argument')).toBe(true);
    const noAuthor = await failure(collect(service.generate({ query: 'bread', authorId: '' })));
    expect(isDomainError(noAuthor, 'invalid-argument')).toBe(true);
    const model = await failure(
      collect(service.generate({ query: 'bread', authorId: 'jane', model: 'gpt-x' })),
    );
    expect(isDomainError(model, 'not-found')).toBe(true);
    const noRag = await failure(
      collect(service.generate({ query: 'bread', authorId: 'jane', disableRag: true })),
    );
    expect(isDomainError(noRag, 'failed-precondition')).toBe(true);
    const dates = await failure(
      service.retrieve({ query: 'bread', authorId: 'jane', publishedAfter: 2, publishedBefore: 1 }),
    );
    expect(isDomainError(dates, 'invalid-argument')).toBe(true);
    expect((await store.list({ limit: 10 })).records).toEqual([]);
  });
});
