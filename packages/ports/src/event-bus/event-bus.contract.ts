// The event-bus contract: every adapter runs this same suite (embedded in unit tests, Kafka in integration).
// Each test uses its own topics and groups, so a shared broker needs no cleaning between tests.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import { DLQ_HEADERS } from './event-bus-common.js';
import { type EventBus, type IncomingMessage, type Subscription, deadLetterTopic } from './event-bus.port.js';

export interface EventBusFixture {
  bus: EventBus;
  /**
   * Simulates a crash of `bus` (handlers abandoned, nothing more committed, no stop()) and opens a new bus on
   * the same backing store.
   */
  reopen?: () => Promise<EventBus>;
  /** Closes whichever bus is current and removes what the fixture made. */
  cleanup: () => Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (value: Uint8Array): string => decoder.decode(value);
const suffix = (): string => randomUUID().slice(0, 8);
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The suite's wait: 30 s, as a real broker may take a while to rebalance. */
const waitFor = (condition: () => boolean | Promise<boolean>, what: string): Promise<true> =>
  poll(condition, { what, timeoutMs: 30_000 });

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function describeEventBusContract(
  name: string,
  factory: () => Promise<EventBusFixture>,
  options: { timeoutMs?: number } = {},
): void {
  const timeout = options.timeoutMs ?? 60_000;

  describe(`EventBus contract: ${name}`, () => {
    let fixture: EventBusFixture;
    let bus: EventBus;
    let subscriptions: Subscription[];
    let topicsMade: string[];

    beforeEach(async () => {
      fixture = await factory();
      bus = fixture.bus;
      subscriptions = [];
      topicsMade = [];
    }, timeout);

    afterEach(async () => {
      await Promise.allSettled(subscriptions.map((s) => s.stop()));
      await fixture?.cleanup();
    }, timeout);

    async function newTopic(label: string): Promise<string> {
      const topic = `contract.${label}.${suffix()}`;
      await bus.ensureTopics([topic]);
      topicsMade.push(topic);
      return topic;
    }

    async function subscribe(
      on: EventBus,
      group: string,
      topic: string,
      handler: (message: IncomingMessage, signal: AbortSignal) => Promise<void>,
      extra: { maxAttempts?: number; retryBackoffMs?: number } = {},
    ): Promise<Subscription> {
      const subscription = await on.subscribe({ group, topics: [topic], handler, ...extra });
      subscriptions.push(subscription);
      return subscription;
    }

    it(
      'delivers published messages with key, value, headers and position',
      async () => {
        const topic = await newTopic('roundtrip');
        await bus.publish(topic, [
          { key: 'doc-1', value: bytes('one'), headers: { traceparent: TRACEPARENT, 'x-custom': 'yes' } },
          { key: 'doc-2', value: bytes('two') },
          { key: 'doc-1', value: new Uint8Array([0, 255, 7]) },
        ]);
        const got: IncomingMessage[] = [];
        const subscription = await subscribe(bus, `g-${suffix()}`, topic, async (m) => {
          got.push(m);
        });
        await waitFor(() => got.length === 3, '3 messages');
        await subscription.stop();

        const first = got.find((m) => text(m.value) === 'one');
        expect(first).toMatchObject({
          topic,
          key: 'doc-1',
          attempt: 1,
          headers: { traceparent: TRACEPARENT, 'x-custom': 'yes' },
        });
        for (const m of got) {
          expect(m.value).toBeInstanceOf(Uint8Array);
          expect(Number.isInteger(m.partition) && m.partition >= 0).toBe(true);
          expect(m.offset).toMatch(/^\d+$/);
          expect(Math.abs(m.timestamp - Date.now())).toBeLessThan(10 * 60_000);
        }
        const doc1 = got.filter((m) => m.key === 'doc-1');
        expect(doc1.map((m) => Array.from(m.value))).toEqual([Array.from(bytes('one')), [0, 255, 7]]);
        expect(got.find((m) => m.key === 'doc-2')?.headers).not.toHaveProperty('traceparent');
      },
      timeout,
    );

    it(
      'keeps per-key order across many keys and partitions',
      async () => {
        const topic = await newTopic('order');
        const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
        const perKey = 10;
        for (let round = 0; round < perKey; round += 2) {
          await bus.publish(
            topic,
            keys.flatMap((key) => [round, round + 1].map((seq) => ({ key, value: bytes(String(seq)) }))),
          );
        }
        const seen = new Map<string, number[]>();
        const partitionsOfKey = new Map<string, Set<number>>();
        let total = 0;
        await subscribe(bus, `g-${suffix()}`, topic, async (m) => {
          // Uneven handler times make partitions interleave differently from how they were published.
          await pause(Math.floor(Math.random() * 3));
          seen.set(m.key, [...(seen.get(m.key) ?? []), Number(text(m.value))]);
          partitionsOfKey.set(m.key, new Set([...(partitionsOfKey.get(m.key) ?? []), m.partition]));
          total++;
        });
        await waitFor(() => total === keys.length * perKey, `${keys.length * perKey} messages`);
        for (const key of keys) {
          expect(seen.get(key)).toEqual(Array.from({ length: perKey }, (_, i) => i));
          expect(partitionsOfKey.get(key)?.size).toBe(1);
        }
      },
      timeout,
    );

    it(
      'commits only after the handler: a failed attempt is delivered again, and succeeds once',
      async () => {
        const topic = await newTopic('commit');
        const group = `g-${suffix()}`;
        await bus.publish(
          topic,
          Array.from({ length: 6 }, (_, i) => ({ key: `k-${i}`, value: bytes(`m-${i}`) })),
        );
        const attempts = new Map<string, number[]>();
        const successes = new Map<string, number>();
        const subscription = await subscribe(
          bus,
          group,
          topic,
          async (m) => {
            const value = text(m.value);
            attempts.set(value, [...(attempts.get(value) ?? []), m.attempt]);
            if (value === 'm-2' && m.attempt === 1) throw new Error('transient failure');
            successes.set(value, (successes.get(value) ?? 0) + 1);
          },
          { maxAttempts: 3, retryBackoffMs: 10 },
        );
        await waitFor(() => successes.size === 6, 'all 6 processed');
        await subscription.stop();

        expect(attempts.get('m-2')).toEqual([1, 2]);
        expect([...successes.values()]).toEqual([1, 1, 1, 1, 1, 1]);
        expect(await bus.lag(group, topic)).toBe(0);
        expect(await bus.deadLetters(topic)).toEqual([]);

        // The group's position is past everything it processed: a new consumer sees only new messages.
        const later: string[] = [];
        await subscribe(bus, group, topic, async (m) => {
          later.push(text(m.value));
        });
        await bus.publish(topic, [{ key: 'k-0', value: bytes('marker') }]);
        await waitFor(() => later.includes('marker'), 'the marker');
        expect(later).toEqual(['marker']);
      },
      timeout,
    );

    it(
      'stop() drains in-flight handlers and a new consumer of the group continues where it stopped',
      async () => {
        const topic = await newTopic('resume');
        const group = `g-${suffix()}`;
        const count = 30;
        await bus.publish(
          topic,
          Array.from({ length: count }, (_, i) => ({ key: `k-${i % 5}`, value: bytes(String(i)) })),
        );
        const first: string[] = [];
        let inFlight = 0;
        const subscription = await subscribe(bus, group, topic, async (m) => {
          inFlight++;
          await pause(15);
          first.push(text(m.value));
          inFlight--;
        });
        await waitFor(() => first.length >= 5, '5 messages processed');
        await subscription.stop();
        expect(inFlight).toBe(0);
        const processedBeforeStop = first.length;
        expect(processedBeforeStop).toBeLessThan(count);

        const second: string[] = [];
        await subscribe(bus, group, topic, async (m) => {
          second.push(text(m.value));
        });
        await waitFor(() => first.length + second.length >= count, 'the rest of the messages');
        await pause(100);
        expect(first.length).toBe(processedBeforeStop);
        expect(new Set([...first, ...second]).size).toBe(count);
        // A graceful stop committed everything it processed: nothing is processed twice.
        expect(second.filter((v) => first.includes(v))).toEqual([]);
        expect(first.length + second.length).toBe(count);
      },
      timeout,
    );

    it(
      'delivers again, after a crash, what was being processed (at-least-once)',
      async () => {
        if (!fixture.reopen) throw new Error(`the ${name} fixture must provide reopen() for the crash test`);
        const topic = await newTopic('crash');
        const group = `g-${suffix()}`;
        // One key, so one partition: the committed position is exactly "after the last finished message".
        await bus.publish(
          topic,
          Array.from({ length: 8 }, (_, i) => ({ key: 'one-key', value: bytes(`v${i}`) })),
        );
        const before: string[] = [];
        await subscribe(bus, group, topic, async (m, signal) => {
          before.push(text(m.value));
          if (text(m.value) === 'v3') {
            await new Promise<void>((_, reject) => {
              signal.addEventListener('abort', () => reject(new Error('abandoned by the crash')), {
                once: true,
              });
            });
          }
        });
        await waitFor(() => before.includes('v3'), 'v3 in flight');

        const reopened = await fixture.reopen();
        bus = reopened;
        const after: string[] = [];
        await subscribe(reopened, group, topic, async (m) => {
          after.push(text(m.value));
        });
        await waitFor(() => after.includes('v7'), 'v7 after the restart');
        expect(before).toEqual(['v0', 'v1', 'v2', 'v3']);
        expect(after).toEqual(['v3', 'v4', 'v5', 'v6', 'v7']);
      },
      timeout,
    );

    it(
      'dead-letters a poison message after maxAttempts with the error, and the group moves on',
      async () => {
        const topic = await newTopic('poison');
        const group = `g-${suffix()}`;
        await bus.publish(topic, [
          { key: 'a', value: bytes('ok-1') },
          { key: 'b', value: bytes('poison'), headers: { traceparent: TRACEPARENT } },
          { key: 'b', value: bytes('ok-2') },
          { key: 'a', value: bytes('ok-3') },
        ]);
        const events: string[] = [];
        let poison: IncomingMessage | undefined;
        await subscribe(
          bus,
          group,
          topic,
          async (m) => {
            const value = text(m.value);
            events.push(`${value}#${m.attempt}`);
            if (value === 'poison') {
              poison = m;
              throw new Error('cannot parse poison');
            }
          },
          { maxAttempts: 3, retryBackoffMs: 5 },
        );
        await waitFor(
          () => ['ok-1#1', 'ok-2#1', 'ok-3#1'].every((e) => events.includes(e)),
          'the good messages',
        );
        expect(events.filter((e) => e.startsWith('poison'))).toEqual(['poison#1', 'poison#2', 'poison#3']);
        // Same key: ok-2 waited until the poison message was given up on.
        expect(events.indexOf('ok-2#1')).toBeGreaterThan(events.indexOf('poison#3'));
        await waitFor(async () => (await bus.lag(group, topic)) === 0, 'lag 0');

        const letters = await bus.deadLetters(topic);
        expect(letters).toHaveLength(1);
        const [letter] = letters;
        expect(letter).toMatchObject({
          originalTopic: topic,
          originalPartition: poison!.partition,
          originalOffset: poison!.offset,
          group,
        });
        expect(letter!.error).toContain('cannot parse poison');
        expect(letter!.message.key).toBe('b');
        expect(text(letter!.message.value)).toBe('poison');
        expect(letter!.message.headers).toMatchObject({
          traceparent: TRACEPARENT,
          [DLQ_HEADERS.originalTopic]: topic,
          [DLQ_HEADERS.originalPartition]: String(poison!.partition),
          [DLQ_HEADERS.originalOffset]: poison!.offset,
          [DLQ_HEADERS.group]: group,
        });
        expect(letter!.message.headers[DLQ_HEADERS.error]).toContain('cannot parse poison');
        expect((await bus.read(deadLetterTopic(topic))).map((m) => text(m.value))).toEqual(['poison']);
      },
      timeout,
    );

    it(
      'replayDeadLetters() puts dead letters back on the topic, once',
      async () => {
        const topic = await newTopic('replay');
        const group = `g-${suffix()}`;
        await bus.publish(topic, [
          { key: 'k', value: bytes('poison'), headers: { traceparent: TRACEPARENT } },
          { key: 'k', value: bytes('after') },
        ]);
        let failPoison = true;
        const delivered: IncomingMessage[] = [];
        await subscribe(
          bus,
          group,
          topic,
          async (m) => {
            if (text(m.value) === 'poison' && failPoison) throw new Error('not yet');
            delivered.push(m);
          },
          { maxAttempts: 2, retryBackoffMs: 5 },
        );
        await waitFor(async () => (await bus.deadLetters(topic)).length === 1, 'the dead letter');
        await waitFor(() => delivered.some((m) => text(m.value) === 'after'), 'the message after it');

        failPoison = false;
        expect(await bus.replayDeadLetters(topic)).toBe(1);
        await waitFor(() => delivered.some((m) => text(m.value) === 'poison'), 'the replayed message');
        expect(await bus.replayDeadLetters(topic)).toBe(0);

        const replayed = delivered.find((m) => text(m.value) === 'poison')!;
        expect(replayed.key).toBe('k');
        expect(replayed.headers.traceparent).toBe(TRACEPARENT);
        expect(Object.keys(replayed.headers).filter((h) => h.startsWith('x-dlq-'))).toEqual([]);
        expect((await bus.read(topic)).map((m) => text(m.value))).toEqual(['poison', 'after', 'poison']);
        // The dead letter stays in the DLQ as a record of what happened.
        expect(await bus.deadLetters(topic)).toHaveLength(1);
      },
      timeout,
    );

    it(
      'reports lag: published minus committed',
      async () => {
        const topic = await newTopic('lag');
        const group = `g-${suffix()}`;
        await bus.publish(
          topic,
          Array.from({ length: 5 }, (_, i) => ({ key: `k-${i}`, value: bytes(String(i)) })),
        );
        expect(await bus.lag(group, topic)).toBe(5);
        let processed = 0;
        const subscription = await subscribe(bus, group, topic, async () => {
          processed++;
        });
        await waitFor(() => processed === 5, '5 processed');
        await waitFor(async () => (await bus.lag(group, topic)) === 0, 'lag 0');
        await subscription.stop();
        await bus.publish(topic, [
          { key: 'k-1', value: bytes('x') },
          { key: 'k-2', value: bytes('y') },
        ]);
        expect(await bus.lag(group, topic)).toBe(2);
        expect(await bus.lag(`other-${suffix()}`, topic)).toBe(7);
      },
      timeout,
    );

    it(
      'read() returns a topic from the start without a group, and terminates',
      async () => {
        const topic = await newTopic('read');
        const empty = await newTopic('read-empty');
        const values = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
        await bus.publish(
          topic,
          values.map((value, i) => ({
            key: ['a', 'b', 'c'][i % 3]!,
            value: bytes(value),
            headers: { n: String(i) },
          })),
        );
        const all = await bus.read(topic);
        expect(all.map((m) => text(m.value)).sort()).toEqual(values);
        expect(all.filter((m) => m.key === 'a').map((m) => text(m.value))).toEqual(['r0', 'r3']);
        expect(all.find((m) => text(m.value) === 'r4')?.headers).toEqual({ n: '4' });
        expect(await bus.read(topic, { limit: 2 })).toHaveLength(2);
        expect(await bus.read(empty)).toEqual([]);
        // Nothing was consumed by a group along the way.
        expect(await bus.lag(`g-${suffix()}`, topic)).toBe(6);
        await expect(bus.read(`contract.missing.${suffix()}`)).rejects.toMatchObject({ kind: 'not-found' });
      },
      timeout,
    );

    it(
      'gives every message to each of two groups',
      async () => {
        const topic = await newTopic('groups');
        await bus.publish(
          topic,
          Array.from({ length: 10 }, (_, i) => ({ key: `k-${i % 4}`, value: bytes(String(i)) })),
        );
        const a: string[] = [];
        const b: string[] = [];
        await subscribe(bus, `ga-${suffix()}`, topic, async (m) => {
          a.push(text(m.value));
        });
        await subscribe(bus, `gb-${suffix()}`, topic, async (m) => {
          b.push(text(m.value));
        });
        await waitFor(() => a.length === 10 && b.length === 10, 'both groups to have all 10');
        expect(a.sort()).toEqual(b.sort());
        expect(new Set(a).size).toBe(10);
      },
      timeout,
    );

    it(
      'ensureTopics() is idempotent; publishing to a topic that was never created fails',
      async () => {
        const t1 = `contract.ensure.${suffix()}`;
        const t2 = `contract.ensure.${suffix()}`;
        await bus.ensureTopics([t1, t2]);
        await bus.ensureTopics([t1, t2]);
        await bus.ensureTopics([t1]);
        await bus.publish(t1, [{ key: 'k', value: bytes('hello') }]);
        expect((await bus.read(t1)).map((m) => text(m.value))).toEqual(['hello']);
        await expect(
          bus.publish(`contract.never.${suffix()}`, [{ key: 'k', value: bytes('x') }]),
        ).rejects.toMatchObject({ kind: 'failed-precondition' });
        await expect(bus.ensureTopics(['bad topic!'])).rejects.toMatchObject({ kind: 'invalid-argument' });
        await expect(bus.publish(t1, [{ key: '', value: bytes('x') }])).rejects.toMatchObject({
          kind: 'invalid-argument',
        });
      },
      timeout,
    );

    it(
      'answers ping() and version()',
      async () => {
        await expect(bus.ping()).resolves.toBeUndefined();
        expect(await bus.version()).toMatch(/\S/);
        expect(['embedded', 'kafka']).toContain(bus.adapter);
      },
      timeout,
    );
  });
}
