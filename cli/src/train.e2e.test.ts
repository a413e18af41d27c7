// `llmtwin train` end to end on the embedded twin (`llmtwin up`, every module in one process on a temporary
// folder): the demo author's pages go in (`llmtwin demo`), `llmtwin datasets build` makes an instruct
// dataset version, and `llmtwin train --json` fine-tunes SmolLM2-135M-Instruct with the cpu-tiny preset for a
// few steps through the real Python job, evaluates it against the base model and registers a model version:
// its loss series, its stage (a candidate waiting for approval, or rejected with the reason) and its
// evaluation are what the command prints. `llmtwin runs show` finds the model version from the run, and
// `llmtwin models approve` reviews the pending production transition. Ctrl-C on `llmtwin train` cancels the
// job and exits 130.
//
// Needs the SmolLM2 GGUF (npm run models:prepare) and the training job's Python environment
// (npm run trainer:prepare, or LLMTWIN_TRAINER_PYTHON): the test refuses to download 3.5 GB by itself.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cleanv1, trainerv1 } from '@llmtwin/contracts';
import { locateTrainerPython } from '@llmtwin/trainer';
import { poll } from '@llmtwin/testkit/poll';
import { gatewayClient } from './client.js';
import type { ModelVersionJson, RunJson } from './commands/training-format.js';
import { demoPages } from './demo.js';
import {
  disposeTwin,
  llmtwinBin,
  readAdminKey,
  runCli,
  startTwin,
  twinUrl,
  type TwinProcess,
} from './test/twin-process.fixture.js';

/** The interpreter the twin and `llmtwin train` find: LLMTWIN_TRAINER_PYTHON, else the prepared venv. */
const trainerPython = () => locateTrainerPython({ override: process.env['LLMTWIN_TRAINER_PYTHON'] });

interface TrainJson {
  run: RunJson;
  modelVersion: ModelVersionJson;
  job: { id: string; kind: string; state: string; runId: string; modelVersionId: string; preset: string };
}

