// Each subscribed consumer group's lag is an OpenTelemetry gauge (llmtwin.consumer.lag), read from the bus
// whenever metrics are collected.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEventBus } from './create-event-bus.js';
import type { EventBus } from './event-bus.port.js';
import { METRIC_CONSUMER_LAG, tracedEventBus } from './traced-event-bus.js';

class TestMetricReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const reader = new TestMetricReader();
let dir: string;
let bus: EventBus;

beforeAll(async () => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  dir = await mkdtemp(path.join(tmpdir(), 'lag-metric-'));
  bus = tracedEventBus(createEventBus(`log:${path.join(dir, 'events.db')}`));
});
afterAll(async () => {
  await bus.close();
  metrics.disable();
  await rm(dir, { recursive: true, force: true });
});

async function lagNow(topic: string, group: string): Promise<number | undefined> {
  const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
  const metric = resourceMetrics.scopeMetrics
    .flatMap((m) => m.metrics)
    .find((m) => m.descriptor.name === METRIC_CONSUMER_LAG);
  const point = metric?.dataPoints.find(
    (p) =>
      p.attributes['messaging.destination.name'] === topic &&
      p.attributes['messaging.consumer.group.name'] === group,
  );
  return point?.value as number | undefined;
}

describe('consumer lag metric', () => {
  it('reports what a group has not processed yet, falling to 0 once it has', async () => {
    const topic = 'llmtwin.lag-test.v1';
    await bus.ensureTopics([topic]);
    await bus.publish(
      topic,
      [1, 2, 3].map((i) => ({ key: `doc-${i}`, value: new Uint8Array([i]) })),
    );
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sub = await bus.subscribe({ group: 'lag-test', topics: [topic], handler: () => gate });
    expect(await lagNow(topic, 'lag-test')).toBe(3);
    release();
    const lag = await poll(() => lagNow(topic, 'lag-test'), {
      what: 'the lag gauge to fall to 0',
      until: (n) => n === 0,
    });
    expect(lag).toBe(0);
    await sub.stop();
  });
});
