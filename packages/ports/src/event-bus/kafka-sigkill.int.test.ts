import { describe, it } from '@jest/globals';
import { KafkaEventBus } from './kafka-event-bus.js';
import { runSigkillScenario } from './sigkill-scenario.js';

const url = process.env.LLMTWIN_TEST_KAFKA_URL;
if (!url) {
  throw new Error(
    'LLMTWIN_TEST_KAFKA_URL is not set: run this through the integration project (its global setup starts Kafka ' +
      'and sets it) or point it at a broker, e.g. LLMTWIN_TEST_KAFKA_URL=kafka://127.0.0.1:9092',
  );
}
const kafkaUrl = url;

describe('Kafka event bus: a consumer killed with SIGKILL', () => {
  it('loses nothing, and the next consumer of the group gets again what was not committed', async () => {
    const bus = KafkaEventBus.fromUrl(kafkaUrl, {
      clientId: 'sigkill-test',
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
      maxWaitTimeMs: 200,
    });
    try {
      // The new member waits out the killed one's 6 s session before the group rebalances.
      await runSigkillScenario({ url: kafkaUrl, bus, takeoverTimeoutMs: 45_000 });
    } finally {
      await bus.close();
    }
  }, 90_000);
});
