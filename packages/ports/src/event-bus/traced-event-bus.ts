// Tracing for any event bus adapter: every publish runs in a PRODUCER span whose W3C trace context goes into
// the message headers, and every handler runs in a CONSUMER span that continues the producer's trace. One
// wrapper, so the Kafka and the embedded adapter carry traces identically.
import { getMeter, startConsumerSpan, startProducerSpan } from '@llmtwin/runtime';
import type { ObservableGauge } from '@opentelemetry/api';
import type { EventBus, OutgoingMessage, SubscribeOptions, Subscription } from './event-bus.port.js';

/** Metric: events published to a topic that a consumer group has not processed yet. */
export const METRIC_CONSUMER_LAG = 'llmtwin.consumer.lag';

interface Watched {
  bus: EventBus;
  group: string;
  topic: string;
}
const watched = new Set<Watched>();
let lagGauge: ObservableGauge | undefined;

/** One gauge for the process; each subscription adds its (group, topic) pairs until it stops. */
function watchLag(entries: Watched[]): () => void {
  if (!lagGauge) {
    lagGauge = getMeter().createObservableGauge(METRIC_CONSUMER_LAG, {
      description: 'Events published to a topic that the consumer group has not processed yet',
      unit: '{event}',
    });
    lagGauge.addCallback(async (result) => {
      for (const w of watched) {
        const lag = await w.bus.lag(w.group, w.topic).catch(() => undefined);
        if (lag !== undefined) {
          result.observe(lag, {
            'messaging.consumer.group.name': w.group,
            'messaging.destination.name': w.topic,
          });
        }
      }
    });
  }
  for (const e of entries) watched.add(e);
  return () => {
    for (const e of entries) watched.delete(e);
  };
}

export function tracedEventBus(bus: EventBus): EventBus {
  const system = bus.adapter === 'kafka' ? 'kafka' : `llmtwin-${bus.adapter}-log`;
  return {
    get adapter() {
      return bus.adapter;
    },
    ensureTopics: (topics) => bus.ensureTopics(topics),
    publish: (topic: string, messages: readonly OutgoingMessage[], signal?: AbortSignal) =>
      startProducerSpan(
        topic,
        (traceHeaders) =>
          bus.publish(
            topic,
            // The message's own trace headers (e.g. a replayed event's) win over the publisher's.
            messages.map((m) => ({ ...m, headers: { ...traceHeaders, ...m.headers } })),
            signal,
          ),
        { system, batchSize: messages.length, ...(messages.length === 1 ? { key: messages[0]!.key } : {}) },
      ),
    subscribe: async (options: SubscribeOptions): Promise<Subscription> => {
      const subscription = await bus.subscribe({
        ...options,
        handler: (message, signal) =>
          startConsumerSpan(message.topic, message.headers, () => options.handler(message, signal), {
            system,
            partition: message.partition,
            offset: message.offset,
            key: message.key,
            consumerGroup: options.group,
          }),
      });
      const unwatch = watchLag(options.topics.map((topic) => ({ bus, group: options.group, topic })));
      return {
        stop: async () => {
          unwatch();
          await subscription.stop();
        },
      };
    },
    read: (topic, options) => bus.read(topic, options),
    deadLetters: (topic, options) => bus.deadLetters(topic, options),
    replayDeadLetters: (topic, options) => bus.replayDeadLetters(topic, options),
    lag: (group, topic) => bus.lag(group, topic),
    ping: (signal) => bus.ping(signal),
    version: () => bus.version(),
    close: () => bus.close(),
  };
}
