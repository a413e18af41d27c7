// The embedded bus with `concurrency` > 1: the whole contract suite again (per-key order, commit after the
// handler, retries and dead letters, crash re-delivery), then what only a concurrent consumer can get wrong.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import { EmbeddedEventBus } from './embedded-event-bus.js';
import { describeEventBusContract } from './event-bus.contract.js';
import type { EventBus, IncomingMessage } from './event-bus.port.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array): string => new TextDecoder().decode(value);
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The bus, with every subscription that names no concurrency given `concurrency`. */
const withConcurrency = (bus: EventBus, concurrency: number): EventBus => ({
  adapter: bus.adapter,
  ensureTopics: (topics) => bus.ensureTopics(topics),
  publish: (topic, messages, signal) => bus.publish(topic, messages, signal),
  subscribe: (options) => bus.subscribe({ concurrency, ...options }),
  read: (topic, options) => bus.read(topic, options),
  deadLetters: (topic, options) => bus.deadLetters(topic, options),
  replayDeadLetters: (topic, options) => bus.replayDeadLetters(topic, options),
  lag: (group, topic) => bus.lag(group, topic),
  ping: (signal) => bus.ping(signal),
  version: () => bus.version(),
  close: () => bus.close(),
});

describeEventBusContract(
  'embedded, 4 messages at once per partition',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-event-bus-'));
    const file = path.join(dir, 'events.db');
    const open = (): EmbeddedEventBus => new EmbeddedEventBus({ path: file, pollIntervalMs: 50 });
    let bus = open();
    return {
      bus: withConcurrency(bus, 4),
      reopen: async () => {
        await bus.abandon();
        bus = open();
        return withConcurrency(bus, 4);
      },
      cleanup: async () => {
        await bus.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { timeoutMs: 20_000 },
);

describe('EmbeddedEventBus with concurrency', () => {
  let dir: string;
  let file: string;
  const open = (): EmbeddedEventBus =>
    new EmbeddedEventBus({ path: file, partitions: 1, pollIntervalMs: 20 });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-event-bus-'));
    file = path.join(dir, 'events.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs different keys side by side, each key in order, never more than `concurrency` at once', async () => {
    const bus = open();
    await bus.ensureTopics(['t']);
    // Keys in pairs (a a b b c c …), so that the messages fetched together often share a key.
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const keyOf = (i: number): string => keys[Math.floor(i / 2) % keys.length]!;
    await bus.publish(
      't',
      Array.from({ length: 40 }, (_, i) => ({ key: keyOf(i), value: bytes(String(i)) })),
    );
    const running = new Set<string>();
    let most = 0;
    const sameKeyOverlaps: string[] = [];
    const byKey = new Map<string, number[]>();
    let done = 0;
    await bus.subscribe({
      group: 'g',
      topics: ['t'],
      concurrency: 3,
      handler: async (m) => {
        if (running.has(m.key)) sameKeyOverlaps.push(m.key);
        running.add(m.key);
        most = Math.max(most, running.size);
        await pause(1 + ((Number(text(m.value)) * 7) % 11));
        byKey.set(m.key, [...(byKey.get(m.key) ?? []), Number(text(m.value))]);
        running.delete(m.key);
        done++;
      },
    });
    await poll(() => done === 40, { what: 'all 40 handled' });
    expect(sameKeyOverlaps).toEqual([]);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(3);
    for (const k of keys) {
      expect(byKey.get(k)).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => keyOf(i) === k));
    }
    await poll(async () => (await bus.lag('g', 't')) === 0, { what: 'everything committed' });
    await bus.close();
  });

  it('commits only past the unbroken run of finished messages: a crash re-delivers from the oldest unfinished one', async () => {
    const bus = open();
    await bus.ensureTopics(['t']);
    await bus.publish('t', [
      { key: 'a', value: bytes('a1') },
      { key: 'b', value: bytes('b1') },
      { key: 'e', value: bytes('e1') },
      { key: 'c', value: bytes('c1') },
    ]);
    const finished: string[] = [];
    await bus.subscribe({
      group: 'g',
      topics: ['t'],
      concurrency: 4,
      maxAttempts: 1,
      handler: async (m, signal) => {
        const v = text(m.value);
        if (v === 'a1') {
          // Stuck until the crash.
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('gone'))));
        }
        if (v === 'e1') throw new Error('e1 is broken');
        finished.push(v);
      },
    });
    await poll(async () => finished.length === 2 && (await bus.deadLetters('t')).length === 1, {
      what: 'b1 and c1 handled, e1 dead-lettered',
    });
    expect(finished.sort()).toEqual(['b1', 'c1']);
    // a1 is still running, so the group's position has not moved past it, not even for e1's dead letter.
    expect(await bus.lag('g', 't')).toBe(4);
    await bus.abandon();

    const again = open();
    const seen: string[] = [];
    await again.subscribe({
      group: 'g',
      topics: ['t'],
      maxAttempts: 1,
      handler: async (m) => {
        seen.push(text(m.value));
        if (text(m.value) === 'e1') throw new Error('e1 is broken');
      },
    });
    await poll(async () => (await again.lag('g', 't')) === 0, { what: 'the re-delivery' });
    expect(seen).toEqual(['a1', 'b1', 'e1', 'c1']);
    // At least once: e1 was dead-lettered by both consumers.
    expect((await again.deadLetters('t')).map((d) => text(d.message.value))).toEqual(['e1', 'e1']);
    await again.close();
  });

  it('stop() lets running handlers finish and commits them; a message queued behind its key waits for the next consumer', async () => {
    const bus = open();
    await bus.ensureTopics(['t']);
    await bus.publish('t', [
      { key: 'a', value: bytes('a1') },
      { key: 'b', value: bytes('b1') },
      { key: 'a', value: bytes('a2') },
    ]);
    const started: string[] = [];
    const finished: string[] = [];
    const subscription = await bus.subscribe({
      group: 'g',
      topics: ['t'],
      concurrency: 4,
      handler: async (m) => {
        started.push(text(m.value));
        await pause(100);
        finished.push(text(m.value));
      },
    });
    await poll(() => started.length === 2, { what: 'a1 and b1 to start' });
    await subscription.stop();
    expect(started.sort()).toEqual(['a1', 'b1']);
    expect(finished.sort()).toEqual(['a1', 'b1']);
    expect(await bus.lag('g', 't')).toBe(1);

    const rest: string[] = [];
    await bus.subscribe({ group: 'g', topics: ['t'], handler: async (m) => void rest.push(text(m.value)) });
    await poll(() => rest.length === 1, { what: 'a2' });
    expect(rest).toEqual(['a2']);
    await bus.close();
  });

  it('refuses a concurrency that is not a positive integer', async () => {
    const bus = open();
    for (const concurrency of [0, 1.5, -1]) {
      await expect(
        bus.subscribe({ group: 'g', topics: ['t'], concurrency, handler: async (_m: IncomingMessage) => {} }),
      ).rejects.toMatchObject({ kind: 'invalid-argument' });
    }
    await bus.close();
  });
});
