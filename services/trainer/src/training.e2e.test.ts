// Fine-tuning end to end in one process: the registry and trainer modules on the embedded warehouse, event log
// and artifact folder, reaching each other through an in-process directory as in the embedded twin, and the
// real Python job (services/trainer/python) run by the process runner on SmolLM2-135M-Instruct's GGUF from
// the cache, a few LoRA steps on CPU. Only the evaluation is a stub (StubEvaluator): it is not the subject
// here (python-evaluation.e2e.test.ts and the evaluation domain tests are), and it lets a test choose a
// passed or a failed gate.
//
// Needs the prepared models (npm run models:prepare) and the job's Python (npm run trainer:prepare, or
// LLMTWIN_TRAINER_PYTHON).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { createClient, type Client } from '@connectrpc/connect';
import { registryv1, trainerv1 } from '@llmtwin/contracts';
import { InProcessDirectory, createModuleHealth } from '@llmtwin/host';
import type { ArtifactStore } from '@llmtwin/ports';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { createRegistryModule } from '@llmtwin/registry';
import { buildServer } from '@llmtwin/runtime';
import { openEmbeddedStorage, rejection, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { poll } from '@llmtwin/testkit/poll';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ProcessJobRunner } from './adapters/process-job-runner.js';
import { locateTrainerPython } from './adapters/trainer-python.js';
import { defaultTokenizerModel } from './config.js';
import type { EvaluationInput, Evaluator } from './domain/evaluator.port.js';
import type { JobEvent, JobRunner, RunningJob } from './domain/job-runner.port.js';
import { createTrainerModule, type TrainerModule } from './module.js';

const logger = pino({ level: 'silent' });
const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');
const cacheDir = process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin');
const gguf = defaultTokenizerModel(cacheDir);
const python = locateTrainerPython({ override: process.env.LLMTWIN_TRAINER_PYTHON, cacheDir });

/** A stub of the Evaluator port: a fixed report, passed or failed, and the inputs it was given. */
class StubEvaluator implements Evaluator {
  readonly inputs: EvaluationInput[] = [];
  passed = true;
  async evaluate(input: EvaluationInput) {
    this.inputs.push(input);
    const perplexity = this.passed ? 11.5 : 19.2;
    return create(registryv1.EvaluationReportSchema, {
      scores: [
        {
          role: 'candidate',
          model: input.candidate.modelVersionLabel,
          perplexity,
          styleDistance: 0.2,
          examples: 3n,
        },
        { role: 'base', model: input.baseModel, perplexity: 18.4, styleDistance: 0.3, examples: 3n },
      ],
      gates: [
        {
          name: 'perplexity-vs-base',
          passed: this.passed,
          detail: `perplexity ${String(perplexity)} vs base 18.4`,
        },
      ],
      wallSeconds: 1,
      passed: this.passed,
    });
  }
}

/** The process runner, watched: the pid of each job's Python process (from its start event), for kill -9. */
class WatchedRunner implements JobRunner {
  readonly kind: string;
  readonly pids: number[] = [];
  readonly firstMetricSteps: number[] = [];
  constructor(private readonly inner: JobRunner) {
    this.kind = inner.kind;
  }
  async start(...args: Parameters<JobRunner['start']>): Promise<RunningJob> {
    const job = await this.inner.start(...args);
    const pids = this.pids;
    const steps = this.firstMetricSteps;
    async function* watched(): AsyncGenerator<JobEvent> {
      let first = true;
      for await (const e of job.events) {
        if (e.event === 'start') pids.push(e.pid);
        if (e.event === 'metrics' && first) {
          first = false;
          steps.push(e.step);
        }
        yield e;
      }
    }
    return { events: watched(), exit: job.exit, cancel: () => job.cancel() };
  }
  close() {
    return this.inner.close();
  }
}

const turn = (q: string, a: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: q },
      { role: 'assistant', content: a },
    ],
  }) + '\n';
const trainLines = Array.from({ length: 8 }, (_, i) =>
  turn(
    `What do you think about topic ${i}?`,
    `Topic ${i} is something I write about with care and plain words.`,
  ),
).join('');
const testLines = [
  turn('How do you start an essay?', 'I start with the question that bothers me most.'),
  turn('What makes a good sentence?', 'A good sentence says one thing and stops.'),
].join('');

