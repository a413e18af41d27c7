// TrainerService through the module's handlers (in-memory Connect transport) on a real embedded warehouse
// and artifact folder; the snapshot and the registry are the test doubles of their ports (test/), since
// clean and the registry are other services (the e2e test in cli/ runs them for real).
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Code, ConnectError, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { registryv1, trainerv1 } from '@llmtwin/contracts';
import { InProcessDirectory } from '@llmtwin/host';
import type { ArtifactStore, EventBus, Warehouse } from '@llmtwin/ports';
import { createArtifactStore, createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { errorInterceptor, notFound } from '@llmtwin/runtime';
import { pino } from 'pino';
import { InMemorySnapshot, corpus } from '../../test/corpus.js';
import { FakeRecorder } from '../../test/doubles.js';
import { JOBS_COLLECTION, type JobRecord } from '../domain/jobs.js';
import { createTrainerModule, type TrainerModule } from '../module.js';

const logger = pino({ level: 'silent' });

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => ConnectError.from(e),
  );
}

describe('TrainerService', () => {
  let dir: string;
  let warehouse: Warehouse;
  let eventBus: EventBus;
  let artifacts: ArtifactStore;
  let recorder: FakeRecorder;
  let module: TrainerModule;
  let client: Client<typeof trainerv1.TrainerService>;

  async function open(): Promise<void> {
    recorder = new FakeRecorder();
    module = await createTrainerModule({
      warehouse,
      eventBus,
      logger,
      directory: new InProcessDirectory(),
      upstreams: {},
      artifacts,
      snapshot: new InMemorySnapshot(corpus()),
      recorder,
      // A model table without the model asked for: the router's own answer for an unknown model.
      models: {
        resolve: (model) => {
          throw notFound(`model "${model}" is not served here (no model is configured)`);
        },
      },
    });
    client = createClient(
      trainerv1.TrainerService,
      createRouterTransport((router) => module.register(router), {
        router: { interceptors: [errorInterceptor(logger)] },
      }),
    );
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-trainer-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    eventBus = createEventBus(`log:${path.join(dir, 'bus.db')}`);
    artifacts = await createArtifactStore(`file:${path.join(dir, 'artifacts')}`);
    await open();
  });
  afterEach(async () => {
    await module.stop?.();
    await artifacts.close();
    await eventBus.close();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers BuildDataset at once with a queued job that then succeeds with its dataset version', async () => {
    const { job } = await client.buildDataset({ authorId: 'jane', maxTokens: 200n, testFraction: 0.3 });
    expect(job).toMatchObject({ state: trainerv1.JobState.QUEUED, runner: 'local', authorId: 'jane' });
    await module.runner.settled(job!.id);
    const done = (await client.getJob({ id: job!.id })).job!;
    expect(done).toMatchObject({
      state: trainerv1.JobState.SUCCEEDED,
      datasetVersionId: 'dsv_1',
      reused: false,
    });
    expect(done.done).toBe(done.total);
    expect(done.total).toBeGreaterThan(0n);
    expect(done.endTime).toBeDefined();
    expect(recorder.drafts[0]).toMatchObject({
      dataset: 'jane-instruct',
      kind: registryv1.DatasetKind.INSTRUCT,
    });

    const listed = await client.listJobs({ authorId: 'jane', state: trainerv1.JobState.SUCCEEDED });
    expect(listed.jobs.map((j) => j.id)).toEqual([job!.id]);
    expect((await client.listJobs({ authorId: 'bob' })).jobs).toEqual([]);
    const cancelDone = await failure(client.cancelJob({ id: job!.id }));
    expect(cancelDone.code).toBe(Code.FailedPrecondition);
  });

  it('splits by document unless asked to split by time, and records which', async () => {
    const byDocument = await client.buildDataset({ authorId: 'jane', maxTokens: 200n, testFraction: 0.3 });
    await module.runner.settled(byDocument.job!.id);
    const byTime = await client.buildDataset({
      authorId: 'jane',
      dataset: 'jane-newest-held-out',
      maxTokens: 200n,
      testFraction: 0.3,
      splitBy: 'time',
    });
    await module.runner.settled(byTime.job!.id);
    expect(recorder.drafts.map((d) => [d.dataset, d.splitBy])).toEqual([
      ['jane-instruct', 'document'],
      ['jane-newest-held-out', 'time'],
    ]);
    const bad = await failure(client.buildDataset({ authorId: 'jane', splitBy: 'random' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toContain('split_by');
  });

  it('refuses a bad request with every problem, and a generator model nobody serves', async () => {
    const bad = await failure(
      client.buildDataset({
        authorId: '',
        testFraction: 1.5,
        minTokens: 100n,
        maxTokens: 50n,
        languages: ['english'],
      }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    for (const field of ['author_id', 'test_fraction', 'max_tokens', 'languages'])
      expect(bad.rawMessage).toContain(field);
    const model = await failure(client.buildDataset({ authorId: 'jane', generatorModel: 'gpt-nonexistent' }));
    expect(model.code).toBe(Code.NotFound);
    expect((await client.listJobs({})).jobs).toEqual([]);
    const missing = await failure(client.getJob({ id: 'job_nope' }));
    expect(missing.code).toBe(Code.NotFound);
  });

  it('records a failed build with its reason', async () => {
    const { job } = await client.buildDataset({ authorId: 'nobody' });
    await module.runner.settled(job!.id);
    const failed = (await client.getJob({ id: job!.id })).job!;
    expect(failed.state).toBe(trainerv1.JobState.FAILED);
    expect(failed.message).toMatch(/no cleaned documents/);
  });

  it('shows a job a stopped process left running as failed after a restart', async () => {
    await warehouse.collection<JobRecord>(JOBS_COLLECTION).insert({
      _id: 'job_orphan',
      kind: 'build-dataset',
      state: 'running',
      authorId: 'jane',
      datasetVersionId: '',
      done: 2,
      total: 9,
      message: 'writing examples',
      runner: 'local',
      createdAt: Date.now(),
      endedAt: null,
      reused: false,
    });
    await module.stop?.();
    await open();
    const job = (await client.getJob({ id: 'job_orphan' })).job!;
    expect(job).toMatchObject({
      state: trainerv1.JobState.FAILED,
      message: 'interrupted by a restart',
      done: 2n,
    });
  });

  it('refuses StartTraining where training is not set up, saying so', async () => {
    const err = await failure(client.startTraining({ datasetVersionId: 'dsv_1' }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(/no evaluator is configured here/);
  });

  it('answers a training job with its fields, and ListJobs filters by kind', async () => {
    const build = (await client.buildDataset({ authorId: 'jane', maxTokens: 200n })).job!;
    await module.runner.settled(build.id);
    const train = await module.jobs.create('train', 'jane', {
      runId: 'run_1',
      modelVersionId: '',
      phase: 'sft',
      etaSeconds: 42,
      metrics: { loss: 2.5 },
      preset: 'cpu-tiny',
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      trigger: 'dataset-version',
    });
    expect((await client.getJob({ id: train._id })).job).toMatchObject({
      kind: trainerv1.JobKind.TRAIN,
      runId: 'run_1',
      phase: 'sft',
      etaSeconds: 42,
      metrics: { loss: 2.5 },
      preset: 'cpu-tiny',
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      trigger: 'dataset-version',
    });
    const trains = (await client.listJobs({ kind: trainerv1.JobKind.TRAIN })).jobs.map((j) => j.id);
    expect(trains).toEqual([train._id]);
    const builds = (await client.listJobs({ kind: trainerv1.JobKind.BUILD_DATASET })).jobs.map((j) => j.id);
    expect(builds).toEqual([build.id]);
    // A dataset build has none of them.
    expect((await client.getJob({ id: build.id })).job).toMatchObject({ runId: '', phase: '', trigger: '' });
  });
});
