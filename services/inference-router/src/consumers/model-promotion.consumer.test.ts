import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { publishEvent, type EventBus } from '@llmtwin/ports';
import { createEventBus } from '@llmtwin/ports/adapters';
import { poll } from '@llmtwin/testkit/poll';
import { pino } from 'pino';
import { subscribeModelPromotions } from './model-promotion.consumer.js';

const stageChanged = (
  name: string,
  version: bigint,
  stage: registryv1.Stage,
  previousStage: registryv1.Stage,
  at: number,
  extra: { tainted?: boolean; servingModelId?: string } = {},
) => ({
  eventId: `${name}-${version}-${at}`,
  eventTime: timestampFromMs(at),
  event: {
    case: 'modelStageChanged' as const,
    value: {
      modelVersion: { id: `mv_${name}_${version}`, name, version, stage, ...extra },
      previousStage,
      reviewer: 'ana',
    },
  },
});

describe('model promotions from the registry', () => {
  let dir: string;
  let bus: EventBus;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-promo-'));
    bus = createEventBus(`log:${path.join(dir, 'bus.db')}`);
    await bus.ensureTopics([topics.registry]);
  });
  afterEach(async () => {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a version promoted to production, ignores older events arriving late, and retires it when it leaves', async () => {
    const { PRODUCTION, CANDIDATE, ARCHIVED } = registryv1.Stage;
    const calls: string[] = [];
    const publish = (key: string, e: ReturnType<typeof stageChanged>) =>
      publishEvent(bus, topics.registry, registryeventsv1.RegistryEventSchema, key, e);
    // Already in the topic before the router starts: a new replica learns the current state by replay.
    await publish(
      'mv_twin_1',
      stageChanged('twin', 1n, PRODUCTION, CANDIDATE, 1_000, { servingModelId: 'twin-lora-1' }),
    );
    const sub = await subscribeModelPromotions({
      eventBus: bus,
      logger: pino({ level: 'silent' }),
      target: {
        serve: async (m, id) => void calls.push(`serve ${m} ${id}`),
        retire: async (m) => void calls.push(`retire ${m}`),
      },
    });
    await publish(
      'mv_twin_2',
      stageChanged('twin', 2n, PRODUCTION, CANDIDATE, 3_000, { servingModelId: 'twin-lora-2' }),
    );
    // v1 archived after v2 took over: not the version in service, nothing changes.
    await publish('mv_twin_1', stageChanged('twin', 1n, ARCHIVED, PRODUCTION, 4_000));
    // An event older than the one applied, arriving late: ignored.
    await publish('mv_twin_0', stageChanged('twin', 0n, PRODUCTION, CANDIDATE, 500));
    // A tainted version is never served.
    await publish('mv_other_1', stageChanged('other', 1n, PRODUCTION, CANDIDATE, 5_000, { tainted: true }));
    await publish('mv_twin_2', stageChanged('twin', 2n, ARCHIVED, PRODUCTION, 6_000));
    try {
      // On timeout, the error shows the calls made so far.
      await poll(() => [...calls], { what: 'four serve or retire calls', until: (c) => c.length >= 4 });
    } finally {
      await sub.stop();
    }
    expect(calls).toEqual([
      'serve twin twin-lora-1',
      'serve twin twin-lora-2',
      'retire other',
      'retire twin',
    ]);
  });
});
