// Child process for the SIGKILL tests: consumes a topic with a slow handler and appends each delivery to a
// record file, before ("received") and after ("processed") the slow part, until it is killed.
import { appendFileSync } from 'node:fs';
import { createEventBus } from './create-event-bus.js';

const { EB_URL, EB_TOPIC, EB_GROUP, EB_RECORD, EB_DELAY_MS } = process.env;
if (!EB_URL || !EB_TOPIC || !EB_GROUP || !EB_RECORD) {
  throw new Error('set EB_URL, EB_TOPIC, EB_GROUP and EB_RECORD');
}
const record = EB_RECORD;
const delayMs = Number(EB_DELAY_MS ?? 400);

const bus = createEventBus(EB_URL, {
  // A short session lets the group notice the killed member soon; 6 s is the broker's default minimum.
  kafka: {
    clientId: 'sigkill-child',
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 1_000,
    maxWaitTimeMs: 200,
  },
  embedded: { pollIntervalMs: 50 },
});
await bus.subscribe({
  group: EB_GROUP,
  topics: [EB_TOPIC],
  handler: async (message) => {
    const id = `${message.partition} ${message.offset} ${new TextDecoder().decode(message.value)}`;
    appendFileSync(record, `received ${id}\n`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    appendFileSync(record, `processed ${id}\n`);
  },
});
appendFileSync(record, 'ready\n');
// Nothing else keeps the process alive once the consumer idles; it runs until the test kills it.
setInterval(() => undefined, 60_000);
