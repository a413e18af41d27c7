// The warehouse's change semantics on the embedded adapters: unchanged is a no-op, an edit is one new version
// and one event, a removal is a tombstone event, and a write interrupted before its event is published by the
// outbox relay.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ingesteventsv1, topics } from '@llmtwin/contracts';
import { decodeEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExtractedDocument } from './extracted-document.js';
import { documentId, RawDocumentStore, type RawDocumentRecord } from './raw-documents.js';

const page = (body: string, title = 'On writing'): ExtractedDocument => ({
  category: 'article',
  platform: 'medium',
  canonicalUrl: 'https://medium.com/@ada/on-writing-123',
  title,
  author: 'Ada',
  publishedAt: Date.UTC(2024, 0, 2, 3, 4, 5),
  draft: false,
  raw: new TextEncoder().encode(body),
  rawContentType: 'text/html; charset=utf-8',
});
const ctx = { authorId: 'ada', sourceId: 'src_1', crawlJobId: 'job_1' };

describe('RawDocumentStore', () => {
  let dir: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let store: RawDocumentStore;

  const events = async () =>
    (await bus.read(topics.documentsRaw)).map((m) => decodeEvent(ingesteventsv1.RawDocumentChangedSchema, m));

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'raw-docs-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    bus = createEventBus(`log:${path.join(dir, 'e.db')}`);
    store = new RawDocumentStore(warehouse, bus);
    await store.init();
  });
  afterEach(async () => {
    await bus.close();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, skips unchanged content, versions edits and tombstones removals, one event each', async () => {
    const first = await store.upsert(page('<p>v1</p>'), ctx);
    expect(first.change).toBe('created');
    expect(first.document.version).toBe(1);
    expect((await store.upsert(page('<p>v1</p>'), ctx)).change).toBe('unchanged');
    expect(await events()).toHaveLength(1);

    const edited = await store.upsert(page('<p>v2</p>'), ctx);
    expect(edited).toMatchObject({ change: 'updated', document: { version: 2 } });
    const gone = await store.tombstone(first.document._id, 'job_2');
    expect(gone).toMatchObject({ change: 'tombstoned', document: { version: 3, tombstone: true } });
    expect((await store.tombstone(first.document._id, 'job_3')).change).toBe('unchanged');

    const all = await events();
    expect(all.map((e) => [e.change, Number(e.document?.version)])).toEqual([
      [ingesteventsv1.ChangeKind.CREATED, 1],
      [ingesteventsv1.ChangeKind.UPDATED, 2],
      [ingesteventsv1.ChangeKind.TOMBSTONED, 3],
    ]);
    expect(new TextDecoder().decode(all[1]!.document!.raw)).toBe('<p>v2</p>');
    expect(all[0]!.document!.publishTime?.seconds).toBe(BigInt(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000));
    // Nothing is left in the outbox once events are out.
    expect(await store.documents.count({ 'outbox.pending': true })).toBe(0);
  });

  it('keeps each author’s documents apart, even at the same URL', async () => {
    await store.upsert(page('<p>x</p>'), ctx);
    await store.upsert(page('<p>x</p>'), { ...ctx, authorId: 'bob' });
    expect(documentId('ada', page('').canonicalUrl)).not.toBe(documentId('bob', page('').canonicalUrl));
    expect(await store.documents.count({ authorId: 'ada' })).toBe(1);
    expect(await store.documents.count({ authorId: 'bob' })).toBe(1);
  });

  it('publishes an event whose write happened but whose publish did not (crash between the two)', async () => {
    const created = await store.upsert(page('<p>v1</p>'), ctx);
    // What a crash right after the compare-and-set leaves behind: the new version with its outbox marker.
    const interrupted: RawDocumentRecord = {
      ...created.document,
      version: 2,
      contentHash: 'h2',
      raw: new TextEncoder().encode('<p>v2</p>'),
      outbox: { eventId: 'evt-crash', change: 'updated', pending: true, crawlJobId: 'job_9', at: Date.now() },
    };
    await store.documents.put(interrupted);
    expect(await events()).toHaveLength(1);

    expect(await store.flushOutbox()).toBe(1);
    const all = await events();
    expect(all).toHaveLength(2);
    expect(all[1]).toMatchObject({ eventId: 'evt-crash', crawlJobId: 'job_9' });
    expect(Number(all[1]!.document!.version)).toBe(2);
    expect(await store.flushOutbox()).toBe(0);
  });
});
