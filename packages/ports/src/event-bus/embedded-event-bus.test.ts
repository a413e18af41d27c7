import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import { createEventBus } from './create-event-bus.js';
import { EmbeddedEventBus, parseLogUrl, partitionForKey } from './embedded-event-bus.js';
import { describeEventBusContract } from './event-bus.contract.js';
import type { IncomingMessage } from './event-bus.port.js';
import { KafkaEventBus, parseKafkaUrl } from './kafka-event-bus.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array): string => new TextDecoder().decode(value);

describeEventBusContract(
  'embedded',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-event-bus-'));
    const file = path.join(dir, 'events.db');
    const open = (): EmbeddedEventBus => new EmbeddedEventBus({ path: file, pollIntervalMs: 50 });
    let bus = open();
    return {
      bus,
      reopen: async () => {
        await bus.abandon();
        bus = open();
        return bus;
      },
      cleanup: async () => {
        await bus.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { timeoutMs: 20_000 },
);

describe('EmbeddedEventBus', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-event-bus-'));
    file = path.join(dir, 'nested', 'events.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('survives a restart: a new bus on the same file resumes from the committed offsets', async () => {
    const first = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    await first.ensureTopics(['docs']);
    await first.publish(
      'docs',
      [1, 2, 3, 4].map((i) => ({ key: 'd', value: bytes(`m${i}`) })),
    );
    const seen: string[] = [];
    const subscription = await first.subscribe({
      group: 'svc',
      topics: ['docs'],
      handler: async (m) => {
        seen.push(text(m.value));
        if (seen.length === 2) void subscription.stop();
      },
    });
    await poll(() => seen.length >= 2, { what: 'two messages' });
    await first.close();
    expect(seen).toEqual(['m1', 'm2']);

    const second = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    expect(await second.lag('svc', 'docs')).toBe(2);
    const rest: string[] = [];
    await second.subscribe({
      group: 'svc',
      topics: ['docs'],
      handler: async (m) => void rest.push(text(m.value)),
    });
    await poll(() => rest.length === 2, { what: 'the other two' });
    expect(rest).toEqual(['m3', 'm4']);
    expect((await second.read('docs')).map((m) => m.offset)).toEqual(['0', '1', '2', '3']);
    await second.close();
  });

  it('sees writes from another bus on the same file by polling, and wakes at once within one bus', async () => {
    const consumerSide = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    const producerSide = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    await producerSide.ensureTopics(['t']);
    const got: IncomingMessage[] = [];
    await consumerSide.subscribe({ group: 'g', topics: ['t'], handler: async (m) => void got.push(m) });
    await producerSide.publish('t', [{ key: 'k', value: bytes('hi'), headers: { a: 'b' } }]);
    await poll(() => got.length === 1, { what: 'the message' });
    expect(got[0]).toMatchObject({ topic: 't', key: 'k', headers: { a: 'b' }, attempt: 1 });
    await producerSide.close();
    await consumerSide.close();
  });

  it('gives a partition to one consumer of a group at a time', async () => {
    const a = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    const b = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    await a.ensureTopics(['shared']);
    const byA: string[] = [];
    const byB: string[] = [];
    await a.subscribe({ group: 'g', topics: ['shared'], handler: async (m) => void byA.push(text(m.value)) });
    await b.subscribe({ group: 'g', topics: ['shared'], handler: async (m) => void byB.push(text(m.value)) });
    const values = Array.from({ length: 40 }, (_, i) => String(i));
    await a.publish(
      'shared',
      values.map((v, i) => ({ key: `k${i}`, value: bytes(v) })),
    );
    await poll(() => byA.length + byB.length >= 40, { what: 'all 40' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...byA, ...byB].sort()).toEqual([...values].sort());
    // Both were live the whole time, yet no message went to both.
    expect(byA.length + byB.length).toBe(40);
    // Once a's claims are released, b takes its partitions over.
    await a.close();
    const c = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    await c.publish(
      'shared',
      values.map((v, i) => ({ key: `k${i}`, value: bytes(`again-${v}`) })),
    );
    await poll(() => byB.filter((v) => v.startsWith('again-')).length === 40, {
      what: 'b to take every partition',
    });
    await b.close();
    await c.close();
  });

  it("starts a new group at the end with from: 'latest', and at the start by default", async () => {
    const bus = new EmbeddedEventBus({ path: file, pollIntervalMs: 20 });
    await bus.ensureTopics(['t']);
    await bus.publish('t', [{ key: 'k', value: bytes('old') }]);
    const latest: string[] = [];
    const earliest: string[] = [];
    await bus.subscribe({
      group: 'l',
      topics: ['t'],
      from: 'latest',
      handler: async (m) => void latest.push(text(m.value)),
    });
    await bus.subscribe({
      group: 'e',
      topics: ['t'],
      handler: async (m) => void earliest.push(text(m.value)),
    });
    await bus.publish('t', [{ key: 'k', value: bytes('new') }]);
    await poll(() => latest.length === 1 && earliest.length === 2, { what: 'both groups' });
    expect(latest).toEqual(['new']);
    expect(earliest).toEqual(['old', 'new']);
    await bus.close();
  });

  it('rejects a file it cannot open with an unavailable error', () => {
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    expect(() => new EmbeddedEventBus({ path: path.join(blocker, 'events.db') })).toThrow(
      expect.objectContaining({ kind: 'unavailable' }),
    );
  });

  it('hashes keys to partitions stably', () => {
    expect(partitionForKey('doc-1', 3)).toBe(partitionForKey('doc-1', 3));
    const spread = new Set(Array.from({ length: 50 }, (_, i) => partitionForKey(`doc-${i}`, 3)));
    expect(spread).toEqual(new Set([0, 1, 2]));
  });
});

describe('event bus URLs', () => {
  it('parses log: and kafka:// URLs', () => {
    expect(parseLogUrl('log:./data/events.db')).toBe('./data/events.db');
    expect(parseLogUrl('log:///var/lib/llmtwin/events.db')).toBe('/var/lib/llmtwin/events.db');
    expect(parseKafkaUrl('kafka://127.0.0.1:9092')).toEqual(['127.0.0.1:9092']);
    expect(parseKafkaUrl('kafka://a:9092,b.example:19092/')).toEqual(['a:9092', 'b.example:19092']);
    expect(parseKafkaUrl('kafka://[::1]:9092')).toEqual(['[::1]:9092']);
    for (const bad of ['kafka://', 'kafka://host', 'kafka://host:0', 'kafka://h:1,', 'log:']) {
      expect(() => (bad.startsWith('log:') ? parseLogUrl(bad) : parseKafkaUrl(bad))).toThrow(
        expect.objectContaining({ kind: 'invalid-argument' }),
      );
    }
  });

  it('createEventBus picks the adapter by scheme and refuses anything else, naming the accepted forms', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-event-bus-'));
    try {
      const embedded = createEventBus(`log:${path.join(dir, 'e.db')}`);
      expect(embedded).toBeInstanceOf(EmbeddedEventBus);
      await embedded.close();
      const kafka = createEventBus('kafka://127.0.0.1:1');
      expect(kafka).toBeInstanceOf(KafkaEventBus);
      await kafka.close();
      for (const bad of ['memory://', 'http://localhost:9092', '', 'events.db']) {
        expect(() => createEventBus(bad)).toThrow(/kafka:\/\/host:port.*log:<path to \.db file>/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
