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
