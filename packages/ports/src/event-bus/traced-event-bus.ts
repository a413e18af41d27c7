// Tracing for any event bus adapter: every publish runs in a PRODUCER span whose W3C trace context goes into
// the message headers, and every handler runs in a CONSUMER span that continues the producer's trace. One
// wrapper, so the Kafka and the embedded adapter carry traces identically.
import { startConsumerSpan, startProducerSpan } from '@llmtwin/runtime';
import type { EventBus, OutgoingMessage, SubscribeOptions, Subscription } from './event-bus.port.js';

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
    subscribe: (options: SubscribeOptions): Promise<Subscription> =>
      bus.subscribe({
        ...options,
        handler: (message, signal) =>
          startConsumerSpan(message.topic, message.headers, () => options.handler(message, signal), {
            system,
            partition: message.partition,
            offset: message.offset,
            key: message.key,
            consumerGroup: options.group,
          }),
      }),
    read: (topic, options) => bus.read(topic, options),
    deadLetters: (topic, options) => bus.deadLetters(topic, options),
    replayDeadLetters: (topic, options) => bus.replayDeadLetters(topic, options),
    lag: (group, topic) => bus.lag(group, topic),
    ping: (signal) => bus.ping(signal),
    version: () => bus.version(),
    close: () => bus.close(),
  };
}
