// The feature pipeline on the embedded adapters: raw events → clean → chunk → embed → searchable, with
// edits, tombstones, duplicates, stale events and an atomic reindex. Consumer logic runs with a FAKE
// embedder and chunker (fast); see feature-pipeline-real.e2e.test.ts for the real model.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createChunkModule } from '@llmtwin/chunk';
import { createCleanModule } from '@llmtwin/clean';
import { topics } from '@llmtwin/contracts';
import {
  drained,
  fakeChunker,
  fakeEmbedder,
  publishRaw,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from '@llmtwin/testkit/pipeline';
import { LIVE_ALIAS } from '../domain/collections.js';
import { createEmbedModule, type EmbedModule } from '../module.js';

const para = (topic: string) =>
  `This paragraph explains ${topic} in enough words to count as real article content for the extractor, ` +
  `with several clauses, commas, and a full stop so that it scores as prose rather than boilerplate text.`;

describe('feature pipeline (embedded adapters, fake embedder and chunker)', () => {
  let p: Pipeline<EmbedModule>;
  beforeEach(async () => {
    p = await startPipeline(
      { createCleanModule, createChunkModule, createEmbedModule },
      fakeEmbedder(),
      fakeChunker(),
    );
  });
  afterEach(async () => {
    await stopPipeline(p);
  });

  const chunksOf = (documentId: string, below?: number) =>
    p.vectors.count(LIVE_ALIAS, {
      documentIds: [documentId],
      ...(below ? { documentVersionBelow: below } : {}),
    });

  it('makes every chunk searchable, replaces edited versions, removes tombstones and ignores stale events', async () => {
    await publishRaw(p.bus, {
      id: 'doc_a',
      version: 1,
      title: 'Kafka',
      paragraphs: [para('kafka partitions'), para('consumer groups')],
    });
    await publishRaw(p.bus, { id: 'doc_b', version: 1, title: 'Rust', paragraphs: [para('rust ownership')] });
    await drained(p);
    expect(await chunksOf('doc_a')).toBeGreaterThanOrEqual(2);
    expect(await chunksOf('doc_b')).toBeGreaterThanOrEqual(1);
    const hits = await p.vectors.search(LIVE_ALIAS, { mode: 'keyword', text: 'ownership', limit: 5 });
    expect(hits[0]?.metadata).toMatchObject({
      documentId: 'doc_b',
      documentVersion: 1,
      authorId: 'jane',
      category: 'article',
      platform: 'web',
      url: 'https://example.com/doc_b',
      title: 'Rust',
    });

    // Edit: version 2 replaces version 1 entirely.
    await publishRaw(p.bus, {
      id: 'doc_a',
      version: 2,
      title: 'Kafka',
      paragraphs: [para('exactly once semantics')],
    });
    await drained(p);
    expect(await chunksOf('doc_a', 2)).toBe(0);
    expect(await chunksOf('doc_a')).toBeGreaterThanOrEqual(1);
    const edited = await p.vectors.search(LIVE_ALIAS, { mode: 'keyword', text: 'semantics', limit: 5 });
    expect(edited[0]?.metadata.documentVersion).toBe(2);

    // A duplicate of v2 and a stale v1 (e.g. a replayed dead letter) change nothing.
    const before = await p.vectors.count(LIVE_ALIAS);
    const embeddedEvents = (await p.bus.read(topics.chunksEmbedded)).length;
    await publishRaw(p.bus, {
      id: 'doc_a',
      version: 2,
      title: 'Kafka',
      paragraphs: [para('exactly once semantics')],
    });
    await publishRaw(p.bus, {
      id: 'doc_a',
      version: 1,
      title: 'Kafka',
      paragraphs: [para('kafka partitions')],
    });
    await drained(p);
    expect(await p.vectors.count(LIVE_ALIAS)).toBe(before);
    expect(await chunksOf('doc_a', 2)).toBe(0);
    expect((await p.bus.read(topics.chunksEmbedded)).length).toBe(embeddedEvents);

    // Tombstone: every chunk of the document is gone.
    await publishRaw(p.bus, { id: 'doc_b', version: 2, tombstone: true });
    await drained(p);
    expect(await chunksOf('doc_b')).toBe(0);
    const last = (await p.bus.read(topics.chunksEmbedded)).at(-1);
    expect(last?.key).toBe('doc_b');
    expect(await p.bus.deadLetters(topics.documentsRaw)).toEqual([]);
  });

  it('keeps drafts out of retrieval until published, again when unpublished, and through a reindex', async () => {
    const draft = { id: 'doc_d', title: 'Draft', paragraphs: [para('an unpublished idea')] };
    await publishRaw(p.bus, { ...draft, version: 1, draft: true });
    await publishRaw(p.bus, { id: 'doc_p', version: 1, title: 'Out', paragraphs: [para('published work')] });
    await drained(p);
    expect(await chunksOf('doc_d')).toBe(0);
    expect(await chunksOf('doc_p')).toBeGreaterThanOrEqual(1);
    expect(await p.vectors.search(LIVE_ALIAS, { mode: 'keyword', text: 'unpublished', limit: 5 })).toEqual(
      [],
    );

    await publishRaw(p.bus, { ...draft, version: 2 }); // published
    await drained(p);
    expect(await chunksOf('doc_d')).toBeGreaterThanOrEqual(1);

    await publishRaw(p.bus, { ...draft, version: 3, draft: true }); // back to draft
    await drained(p);
    expect(await chunksOf('doc_d')).toBe(0);

    const started = await p.embed.reindexer.start({ authorId: '' });
    await p.embed.reindexer.wait(started._id);
    expect(await p.embed.reindexer.get(started._id)).toMatchObject({ state: 'swapped', error: '' });
    expect(await chunksOf('doc_d')).toBe(0);
    expect(await chunksOf('doc_p')).toBeGreaterThanOrEqual(1);
  });

  it('reindexes into a new collection and swaps it in only when complete', async () => {
    for (let i = 0; i < 5; i++) {
      await publishRaw(p.bus, {
        id: `doc_${i}`,
        version: 1,
        title: `T${i}`,
        paragraphs: [para(`topic number ${i}`)],
      });
    }
    await drained(p);
    const old = await p.vectors.resolveAlias(LIVE_ALIAS);
    const total = await p.vectors.count(LIVE_ALIAS);
    const started = await p.embed.reindexer.start({ authorId: '' });
    expect(started.target).not.toBe(old);
    // While it runs, searches still answer from the old collection, complete.
    expect(await p.vectors.resolveAlias(LIVE_ALIAS)).toBe(old);
    expect(await p.vectors.count(LIVE_ALIAS)).toBe(total);
    await p.embed.reindexer.wait(started._id);
    const done = await p.embed.reindexer.get(started._id);
    expect(done).toMatchObject({ state: 'swapped', documentsDone: 5, error: '' });
    expect(await p.vectors.resolveAlias(LIVE_ALIAS)).toBe(started.target);
    expect(await p.vectors.count(LIVE_ALIAS)).toBe(total);
    expect((await p.vectors.listCollections()).map((c) => c.name)).not.toContain(old);
    // Live changes after the swap land in the new collection.
    await publishRaw(p.bus, { id: 'doc_0', version: 2, tombstone: true });
    await drained(p);
    expect(await p.vectors.count(LIVE_ALIAS, { documentIds: ['doc_0'] })).toBe(0);
  });
});
