// Continuous training as the trainer module wires it: the module's consumer, its policy and the real
// TrainingJobs behind the TrainingStarter port, on the embedded event log and warehouse. Training is not set up
// here (no job runner, no evaluator), so the start the policy makes is refused by TrainingJobs itself, and the
// refusal is what the decision records: proof that the event reached StartTraining's code path once.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { InProcessDirectory } from '@llmtwin/host';
import type { ArtifactStore } from '@llmtwin/ports';
import { publishEvent } from '@llmtwin/ports';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { poll } from '@llmtwin/testkit/poll';
import { openEmbeddedStorage, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pino } from 'pino';
import { AUTO_RUNS_COLLECTION, type AutoRunRecord } from './domain/training-policy.js';
import { createTrainerModule, type TrainerModule } from './module.js';

let storage: EmbeddedStorage;
let artifacts: ArtifactStore;
let module: TrainerModule;

beforeEach(async () => {
  storage = await openEmbeddedStorage('llmtwin-continuous-training-');
  artifacts = await createArtifactStore(`file:${path.join(storage.root, 'artifacts')}`);
  module = await createTrainerModule({
    warehouse: storage.warehouse,
    eventBus: storage.bus,
    logger: pino({ level: 'silent' }),
    directory: new InProcessDirectory(),
    upstreams: {},
    artifacts,
    autoTrain: {
      authors: ['jane'],
      debounceMs: 0,
      maxRunsPerDay: 2,
      maxTokens: 0,
      preset: 'cpu-tiny',
      maxSteps: 3,
    },
  });
  await module.start?.();
});
afterEach(async () => {
  await module.stop?.();
  await artifacts.close();
  await storage.close();
});

const announce = (authorId: string) => {
  const dv = create(registryv1.DatasetVersionSchema, {
    id: `dsv_${authorId}_${randomUUID().slice(0, 8)}`,
    dataset: `${authorId}-instruct`,
    version: 1n,
    kind: registryv1.DatasetKind.INSTRUCT,
    authorId,
    splits: [{ name: 'train', examples: 10n }],
    createTime: timestampNow(),
  });
  return publishEvent(storage.bus, topics.registry, registryeventsv1.RegistryEventSchema, dv.id, {
    eventId: randomUUID(),
    eventTime: timestampNow(),
    event: { case: 'datasetVersionCreated', value: { datasetVersion: dv } },
  }).then(() => dv);
};

describe('continuous training in the trainer module', () => {
  it('hands a new version of an opted-in author to TrainingJobs.start, and records its answer', async () => {
    const bob = await announce('bob');
    const jane = await announce('jane');
    const runs = storage.warehouse.collection<AutoRunRecord>(AUTO_RUNS_COLLECTION);
    const decided = await poll(async () => runs.get(jane.id), {
      what: "the decision on jane's version to leave starting",
      until: (r) => r !== undefined && r.state !== 'pending' && r.state !== 'starting',
    });
    expect(decided).toMatchObject({ state: 'failed', attempts: 1 });
    expect(decided!.reason).toContain('the run could not start: no evaluator is configured here');
    expect(await runs.get(bob.id)).toBeUndefined();
    expect(await runs.count()).toBe(1);
  });
});
