// Continuous training over the embedded event log and warehouse: DatasetVersionCreated published on the
// registry topic reaches the trainer's consumer group, the policy decides, and a recording TrainingStarter (a
// fake that only records the starts asked of it) shows what would have started. The policy's clock is the
// test's, so "after the debounce" is a step of the test, not a wait.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { publishEvent } from '@llmtwin/ports';
import { createLogger } from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { openEmbeddedStorage, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { randomUUID } from 'node:crypto';
import { recordingStarter } from '../domain/recording-starter.fixture.js';
import {
  AUTO_RUNS_COLLECTION,
  TrainingPolicy,
  type AutoRunRecord,
  type Decision,
} from '../domain/training-policy.js';
import { startContinuousTraining, type ContinuousTraining } from './dataset-version.consumer.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

let storage: EmbeddedStorage;
const clock = { now: T0 };
const running: ContinuousTraining[] = [];

beforeEach(async () => {
  storage = await openEmbeddedStorage('llmtwin-auto-train-consumer-');
  clock.now = T0;
});
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  await storage.close();
});

async function start(rec = recordingStarter()) {
  const decisions: [string, Decision][] = [];
  const policy = new TrainingPolicy({
    runs: storage.warehouse.collection<AutoRunRecord>(AUTO_RUNS_COLLECTION),
    starter: rec.starter,
    settings: {
      authors: ['jane'],
      debounceMs: 5 * MIN,
      maxRunsPerDay: 2,
      maxTokens: 0,
      preset: 'cpu-tiny',
      maxSteps: 0,
    },
    clock: () => clock.now,
  });
  const ct = await startContinuousTraining({
    eventBus: storage.bus,
    policy,
    logger: createLogger('trainer', { level: 'warn' }),
    clock: () => clock.now,
    onDecision: (id, d) => decisions.push([id, d]),
  });
  running.push(ct);
  return { ct, decisions, ...rec };
}

function datasetVersion(authorId: string, kind = registryv1.DatasetKind.INSTRUCT) {
  return create(registryv1.DatasetVersionSchema, {
    id: `dsv_${authorId}_${randomUUID().slice(0, 8)}`,
    dataset: `${authorId}-instruct`,
    version: 1n,
    kind,
    authorId,
    splits: [{ name: 'train', examples: 20n }],
    stats: { examples: 20n, tokensPerExampleMean: 80 },
    createTime: timestampFromMs(clock.now),
  });
}

/** Publishes DatasetVersionCreated as the registry does (keyed by the dataset version id). */
const announce = (dv: registryv1.DatasetVersion) =>
  publishEvent(storage.bus, topics.registry, registryeventsv1.RegistryEventSchema, dv.id, {
    eventId: randomUUID(),
    eventTime: timestampFromMs(clock.now),
    event: { case: 'datasetVersionCreated', value: { datasetVersion: dv } },
  });

describe('continuous training consumer', () => {
  it('starts exactly one run after the debounce when the event is delivered twice; none for others', async () => {
    const { ct, decisions, calls } = await start();
    const jane = datasetVersion('jane');
    const bob = datasetVersion('bob');
    const janePreference = datasetVersion('jane', registryv1.DatasetKind.PREFERENCE);
    await announce(jane);
    await announce(jane); // at-least-once: the same event again
    await announce(bob);
    await announce(janePreference);
    await poll(() => decisions.length >= 4, { what: 'four decisions' });
    const byId = (id: string) => decisions.filter(([d]) => d === id).map(([, d]) => d.kind);
    expect(byId(jane.id)).toEqual(['pending', 'duplicate']);
    expect(byId(bob.id)).toEqual(['ignored']);
    expect(byId(janePreference.id)).toEqual(['ignored']);

    expect(await ct.runDue()).toEqual([]);
    expect(calls).toEqual([]);
    clock.now += 5 * MIN;
    expect(await ct.runDue()).toMatchObject([{ datasetVersionId: jane.id, state: 'started' }]);
    expect(await ct.runDue()).toEqual([]);
    expect(calls).toEqual([
      { request: { datasetVersionId: jane.id, preset: 'cpu-tiny' }, trigger: 'dataset-version' },
    ]);
  });

  it('re-arms a waiting version when it starts again, and its timer starts the run once', async () => {
    const first = await start();
    const jane = datasetVersion('jane');
    await announce(jane);
    await poll(() => first.decisions.length >= 1, { what: 'the decision' });
    await first.ct.stop();
    running.splice(running.indexOf(first.ct), 1);

    // Restarted after the debounce ran out: the timer armed from the records fires at once.
    clock.now += 10 * MIN;
    const second = await start();
    await poll(() => second.calls.length >= 1, { what: 'the start the re-armed timer makes' });
    expect(second.calls.map((c) => c.request.datasetVersionId)).toEqual([jane.id]);
    expect(first.calls).toEqual([]);
    const record = await storage.warehouse.collection<AutoRunRecord>(AUTO_RUNS_COLLECTION).get(jane.id);
    expect(record).toMatchObject({ state: 'started', jobId: 'job_1' });
  });
});
