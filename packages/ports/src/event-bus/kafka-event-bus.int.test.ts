import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { describeEventBusContract } from './event-bus.contract.js';
import { KafkaEventBus, type KafkaEventBusOptions } from './kafka-event-bus.js';

const url = process.env.LLMTWIN_TEST_KAFKA_URL;
if (!url) {
  throw new Error(
    'LLMTWIN_TEST_KAFKA_URL is not set: run this through the integration project (its global setup starts Kafka ' +
      'and sets it) or point it at a broker, e.g. LLMTWIN_TEST_KAFKA_URL=kafka://127.0.0.1:9092',
  );
}
const kafkaUrl = url;

// Short timings so that group changes and stops take well under a second or two on a local broker.
const options: Omit<KafkaEventBusOptions, 'brokers'> = {
  clientId: 'event-bus-contract',
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxWaitTimeMs: 200,
  readTimeoutMs: 30_000,
};

describeEventBusContract(
  'kafka',
  async () => {
    let bus = KafkaEventBus.fromUrl(kafkaUrl, options);
    return {
      bus,
      reopen: async () => {
        await bus.abandon();
        bus = KafkaEventBus.fromUrl(kafkaUrl, options);
        return bus;
      },
      cleanup: () => bus.close(),
    };
  },
  { timeoutMs: 90_000 },
);

describe('kafka: services starting together', () => {
  // Every service ensures the shared topics at start-up; started at once, they race to create the same ones.
  // A client that lost the race used to fail with "the topic does not exist" while the winner's partitions
  // were still getting leaders, and its service exited before listening.
  it('ensureTopics from six clients at once on the same new topics succeeds for all, and they can publish', async () => {
    const id = randomUUID().slice(0, 8);
    const topics = [`race.${id}.a.v1`, `race.${id}.b.v1`, `race.${id}.c.v1`];
    const buses = Array.from({ length: 6 }, (_, i) =>
      KafkaEventBus.fromUrl(kafkaUrl, { ...options, clientId: `race-${i}` }),
    );
    try {
      const results = await Promise.allSettled(buses.map((bus) => bus.ensureTopics(topics)));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      await Promise.all(
        buses.map((bus, i) =>
          bus.publish(topics[i % topics.length]!, [
            { key: `k${i}`, value: new TextEncoder().encode(`v${i}`) },
          ]),
        ),
      );
    } finally {
      await Promise.all(buses.map((bus) => bus.close()));
    }
  }, 90_000);
});
