// The outbox over the embedded warehouse and event bus: a write is followed by its event and a cleared marker;
// a refused compare-and-set writes and publishes nothing; a publish that fails leaves the record and its
// marker for the relay; publishing an older event never clears a newer write's marker.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEventBus, createWarehouse } from './adapters.js';
import type { EventBus } from './event-bus/event-bus.port.js';
import { decodeEvent } from './event-bus/typed-events.js';
import { outboxMarker, OutboxStore, type OutboxMarker } from './outbox-store.js';
import type { Record as StoredRecord, Warehouse } from './warehouse/warehouse.port.js';

interface Note extends StoredRecord {
  _id: string;
  text: string;
  version: number;
  outbox?: OutboxMarker & { by: string };
}

const TOPIC = 'test.notes.v1';

describe('OutboxStore', () => {
  let dir: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let failPublish: boolean;
  let outbox: OutboxStore<OutboxMarker & { by: string }, Note, typeof StringValueSchema>;

  const note = (version: number, text: string, by = 'ada'): Note => ({
    _id: 'n1',
    text,
    version,
    outbox: outboxMarker(1000 + version, { by }),
  });
  const events = async () =>
    (await bus.read(TOPIC)).map((m) => ({ key: m.key, value: decodeEvent(StringValueSchema, m).value }));

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'outbox-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    bus = createEventBus(`log:${path.join(dir, 'e.db')}`);
    failPublish = false;
    // The bus as the store sees it: publish fails while failPublish is set.
    const flaky = new Proxy(bus, {
      get(target, name) {
        if (name === 'publish' && failPublish) return () => Promise.reject(new Error('broker down'));
        const value = Reflect.get(target, name, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    outbox = new OutboxStore(warehouse.collection<Note>('notes'), flaky, {
      topic: TOPIC,
      schema: StringValueSchema,
      build: (record, marker) => ({ value: `${record.text} by ${marker.by} @${marker.at}` }),
    });
    await outbox.init();
  });
  afterEach(async () => {
    await bus.close();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the record, publishes its event keyed by the id, then clears the marker', async () => {
    expect(await outbox.write(note(1, 'hello'), null)).toBe(true);
    expect(await events()).toEqual([{ key: 'n1', value: 'hello by ada @1001' }]);
    const stored = await outbox.records.get('n1');
    expect(stored).toMatchObject({ text: 'hello', version: 1 });
    expect(stored?.outbox).toBeUndefined();
    expect(await outbox.flush()).toBe(0);
  });

  it('writes and publishes nothing when the compare-and-set is refused', async () => {
    await outbox.write(note(1, 'hello'), null);
    expect(await outbox.write(note(2, 'stale'), { version: 7 })).toBe(false);
    expect(await outbox.write(note(2, 'taken'), null)).toBe(false);
    expect((await outbox.records.get('n1'))?.text).toBe('hello');
    expect(await events()).toHaveLength(1);
  });

  it('leaves a record whose publish failed for the relay, which publishes it once', async () => {
    failPublish = true;
    await expect(outbox.write(note(1, 'hello'), null)).rejects.toThrow(/broker down/);
    expect((await outbox.records.get('n1'))?.outbox).toMatchObject({ pending: true, by: 'ada' });
    expect(await events()).toEqual([]);
    await expect(outbox.flush()).rejects.toThrow(/broker down/);

    failPublish = false;
    expect(await outbox.flush()).toBe(1);
    expect(await events()).toEqual([{ key: 'n1', value: 'hello by ada @1001' }]);
    expect((await outbox.records.get('n1'))?.outbox).toBeUndefined();
    expect(await outbox.flush()).toBe(0);
  });

  it('never clears the marker of a newer write when an older event goes out', async () => {
    failPublish = true;
    const first = note(1, 'first');
    await expect(outbox.write(first, null)).rejects.toThrow();
    const second = note(2, 'second', 'bob');
    await expect(outbox.write(second, { version: 1 })).rejects.toThrow();
    failPublish = false;

    // The first write's publish, retried late (a redelivery, say): its event goes out, the newer marker stays.
    await outbox.publish(first);
    expect((await outbox.records.get('n1'))?.outbox?.eventId).toBe(second.outbox!.eventId);
    expect(await outbox.flush()).toBe(1);
    expect((await events()).map((e) => e.value)).toEqual(['first by ada @1001', 'second by bob @1002']);
  });

  it('makes markers with fresh event ids', () => {
    const a = outboxMarker(5, { by: 'ada' });
    expect(a).toMatchObject({ pending: true, at: 5, by: 'ada' });
    expect(a.eventId).not.toBe(outboxMarker(5, { by: 'ada' }).eventId);
  });
});