describe('llmtwin train (embedded twin, demo author)', () => {
  let twin: TwinProcess | undefined;
  let dataDir: string;
  let url: string;
  let key: string;
  let datasetId: string;
  const remote = () => ['--url', url, '--data-dir', dataDir];

  beforeAll(async () => {
    const py = trainerPython();
    if (!py.prepared) throw new Error(py.problem ?? 'the training environment is not prepared');
    // No language model: answers and instructions are extractive, the evaluation has no judge.
    twin = await startTwin('llmtwin-train-', {
      args: ['--no-demo'],
      env: {
        LLMTWIN_API_KEY: '',
        LLMTWIN_LLM_BACKENDS: '',
        LLMTWIN_DATASET_GENERATOR: undefined,
        // A small evaluation (2 prompts of 16 tokens, texts cut to 64 tokens): the point is the command's
        // output, and a CPU shared with other work takes minutes over the defaults.
        LLMTWIN_EVAL_MAX_PROMPTS: '2',
        LLMTWIN_EVAL_MAX_NEW_TOKENS: '16',
        LLMTWIN_EVAL_MAX_SEQ_LENGTH: '64',
      },
    });
    dataDir = twin.dataDir;
    url = await twinUrl(twin);
    key = await readAdminKey(dataDir);
    const demo = await runCli(['demo', '--json', ...remote()]);
    expect({ code: demo.code, stderr: demo.stderr }).toEqual({ code: 0, stderr: '' });
    const clean = gatewayClient(cleanv1.CleanService, url, key);
    await poll(
      async () =>
        (await clean.listCleanedDocuments({ authorId: 'demo', page: { pageSize: 500 } })).documents.length,
      {
        what: 'every demo page in the cleaned snapshot',
        timeoutMs: 120_000,
        intervalMs: 500,
        until: (n) => n === demoPages().length,
      },
    );
    const build = await runCli(['datasets', 'build', '--author', 'demo', '--json', ...remote()]);
    expect({ code: build.code, stderr: build.stderr }).toEqual({ code: 0, stderr: '' });
    datasetId = (JSON.parse(build.stdout) as { datasetVersion: { id: string } }).datasetVersion.id;
  }, 300_000);

  afterAll(() => disposeTwin(twin));

  it('fine-tunes, evaluates and registers a model version, and prints its loss, stage and evaluation', async () => {
    const trained = await runCli([
      'train',
      '--dataset',
      datasetId,
      '--preset',
      'cpu-tiny',
      '--steps',
      '2',
      '--json',
      ...remote(),
    ]);
    // On a failure, stdout holds the error (--json): shown in the diff.
    expect({
      code: trained.code,
      stderr: trained.stderr,
      ...(trained.code ? { stdout: trained.stdout } : {}),
    }).toEqual({
      code: 0,
      stderr: '',
    });
    const out = JSON.parse(trained.stdout) as TrainJson;
    expect(Object.keys(out).sort()).toEqual(['job', 'modelVersion', 'run']);
    expect(out.job).toMatchObject({
      kind: 'JOB_KIND_TRAIN',
      state: 'JOB_STATE_SUCCEEDED',
      runId: out.run.id,
      modelVersionId: out.modelVersion.id,
      preset: 'cpu-tiny',
    });
    expect(out.run.state).toBe('succeeded');
    // Every step's loss, from the run's history.
    expect(out.run.metrics['loss']!.map((p) => p.step)).toEqual([1, 2]);
    for (const p of out.run.metrics['loss']!) expect(p.value).toBeGreaterThan(0);

    const mv = out.modelVersion;
    const e = mv.evaluation!;
    expect(e.candidate!.model).not.toBe('');
    expect(e.candidate!.perplexity).toBeGreaterThan(1);
    expect(e.base!.perplexity).toBeGreaterThan(1);
    expect(e.candidate!.examples).toBeGreaterThan(0);
    // The author's first model version: there is no production version to compare with.
    expect(e).not.toHaveProperty('production');
    expect(e.gates.length).toBeGreaterThan(0);
    // Two steps may or may not beat the base: either outcome must be stated as the gates decided it.
    if (e.passed) {
      expect(mv).toMatchObject({ stage: 'candidate', pendingStage: 'production', rejectionReason: null });
    } else {
      expect(mv).toMatchObject({ stage: 'rejected', pendingStage: null });
      expect(mv.rejectionReason).toEqual(expect.stringContaining(e.gates.find((g) => !g.passed)!.name));
    }

    // The run, with every point and the model version registered from it.
    const shown = await runCli(['runs', 'show', out.run.id, '--json', ...remote()]);
    expect(shown.code).toBe(0);
    const run = JSON.parse(shown.stdout) as {
      series: Record<string, unknown[]>;
      modelVersions: ModelVersionJson[];
    };
    expect(run.series['loss']).toEqual(out.run.metrics['loss']);
    expect(run.modelVersions).toEqual([mv]);
    const text = await runCli(['runs', 'show', out.run.id, ...remote()]);
    expect(text.stdout).toContain('loss curve');
    expect(text.stdout).toContain(`${mv.id} (`);
    expect(text.stdout).toMatch(
      new RegExp(`candidate +${e.candidate!.model} +${e.candidate!.perplexity!.toFixed(2)}`),
    );

    if (e.passed) {
      // Approval reviews the pending production transition; the output names the stage.
      const approved = await runCli(['models', 'approve', mv.id, '--as', 'e2e', ...remote()]);
      expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: '' });
      expect(approved.stdout).toContain(`approved: `);
      expect(approved.stdout).toContain(`${mv.id}  production`);
    } else {
      // A rejected version can never be promoted.
      const refused = await runCli(['models', 'request', mv.id, '--stage', 'production', ...remote()]);
      expect(refused.code).toBe(1);
    }
  }, 1_200_000);

  it('says what to run when the training environment of the embedded twin is missing (--no-prepare)', async () => {
    const emptyCache = await mkdtemp(path.join(tmpdir(), 'llmtwin-train-cache-'));
    const trainer = gatewayClient(trainerv1.TrainerService, url, key);
    const trainJobs = async () => (await trainer.listJobs({ kind: trainerv1.JobKind.TRAIN })).jobs.length;
    const before = await trainJobs();
    try {
      const res = await runCli(['train', '--dataset', datasetId, '--no-prepare', ...remote()], {
        LLMTWIN_CACHE_DIR: emptyCache,
        LLMTWIN_TRAINER_PYTHON: '',
      });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`the training environment is not prepared (${emptyCache}/trainer-py-`);
      expect(res.stderr).toContain('run npm run trainer:prepare');
      // Nothing was started.
      expect(await trainJobs()).toBe(before);
    } finally {
      await rm(emptyCache, { recursive: true, force: true });
    }
  });

  it('cancels the job on Ctrl-C and exits 130', async () => {
    const child = spawn(
      process.execPath,
      [llmtwinBin, 'train', '--dataset', datasetId, '--preset', 'cpu-tiny', '--steps', '50', ...remote()],
      {
        env: { ...process.env, LLMTWIN_API_KEY: '', NO_COLOR: '1' },
        stdio: 'pipe',
      },
    );
    let stderr = '';
    const started = new Promise<string>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const id = /training job (\S+):/.exec(stderr)?.[1];
        if (id) resolve(id);
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const jobId = await Promise.race([
        started,
        exited.then((code) => {
          throw new Error(`llmtwin train exited with ${code} before it started a job: ${stderr}`);
        }),
      ]);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toContain(`cancelling job ${jobId}`);
      const job = (await gatewayClient(trainerv1.TrainerService, url, key).getJob({ id: jobId })).job!;
      expect(trainerv1.JobState[job.state]).toBe('CANCELLED');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 300_000);
});