describe('training jobs (real Python job, embedded registry)', () => {
  let storage: EmbeddedStorage;
  let artifacts: ArtifactStore;
  let trainer: TrainerModule;
  let evaluator: StubEvaluator;
  let runner: WatchedRunner;
  let client: Client<typeof trainerv1.TrainerService>;
  let registry: Client<typeof registryv1.RegistryService>;
  let datasetVersionId: string;
  let registryStop: (() => Promise<void>) | undefined;
  let directory: InProcessDirectory;

  beforeAll(async () => {
    expect(existsSync(gguf)).toBe(true); // npm run models:prepare
    expect(python.problem).toBeNull(); // npm run trainer:prepare, or LLMTWIN_TRAINER_PYTHON
    storage = await openEmbeddedStorage('llmtwin-training-');
    artifacts = await createArtifactStore(`file:${path.join(storage.root, 'artifacts')}`);
    directory = new InProcessDirectory();
    const registryModule = await createRegistryModule({
      warehouse: storage.warehouse,
      eventBus: storage.bus,
      logger,
    });
    registryStop = registryModule.stop?.bind(registryModule);
    // As the embedded twin serves it: the hosts' error mapping, so a NotFound stays a NotFound.
    const server = buildServer({
      name: 'registry',
      register: (router) => registryModule.register(router),
      services: [...registryModule.services],
      health: createModuleHealth(registryModule),
      logger,
    });
    directory.add('registry', server.routes);
    evaluator = new StubEvaluator();
    runner = new WatchedRunner(
      new ProcessJobRunner({
        python: python.python,
        pythonPath: python.pythonPath,
        concurrency: 1,
        graceMs: 30_000,
        logger,
      }),
    );
    trainer = await createTrainerModule({
      warehouse: storage.warehouse,
      eventBus: storage.bus,
      logger,
      directory,
      upstreams: { registry: 'in-process' },
      artifacts,
      training: {
        runner,
        evaluator,
        dir: path.join(storage.root, 'training'),
        cacheGguf: gguf,
        defaultPreset: 'cpu-tiny',
        threads: 2,
        env: { HF_HUB_OFFLINE: '1' },
        // Every metric to the job record and the run at once: the tests wait on the step count.
        metricsIntervalMs: 0,
      },
    });
    client = routesClient(trainerv1.TrainerService, trainer, logger);
    registry = createClient(registryv1.RegistryService, directory.transport('registry'));

    const train = await artifacts.put(new TextEncoder().encode(trainLines), {
      mediaType: 'application/jsonl',
    });
    const test = await artifacts.put(new TextEncoder().encode(testLines), { mediaType: 'application/jsonl' });
    const artifact = (a: typeof train, name: string) => ({
      uri: a.uri,
      sha256: a.sha256,
      sizeBytes: BigInt(a.sizeBytes),
      mediaType: a.mediaType,
      name,
    });
    const { datasetVersion } = await registry.createDatasetVersion({
      dataset: 'ada-instruct',
      kind: registryv1.DatasetKind.INSTRUCT,
      authorId: 'ada',
      splits: [
        { name: 'train', examples: 8n, artifact: artifact(train, 'train.jsonl') },
        { name: 'test', examples: 2n, artifact: artifact(test, 'test.jsonl') },
      ],
      schemaVersion: 'chat-messages/1',
      contentHash: sha256(trainLines + testLines),
      sources: [
        {
          documentId: 'doc_1',
          version: 1n,
          cleanedContentHash: sha256('c1'),
          rawContentHash: sha256('r1'),
          sourceId: 'src_blog',
          canonicalUrl: 'https://ada.example.com/1',
          title: 'One',
        },
      ],
      generator: { kind: 'extractive' },
    });
    datasetVersionId = datasetVersion!.id;
  }, 60_000);

  afterAll(async () => {
    await trainer?.stop?.();
    await registryStop?.();
    await artifacts?.close();
    await storage?.close();
  });

  const job = async (id: string) => (await client.getJob({ id })).job!;
  const finished = async (id: string) => {
    await trainer.training.settled(id);
    return job(id);
  };

  it('refuses a bad request with a message that says what to fix', async () => {
    const unknown = await rejection(client.startTraining({ datasetVersionId, preset: 'gpu-huge' }));
    expect(unknown.rawMessage).toMatch(/preset "gpu-huge" is unknown: use one of cpu-tiny, gpu-1b-3b/);
    const rate = await rejection(client.startTraining({ datasetVersionId, learningRate: 0.5 }));
    expect(rate.rawMessage).toMatch(/learning_rate 0.5 is out of range/);
    const dpo = await rejection(client.startTraining({ datasetVersionId, dpoSteps: 3n }));
    expect(dpo.rawMessage).toMatch(/no preference_dataset_version_id/);
    const missing = await rejection(client.startTraining({}));
    expect(missing.rawMessage).toMatch(/dataset_version_id is required/);
  });

  it('trains an adapter: metrics reach the run, the adapter is stored, the version waits for approval', async () => {
    evaluator.passed = true;
    const started = (await client.startTraining({ datasetVersionId, maxSteps: 3n, seed: 7n })).job!;
    expect(started).toMatchObject({
      kind: trainerv1.JobKind.TRAIN,
      authorId: 'ada',
      preset: 'cpu-tiny',
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      trigger: 'request',
      total: 3n,
    });
    const done = await finished(started.id);
    expect(done.message).toMatch(/waiting for approval into production/);
    expect(done).toMatchObject({ state: trainerv1.JobState.SUCCEEDED, phase: 'done', done: 3n });
    expect(done.metrics['loss']).toBeGreaterThan(0);

    const { run, history } = await registry.getRun({ id: done.runId });
    expect(run!.state).toBe(registryv1.RunState.SUCCEEDED);
    expect(run!.method).toBe(registryv1.TrainingMethod.SFT);
    expect(run!.params).toMatchObject({ preset: 'cpu-tiny', maxSteps: 3, seed: 7, loraRank: 8 });
    expect(run!.hardware?.accelerator).toBe('cpu');
    expect(history.filter((p) => p.key === 'loss').map((p) => p.step)).toEqual([1n, 2n, 3n]);
    const names = run!.artifacts.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['adapter.gguf', 'adapter/adapter_model.safetensors']));
    for (const a of run!.artifacts) expect(await artifacts.exists(a.uri)).toBe(true);

    const mv = (await registry.getModelVersion({ id: done.modelVersionId })).modelVersion!;
    expect(mv).toMatchObject({
      name: 'ada-twin',
      runId: done.runId,
      weightsKind: registryv1.WeightsKind.ADAPTER,
      servingModelId: `ada-twin-${done.runId}`,
      stage: registryv1.Stage.CANDIDATE,
      pendingStage: registryv1.Stage.PRODUCTION,
    });
    expect(mv.evaluation?.passed).toBe(true);

    // The evaluator got the test split: the author's answers, and the questions without them.
    const input = evaluator.inputs.at(-1)!;
    expect(input.heldOut.texts).toEqual([
      'I start with the question that bothers me most.',
      'A good sentence says one thing and stops.',
    ]);
    expect(input.heldOut.prompts[0]!.messages).toEqual([
      { role: 'user', content: 'How do you start an essay?' },
    ]);
    expect(input.baseGguf).toBe(gguf);
    expect(existsSync(path.join(input.candidate.adapterDir, 'adapter_config.json'))).toBe(true);
    expect(input.production).toBeUndefined();
    const log = await readFile(path.join(storage.root, 'training', done.runId, 'job.log'), 'utf8');
    expect(log).toMatch(/"event":\s*"done"/);
  }, 600_000);

  it('compares with the production version, and registers one that fails a gate as REJECTED with the reason', async () => {
    // The first test's version, approved by a person: now the author's production version.
    const first = (await registry.listModelVersions({ name: 'ada-twin' })).modelVersions[0]!;
    await registry.reviewStageTransition({ modelVersionId: first.id, approve: true, reviewer: 'ann' });
    evaluator.passed = false;
    const started = (await client.startTraining({ datasetVersionId, maxSteps: 2n })).job!;
    const done = await finished(started.id);
    const production = evaluator.inputs.at(-1)!.production!;
    expect(production.modelVersionId).toBe(first.id);
    expect(existsSync(path.join(production.adapterDir, 'adapter_config.json'))).toBe(true);
    expect(existsSync(path.join(production.adapterDir, 'adapter_model.safetensors'))).toBe(true);
    expect(done.state).toBe(trainerv1.JobState.SUCCEEDED);
    expect(done.message).toMatch(/as rejected: perplexity-vs-base/);
    const mv = (await registry.getModelVersion({ id: done.modelVersionId })).modelVersion!;
    expect(mv.stage).toBe(registryv1.Stage.REJECTED);
    expect(mv.rejectionReason).toMatch(/perplexity-vs-base: perplexity 19.2 vs base 18.4/);
    expect(mv.pendingStage).toBe(registryv1.Stage.UNSPECIFIED);
  }, 600_000);

  it('fails the run when the process is killed (kill -9), and resume_run_id continues from its checkpoint', async () => {
    evaluator.passed = true;
    const started = (await client.startTraining({ datasetVersionId, maxSteps: 6n, modelName: 'ada-resume' }))
      .job!;
    // Killed once a checkpoint (every 2 steps for 6) is on disk and training has gone past it.
    await poll(
      async () => {
        const j = await job(started.id);
        return j.done >= 3n ? j : undefined;
      },
      { what: 'training past its first checkpoint', timeoutMs: 600_000, intervalMs: 100 },
    );
    const pid = runner.pids.at(-1)!;
    process.kill(pid, 'SIGKILL');
    const failed = await finished(started.id);
    expect(failed.state).toBe(trainerv1.JobState.FAILED);
    expect(failed.message).toMatch(
      new RegExp(
        `^training process killed by SIGKILL at step \\d+; resume with resume_run_id=${failed.runId}$`,
      ),
    );
    const run = (await registry.getRun({ id: failed.runId })).run!;
    expect(run.state).toBe(registryv1.RunState.FAILED);
    expect(run.error).toBe(failed.message);

    const resumed = (await client.startTraining({ resumeRunId: failed.runId })).job!;
    expect(resumed.runId).not.toBe(failed.runId);
    const done = await finished(resumed.id);
    expect(done.state).toBe(trainerv1.JobState.SUCCEEDED);
    expect(runner.firstMetricSteps.at(-1)).toBeGreaterThan(1);
    const newRun = (await registry.getRun({ id: done.runId })).run!;
    expect(newRun.params).toMatchObject({ resumedFromRun: failed.runId, maxSteps: 6 });
    const { history } = await registry.getRun({ id: done.runId });
    expect(history.filter((p) => p.key === 'loss').at(-1)!.step).toBe(6n);
  }, 1_200_000);

  it('cancels a running job: the process stops and the run is CANCELLED', async () => {
    const started = (await client.startTraining({ datasetVersionId, maxSteps: 30n, modelName: 'ada-cancel' }))
      .job!;
    await poll(async () => ((await job(started.id)).done >= 1n ? true : undefined), {
      what: 'the first training step',
      timeoutMs: 400_000,
      intervalMs: 100,
    });
    const cancelled = (await client.cancelJob({ id: started.id })).job!;
    expect(cancelled.state).toBe(trainerv1.JobState.CANCELLED);
    expect(cancelled.message).toMatch(/^cancelled at step \d+; resume with resume_run_id=/);
    const run = (await registry.getRun({ id: cancelled.runId })).run!;
    expect(run.state).toBe(registryv1.RunState.CANCELLED);
    const listed = (await client.listJobs({ kind: trainerv1.JobKind.TRAIN })).jobs;
    expect(listed.map((j) => j.id)).toContain(started.id);
    expect(listed.every((j) => j.kind === trainerv1.JobKind.TRAIN)).toBe(true);
  }, 600_000);

  it('fails the runs of training jobs a previous trainer process left running', async () => {
    const { run } = await registry.createRun({
      experiment: 'ada-twin',
      method: registryv1.TrainingMethod.SFT,
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      datasetVersionId,
    });
    await registry.updateRun({ id: run!.id, state: registryv1.RunState.RUNNING });
    // A job record as a trainer that died mid-run leaves it.
    const record = await trainer.jobs.create('train', 'ada', {
      runId: run!.id,
      phase: 'sft',
      preset: 'cpu-tiny',
    });
    await trainer.jobs.update(record._id, { state: 'running' });
    const restarted = await createTrainerModule({
      warehouse: storage.warehouse,
      eventBus: storage.bus,
      logger,
      directory,
      upstreams: { registry: 'in-process' },
      artifacts,
    });
    try {
      expect((await restarted.jobs.get(record._id)).state).toBe('failed');
      const failed = await poll(
        async () => {
          const r = (await registry.getRun({ id: run!.id })).run!;
          return r.state === registryv1.RunState.FAILED ? r : undefined;
        },
        { what: 'the interrupted run marked failed', timeoutMs: 30_000 },
      );
      expect(failed.error).toBe(`interrupted by a restart; resume with resume_run_id=${run!.id}`);
    } finally {
      await restarted.stop?.();
    }
  });
});
