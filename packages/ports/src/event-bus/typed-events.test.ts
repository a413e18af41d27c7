import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { DurationSchema, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import { EmbeddedEventBus } from './embedded-event-bus.js';
import {
  EVENT_TYPE_HEADER,
  EventDecodeError,
  decodeEvent,
  eventHandler,
  publishEvent,
} from './typed-events.js';

describe('typed events', () => {
  let dir: string;
  let bus: EmbeddedEventBus;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-typed-events-'));
    bus = new EmbeddedEventBus({ path: path.join(dir, 'events.db'), pollIntervalMs: 20 });
    await bus.ensureTopics(['stamps']);
  });
  afterEach(async () => {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips a protobuf message, with its type in a header and the caller headers kept', async () => {
    await publishEvent(
      bus,
      'stamps',
      TimestampSchema,
      'doc-1',
      { seconds: 42n, nanos: 7 },
      { traceparent: 'tp' },
    );
    await publishEvent(bus, 'stamps', TimestampSchema, 'doc-1', create(TimestampSchema, { seconds: 43n }));
    const [first, second] = await bus.read('stamps');
    expect(first!.headers).toEqual({ traceparent: 'tp', [EVENT_TYPE_HEADER]: 'google.protobuf.Timestamp' });
    expect(decodeEvent(TimestampSchema, first!)).toMatchObject({ seconds: 42n, nanos: 7 });
    expect(decodeEvent(TimestampSchema, second!).seconds).toBe(43n);
  });

  it('throws a clear error for bytes that are not the event, and for another event type', async () => {
    const where = { topic: 'stamps', partition: 1, offset: '9', headers: {} };
    expect(() =>
      decodeEvent(TimestampSchema, { ...where, value: new Uint8Array([0xff, 0xff, 0xff]) }),
    ).toThrow(/event at stamps\[1\]@9 is not a valid google\.protobuf\.Timestamp \(3 bytes\)/);
    expect(() =>
      decodeEvent(TimestampSchema, {
        ...where,
        value: new Uint8Array(),
        headers: { [EVENT_TYPE_HEADER]: 'google.protobuf.Duration' },
      }),
    ).toThrow(EventDecodeError);
  });

  it('sends an undecodable event through the retries to the dead-letter topic', async () => {
    const decoded: bigint[] = [];
    await bus.subscribe({
      group: 'typed',
      topics: ['stamps'],
      maxAttempts: 2,
      retryBackoffMs: 1,
      handler: eventHandler(TimestampSchema, async (event) => {
        decoded.push(event.seconds);
      }),
    });
    await bus.publish('stamps', [{ key: 'doc-2', value: new Uint8Array([0xff, 0xff, 0xff]) }]);
    await publishEvent(bus, 'stamps', DurationSchema, 'doc-3', { seconds: 1n });
    await publishEvent(bus, 'stamps', TimestampSchema, 'doc-4', { seconds: 5n });
    await poll(() => decoded.length === 1, { what: 'the good event' });
    await poll(async () => (await bus.deadLetters('stamps')).length === 2, { what: 'two dead letters' });
    const letters = await bus.deadLetters('stamps');
    expect(decoded).toEqual([5n]);
    expect(letters.map((l) => l.message.key).sort()).toEqual(['doc-2', 'doc-3']);
    expect(letters.find((l) => l.message.key === 'doc-2')!.error).toMatch(/EventDecodeError: .*not a valid/);
    expect(letters.find((l) => l.message.key === 'doc-3')!.error).toMatch(/is a google\.protobuf\.Duration/);
  });
});
