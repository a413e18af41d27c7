import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { Kafka, logLevel, type Admin } from 'kafkajs';

import { startKafka } from './kafka.js';
import { kafkaBrokers, testBackendUrl } from './test-env.js';
import type { KafkaHandle } from './backend.js';

// Private servers start and restart inside tests; jest ignores testTimeout set per project.
jest.setTimeout(120_000);

const quiet = { logLevel: logLevel.NOTHING } as const;

async function produceThenConsume(
  brokers: string[],
  topic: string,
  groupId: string,
): Promise<{ key: string; value: string; header: string }> {
  const kafka = new Kafka({ clientId: 'infra-test', brokers, ...quiet });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: [
      {
        key: 'doc-1',
        value: 'hello kafka',
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      },
    ],
  });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    return await new Promise((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            resolve({
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
              header: message.headers?.traceparent?.toString() ?? '',
            });
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

async function topicsOf(admin: Admin): Promise<string[]> {
  return (await admin.listTopics()).filter((name) => !name.startsWith('__'));
}

describe('kafka started by the harness', () => {
  test('the shared broker takes a keyed message with headers and a consumer group reads it back', async () => {
    const brokers = kafkaBrokers(testBackendUrl('kafka'));
    const got = await produceThenConsume(brokers, `infra-test-${Date.now()}`, 'infra-test-group');
    expect(got).toEqual({
      key: 'doc-1',
      value: 'hello kafka',
      header: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
  });

  describe('a private broker', () => {
    let kafka: KafkaHandle | undefined;
    afterAll(async () => {
      await kafka?.dispose();
    });

    test('stops, refuses clients, and comes back on the same port with its topics', async () => {
      kafka = await startKafka();
      expect(kafka.url).toBe(`kafka://${kafka.brokers[0]}`);
      expect(kafka.version).toMatch(/^\d+\.\d+\.\d+$/);
      const topic = 'survives-restart';
      await produceThenConsume([...kafka.brokers], topic, 'g1');

      await kafka.stop();
      expect(kafka.running).toBe(false);
      const client = new Kafka({
        clientId: 'down',
        brokers: [...kafka.brokers],
        connectionTimeout: 500,
        retry: { retries: 0 },
        ...quiet,
      });
      const downAdmin = client.admin();
      await expect(downAdmin.connect()).rejects.toThrow();

      await kafka.restart();
      expect(kafka.running).toBe(true);
      const admin = new Kafka({ clientId: 'up', brokers: [...kafka.brokers], ...quiet }).admin();
      await admin.connect();
      try {
        expect(await topicsOf(admin)).toContain(topic);
      } finally {
        await admin.disconnect();
      }
    });
  });
});
