// Fine-tuning jobs. StartTraining checks the request at once (dataset versions, preset, overrides) and creates
// the registry run and a trainer job; the job then runs in the background:
//
//   prepare   the split files fetched from the artifact store into the run's work dir
//   train     the Python job through the job runner (a child process, or a Kubernetes Job); its metrics go to
//             the registry run in batches (at most every ~2 s) and to the job record (phase, metrics, eta)
//   store     the PEFT adapter's files and adapter.gguf into the artifact store, recorded on the run
//   evaluate  the Evaluator: the candidate against the base model and the author's production version
//   register  a model version with the report; a passed one is proposed for production (a human approves),
//             a failed gate registers it rejected with the reason
//
// A process that dies (a non-zero exit or a signal) fails the run and the job with a message naming how and at
// which step, and how to resume: resume_run_id starts a new job and run on the failed run's work dir, and the
// Python job continues from its newest checkpoint there. Cancelling stops the process (it saves a checkpoint)
// and marks the run CANCELLED.
import path from 'node:path';
import { create, type JsonObject, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { registryv1, type trainerv1 } from '@llmtwin/contracts';
import { DomainError, failedPrecondition, invalidArgument } from '@llmtwin/runtime/errors';
import type { EvaluationInput, Evaluator, HeldOutPrompt } from './evaluator.port.js';
import type {
  JobEvent,
  JobExit,
  JobHardware,
  JobRunner,
  RunningJob,
  TrainingSpec,
} from './job-runner.port.js';
import { INTERRUPTED, isFinished, type JobChange, type JobRecord, type JobStore } from './jobs.js';
import { PRESET_NAMES, resolvePreset, type PresetName, type ResolvedPreset } from './presets.js';
import type { TrainingRegistry } from './training-registry.port.js';
import type { StoredFile, TrainingWorkspace } from './training-workspace.port.js';

export type TrainingTrigger = 'request' | 'dataset-version';
export type StartTrainingInput = MessageInitShape<typeof trainerv1.StartTrainingRequestSchema>;

export interface TrainingLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TrainingJobsDeps {
  store: JobStore;
  registry: TrainingRegistry;
  workspace: TrainingWorkspace;
  runner: JobRunner;
  /** None: StartTraining is refused (FAILED_PRECONDITION) rather than training something it cannot judge. */
  evaluator: Evaluator | undefined;
  /** The preset an empty request.preset means. */
  defaultPreset: PresetName;
  /** The SmolLM2 GGUF cpu-tiny trains from. */
  cacheGguf: string;
  /** CPU threads for the job (torch). */
  threads: number;
  /** Extra environment for every job (e.g. HF_HOME). */
  env?: Record<string, string>;
  /** Least time between two metric batches sent to the registry (default 2000 ms). */
  metricsIntervalMs?: number;
  logger?: TrainingLogger;
  now?: () => number;
}

/** What a run's config records, so that resume_run_id can rebuild the job from the run alone. */
interface RunConfig {
  request: {
    datasetVersionId: string;
    preferenceDatasetVersionId: string;
    preset: string;
    baseModel: string;
    maxSteps: number;
    dpoSteps: number;
    learningRate: number;
    loraRank: number;
    seed: number;
    modelName: string;
    experiment: string;
    mergeWeights: boolean;
  };
  /** The spec with paths relative to the work dir, and without the run id. */
  spec: TrainingSpec;
  runner: string;
  /** The run whose work dir (<data dir>/training/<run id>) the job uses: its own (empty) or the resumed one's. */
  workRunId: string;
}

interface Plan {
  authorId: string;
  instruct: registryv1.DatasetVersion;
  preference: registryv1.DatasetVersion | undefined;
  resolved: ResolvedPreset;
  request: RunConfig['request'];
  modelName: string;
  experiment: string;
  workDir: string | undefined;
  workRunId: string;
  resumedFrom: string | undefined;
}

interface Active {
  controller: AbortController;
  running: RunningJob | undefined;
  cancelled: boolean;
  shutdown: boolean;
  settled: Promise<void>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$/;
const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** `loss` → `loss`; DPO's keys get a prefix, so that its loss curve is a series of its own. */
const metricKey = (phase: string, key: string) =>
  (phase === 'dpo' ? `dpo/${key}` : key).replace(/[.$]/g, '_');

function splitOf(v: registryv1.DatasetVersion, name: string): registryv1.Artifact {
  const split = v.splits.find((s) => s.name === name);
  if (!split?.artifact?.uri)
    throw failedPrecondition(
      `dataset version ${v.id} has no ${name} split file: rebuild it (BuildDataset) with a test_fraction above 0`,
    );
  return split.artifact;
}

/** The test split as the evaluator takes it: the author's answers, and the conversations that asked for them. */
export function heldOutOf(testJsonl: string): EvaluationInput['heldOut'] {
  const texts: string[] = [];
  const prompts: HeldOutPrompt[] = [];
  testJsonl.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const record = JSON.parse(line) as { messages?: { role: string; content: string }[] };
    const messages = record.messages ?? [];
    const last = messages.at(-1);
    if (last?.role !== 'assistant') return;
    texts.push(last.content);
    prompts.push({
      id: `test-${String(i + 1)}`,
      messages: messages.slice(0, -1) as HeldOutPrompt['messages'],
      reference: last.content,
    });
  });
  return { texts, prompts };
}

/** How the job ended, in words, with how to continue. */
export function exitMessage(exit: JobExit, step: number, runId: string, error: string): string {
  const how = exit.signal
    ? `training process killed by ${exit.signal}`
    : `training process exited with code ${String(exit.code)}`;
  return `${how} at step ${String(step)}${error ? `: ${error}` : ''}; resume with resume_run_id=${runId}`;
}

export class TrainingJobs {
  private readonly active = new Map<string, Active>();
  private stopped = false;

  constructor(private readonly deps: TrainingJobsDeps) {}

  private get now() {
    return this.deps.now ?? Date.now;
  }

  /** Checks the request, creates the run and the job, and starts the job in the background. */
  async start(
    message: StartTrainingInput,
    options: { trigger: TrainingTrigger; signal?: AbortSignal } = { trigger: 'request' },
  ): Promise<JobRecord> {
    if (this.stopped) throw new DomainError('unavailable', 'the trainer is shutting down');
    if (!this.deps.evaluator)
      throw failedPrecondition(
        'no evaluator is configured here, so a trained adapter could not be judged: training is off',
      );
    const plan = message.resumeRunId
      ? await this.planResume(message.resumeRunId, options.signal)
      : await this.plan(message, options.signal);
    const { resolved, instruct, preference } = plan;
    // The whole job as it will run; the run id and its work dir are known only once the run exists, so the
    // spec's paths are relative to the work dir here, and workRunId names the run whose dir it is.
    const config: RunConfig = {
      request: plan.request,
      runner: this.deps.runner.kind,
      workRunId: plan.workRunId,
      spec: makeSpec('', '', plan, this.deps),
    };

    const runRes = await this.deps.registry.createRun(
      {
        experiment: plan.experiment,
        method: preference ? registryv1.TrainingMethod.DPO : registryv1.TrainingMethod.SFT,
        baseModel: resolved.baseModel,
        // The registry files a DPO run under its preference dataset; the instruct one is in params and config.
        datasetVersionId: (preference ?? instruct).id,
        params: {
          preset: resolved.preset.name,
          ...resolved.hyper,
          instructDatasetVersionId: instruct.id,
          ...(preference ? { preferenceDatasetVersionId: preference.id } : {}),
          ...(plan.resumedFrom ? { resumedFromRun: plan.resumedFrom } : {}),
        } as JsonObject,
        config: config as unknown as JsonObject,
      },
      { ...(options.signal ? { signal: options.signal } : {}) },
    );
    const run = runRes.run!;
    const workDir = plan.workDir ?? (await this.deps.workspace.create(run.id));
    const spec = makeSpec(run.id, workDir, plan, this.deps);
    const job = await this.deps.store.create('train', plan.authorId, {
      runId: run.id,
      modelVersionId: '',
      phase: 'queued',
      etaSeconds: 0,
      metrics: {},
      preset: resolved.preset.name,
      baseModel: resolved.baseModel,
      trigger: options.trigger,
    });
    await this.deps.store.update(job._id, {
      total: resolved.hyper.maxSteps + (preference ? resolved.hyper.dpoSteps : 0),
      message: plan.resumedFrom ? `queued: resumes run ${plan.resumedFrom}` : 'queued',
    });
    this.launch(job._id, run.id, plan, spec);
    return this.deps.store.get(job._id);
  }

  private async plan(m: StartTrainingInput, signal?: AbortSignal): Promise<Plan> {
    const opts = signal ? { signal } : {};
    if (!m.datasetVersionId)
      throw invalidArgument('dataset_version_id is required: the instruct dataset version to fine-tune on', [
        { field: 'dataset_version_id', message: 'required' },
      ]);
    const instruct = (await this.deps.registry.getDatasetVersion({ id: m.datasetVersionId }, opts))
      .datasetVersion!;
    if (instruct.kind !== registryv1.DatasetKind.INSTRUCT)
      throw invalidArgument(
        `dataset version ${instruct.id} is a preference dataset: dataset_version_id takes an instruct version ` +
          '(give a preference version as preference_dataset_version_id)',
        [{ field: 'dataset_version_id', message: 'an instruct dataset version' }],
      );
    if (instruct.tainted)
      throw failedPrecondition(
        `dataset version ${instruct.id} is tainted (${instruct.taintReason}): it is never trained on again; build a new one`,
      );
    splitOf(instruct, 'train');
    splitOf(instruct, 'test');
    let preference: registryv1.DatasetVersion | undefined;
    if (m.preferenceDatasetVersionId) {
      preference = (await this.deps.registry.getDatasetVersion({ id: m.preferenceDatasetVersionId }, opts))
        .datasetVersion!;
      if (preference.kind !== registryv1.DatasetKind.PREFERENCE)
        throw invalidArgument(`dataset version ${preference.id} is not a preference dataset version`, [
          { field: 'preference_dataset_version_id', message: 'a preference dataset version' },
        ]);
      if (preference.authorId !== instruct.authorId)
        throw invalidArgument(
          `preference dataset version ${preference.id} is of author ${preference.authorId}, the instruct one of ${instruct.authorId}: both must be the same author's`,
          [{ field: 'preference_dataset_version_id', message: 'the same author as dataset_version_id' }],
        );
      if (preference.tainted)
        throw failedPrecondition(
          `dataset version ${preference.id} is tainted (${preference.taintReason}): it is never trained on again; build a new one`,
        );
      splitOf(preference, 'train');
    }
    const presetName = m.preset || this.deps.defaultPreset;
    const resolved = resolvePreset(
      presetName,
      {
        maxSteps: m.maxSteps ?? 0n,
        dpoSteps: m.dpoSteps ?? 0n,
        learningRate: m.learningRate ?? 0,
        loraRank: m.loraRank ?? 0,
        seed: m.seed ?? 0n,
        baseModel: m.baseModel ?? '',
      },
      { hasPreference: preference !== undefined },
    );
    const modelName = m.modelName || `${instruct.authorId}-twin`;
    if (!NAME.test(modelName))
      throw invalidArgument(
        `model_name "${modelName}" must be letters, digits, ".", "_" or "-" (up to 127)`,
        [{ field: 'model_name', message: 'e.g. jane-doe-twin' }],
      );
    const experiment = m.experiment || modelName;
    return {
      authorId: instruct.authorId,
      instruct,
      preference,
      resolved,
      modelName,
      experiment,
      workDir: undefined,
      workRunId: '',
      resumedFrom: undefined,
      request: {
        datasetVersionId: instruct.id,
        preferenceDatasetVersionId: preference?.id ?? '',
        preset: presetName,
        baseModel: m.baseModel ?? '',
        maxSteps: Number(m.maxSteps ?? 0),
        dpoSteps: Number(m.dpoSteps ?? 0),
        learningRate: m.learningRate ?? 0,
        loraRank: m.loraRank ?? 0,
        seed: Number(m.seed ?? 0),
        modelName,
        experiment,
        mergeWeights: m.mergeWeights ?? false,
      },
    };
  }

  private async planResume(runId: string, signal?: AbortSignal): Promise<Plan> {
    const run = (await this.deps.registry.getRun({ id: runId }, signal ? { signal } : {})).run!;
    if (run.state !== registryv1.RunState.FAILED && run.state !== registryv1.RunState.CANCELLED)
      throw failedPrecondition(
        `run ${runId} is ${registryv1.RunState[run.state]}: only a FAILED or CANCELLED run can be resumed`,
      );
    const config = run.config as unknown as Partial<RunConfig> | undefined;
    if (!config?.request || !config.spec)
      throw failedPrecondition(`run ${runId} was not started by this trainer (its config has no job spec)`);
    const workRunId = config.workRunId || runId;
    const workDir = this.deps.workspace.dir(workRunId);
    if (config.runner && config.runner !== this.deps.runner.kind)
      throw failedPrecondition(
        `run ${runId} ran on the ${config.runner} runner and its checkpoints are there; this trainer uses ${this.deps.runner.kind}`,
      );
    if (!(await this.deps.workspace.exists(workDir)))
      throw failedPrecondition(
        `run ${runId}'s work dir ${workDir} is gone (its checkpoints with it): start a new run instead`,
      );
    const r = config.request;
    const plan = await this.plan({
      datasetVersionId: r.datasetVersionId,
      preferenceDatasetVersionId: r.preferenceDatasetVersionId,
      preset: r.preset,
      baseModel: r.baseModel,
      maxSteps: BigInt(r.maxSteps),
      dpoSteps: BigInt(r.dpoSteps),
      learningRate: r.learningRate,
      loraRank: r.loraRank,
      seed: BigInt(r.seed),
      modelName: r.modelName,
      experiment: r.experiment,
      mergeWeights: r.mergeWeights,
    });
    return { ...plan, workDir, workRunId, resumedFrom: runId };
  }

  private launch(jobId: string, runId: string, plan: Plan, spec: TrainingSpec) {
    let resolve!: () => void;
    const entry: Active = {
      controller: new AbortController(),
      running: undefined,
      cancelled: false,
      shutdown: false,
      settled: new Promise<void>((r) => (resolve = r)),
    };
    this.active.set(jobId, entry);
    void this.execute(jobId, runId, plan, spec, entry)
      .catch((err: unknown) => this.deps.logger?.warn({ err, jobId }, 'training job bookkeeping failed'))
      .finally(() => {
        this.active.delete(jobId);
        resolve();
      });
  }

  private async execute(
    jobId: string,
    runId: string,
    plan: Plan,
    spec: TrainingSpec,
    entry: Active,
  ): Promise<void> {
    const { registry, store, workspace } = this.deps;
    const signal = entry.controller.signal;
    const job = (change: JobChange) => store.update(jobId, change);
    const progress = { step: 0, lastCheckpoint: 0, error: '' };
    try {
      await registry.updateRun({ id: runId, state: registryv1.RunState.RUNNING });
      await job({ state: 'running', phase: 'prepare', message: 'fetching the dataset splits' });
      await workspace.fetch(splitOf(plan.instruct, 'train').uri, spec.sft.train, signal);
      await workspace.fetch(splitOf(plan.instruct, 'test').uri, spec.sft.eval, signal);
      if (plan.preference && spec.dpo)
        await workspace.fetch(splitOf(plan.preference, 'train').uri, spec.dpo.train, signal);

      const outputs = await this.train(jobId, runId, spec, entry, progress);
      signal.throwIfAborted();

      await job({ phase: 'store', message: 'storing the adapter' });
      const stored = await this.storeOutputs(outputs, signal);
      await registry.updateRun({
        id: runId,
        state: registryv1.RunState.SUCCEEDED,
        artifacts: stored.map(toArtifact),
      });

      await job({ phase: 'evaluate', message: 'evaluating against the base model and production' });
      const label = `${plan.modelName}-${runId}`;
      const heldOut = heldOutOf(await workspace.readText(spec.sft.eval, signal));
      const production = await this.production(plan.modelName, spec.workDir, signal);
      const report = await this.deps.evaluator!.evaluate({
        authorId: plan.authorId,
        datasetVersion: plan.instruct,
        workDir: path.join(spec.workDir, 'evaluation'),
        heldOut,
        baseModel: spec.baseModel,
        ...(spec.baseGguf ? { baseGguf: spec.baseGguf } : {}),
        candidate: { adapterDir: outputs.adapterDir, modelVersionLabel: label },
        ...(production ? { production } : {}),
        signal,
      });
      signal.throwIfAborted();

      await job({ phase: 'register', message: 'registering the model version' });
      const failed = report.gates.filter((g) => !g.passed);
      const rejection = report.passed
        ? ''
        : failed.map((g) => `${g.name}: ${g.detail}`).join('; ') || 'failed';
      const candidate = report.scores.find((s) => s.role === 'candidate');
      const evalMetrics: Record<string, number> = {};
      if (candidate?.perplexity) evalMetrics['perplexity'] = candidate.perplexity;
      if (candidate && candidate.styleDistance >= 0) evalMetrics['style_distance'] = candidate.styleDistance;
      if (candidate?.judgeAccuracy) evalMetrics['judge_accuracy'] = candidate.judgeAccuracy;
      if (candidate?.judgeStyle) evalMetrics['judge_style'] = candidate.judgeStyle;
      const mv = (
        await registry.registerModelVersion({
          name: plan.modelName,
          runId,
          artifacts: stored.map(toArtifact),
          evalMetrics,
          servingModelId: label,
          weightsKind: registryv1.WeightsKind.ADAPTER,
          evaluation: report,
          rejectionReason: rejection,
        })
      ).modelVersion!;
      let message: string;
      if (report.passed) {
        // Candidate first (applied at once), then production, which waits for a person's review.
        if (mv.stage !== registryv1.Stage.CANDIDATE)
          await registry.requestStageTransition({
            modelVersionId: mv.id,
            stage: registryv1.Stage.CANDIDATE,
            requestedBy: 'trainer',
            comment: 'passed every evaluation gate',
          });
        await registry.requestStageTransition({
          modelVersionId: mv.id,
          stage: registryv1.Stage.PRODUCTION,
          requestedBy: 'trainer',
          comment: evaluationSummary(report),
        });
        message = `registered ${mv.name} v${String(mv.version)}: passed the evaluation, waiting for approval into production`;
      } else {
        message = `registered ${mv.name} v${String(mv.version)} as rejected: ${rejection}`;
      }
      await job({
        state: 'succeeded',
        phase: 'done',
        modelVersionId: mv.id,
        etaSeconds: 0,
        message,
      });
    } catch (err) {
      await this.fail(jobId, runId, entry, progress, err);
    }
  }

  /** Runs the Python job; resolves with its outputs once it ended well, throws a message-ready error otherwise. */
  private async train(
    jobId: string,
    runId: string,
    spec: TrainingSpec,
    entry: Active,
    progress: { step: number; lastCheckpoint: number; error: string },
  ): Promise<{ adapterDir: string; gguf: string | undefined; merged: string | undefined }> {
    const { registry, store } = this.deps;
    const now = this.now;
    const interval = this.deps.metricsIntervalMs ?? 2000;
    const signal = entry.controller.signal;
    const running = await this.deps.runner.start(spec, {
      workDir: spec.workDir,
      env: this.deps.env ?? {},
      logFile: path.join(spec.workDir, 'job.log'),
      signal,
      onStarted: (where) => void store.update(jobId, { phase: 'loading', message: `started (${where})` }),
    });
    entry.running = running;
    if (signal.aborted) void running.cancel();

    let points: MessageInitShape<typeof registryv1.MetricPointSchema>[] = [];
    let lastFlush = now();
    let writes: Promise<unknown> = Promise.resolve();
    // One write at a time, in order; a failed write is logged, and the points of the next carry on.
    const flush = () => {
      if (points.length === 0) return;
      const batch = points;
      points = [];
      lastFlush = now();
      writes = writes
        .then(() => registry.updateRun({ id: runId, metrics: batch }))
        .catch((err: unknown) => this.deps.logger?.warn({ err, runId }, 'metrics could not be recorded'));
    };
    let jobWrite: Promise<unknown> = Promise.resolve();
    let lastJobWrite = 0;
    const latest: Record<string, number> = {};
    const totals = {
      sft: spec.hyper.maxSteps,
      all: spec.hyper.maxSteps + (spec.dpo ? spec.hyper.dpoSteps : 0),
    };
    let pace: { at: number; done: number } | undefined;
    const outputs: { adapterDir?: string; gguf?: string; merged?: string } = {};

    for await (const e of running.events as AsyncIterable<JobEvent>) {
      switch (e.event) {
        case 'start':
          if (e.totalSteps > 0) totals.all = e.totalSteps;
          writes = writes
            .then(() => registry.updateRun({ id: runId, hardware: hardwareOf(e.hardware) }))
            .catch((err: unknown) =>
              this.deps.logger?.warn({ err, runId }, 'hardware could not be recorded'),
            );
          if (e.resumedFrom !== null) progress.step = e.resumedFrom;
          jobWrite = jobWrite.then(() =>
            store.update(jobId, {
              total: totals.all,
              ...(e.resumedFrom !== null
                ? {
                    done: e.resumedFrom,
                    message: `resumed from the checkpoint at step ${String(e.resumedFrom)}`,
                  }
                : {}),
            }),
          );
          break;
        case 'phase':
          jobWrite = jobWrite.then(() => store.update(jobId, { phase: e.phase, message: e.phase }));
          break;
        case 'checkpoint':
          progress.lastCheckpoint = e.step;
          break;
        case 'metrics': {
          // Steps count on across phases (DPO's continue after SFT's), as the job reports them.
          const done = e.step;
          progress.step = done;
          const at = now();
          for (const [k, v] of Object.entries(e.metrics)) {
            if (typeof v !== 'number' || !Number.isFinite(v)) continue;
            const key = metricKey(e.phase, k);
            latest[key] = v;
            points.push({ key, value: v, step: BigInt(e.step), time: timestampFromMs(at) });
          }
          pace ??= { at, done };
          const eta =
            done > pace.done ? ((at - pace.at) / 1000 / (done - pace.done)) * (totals.all - done) : 0;
          if (at - lastFlush >= interval) flush();
          if (at - lastJobWrite >= interval || done >= totals.all) {
            lastJobWrite = at;
            const snapshot = { ...latest };
            jobWrite = jobWrite.then(() =>
              store.update(jobId, {
                done,
                total: totals.all,
                phase: e.phase,
                etaSeconds: Math.max(0, Math.round(eta)),
                metrics: snapshot,
                message: `${e.phase} step ${String(e.step)}`,
              }),
            );
          }
          break;
        }
        case 'artifact':
          if (e.kind === 'peft-adapter') outputs.adapterDir = e.path;
          else if (e.kind === 'gguf-lora') outputs.gguf = e.path;
          else outputs.merged = e.path;
          break;
        case 'error':
          progress.error = e.message;
          break;
        case 'done':
          break;
      }
    }
    const exit = await running.exit;
    flush();
    await writes;
    const snapshot = { ...latest };
    await jobWrite.catch(() => undefined);
    await store.update(jobId, { metrics: snapshot, done: progress.step });
    if (entry.cancelled || entry.shutdown) throw new DomainError('cancelled', 'cancelled');
    if (exit.code !== 0 || exit.signal)
      throw new DomainError('internal', exitMessage(exit, progress.step, runId, progress.error));
    if (!outputs.adapterDir)
      throw new DomainError(
        'internal',
        `the training job ended without an adapter (no peft-adapter artifact event): see ${path.join(spec.workDir, 'job.log')}`,
      );
    return { adapterDir: outputs.adapterDir, gguf: outputs.gguf, merged: outputs.merged };
  }

  private async storeOutputs(
    o: { adapterDir: string; gguf: string | undefined; merged: string | undefined },
    signal: AbortSignal,
  ): Promise<StoredFile[]> {
    const { workspace } = this.deps;
    const stored = (await workspace.storeFolder(o.adapterDir, signal)).map((f) => ({
      ...f,
      name: `adapter/${f.name}`,
    }));
    if (o.gguf)
      stored.push({
        ...(await workspace.storeFile(o.gguf, 'application/gguf', signal)),
        name: 'adapter.gguf',
      });
    if (o.merged)
      stored.push(
        ...(await workspace.storeFolder(o.merged, signal)).map((f) => ({ ...f, name: `merged/${f.name}` })),
      );
    return stored;
  }

  /** The author's production version's adapter, fetched into the work dir; none when nothing is in production. */
  private async production(
    modelName: string,
    workDir: string,
    signal: AbortSignal,
  ): Promise<EvaluationInput['production']> {
    let mv: registryv1.ModelVersion;
    try {
      mv = (await this.deps.registry.getModelVersion({ id: `${modelName}@production` }, { signal }))
        .modelVersion!;
    } catch (err) {
      if ((err as { code?: unknown }).code === 5 || (err instanceof DomainError && err.kind === 'not-found'))
        return undefined;
      throw err;
    }
    const files = mv.artifacts.filter((a) => a.name.startsWith('adapter/'));
    if (files.length === 0) return undefined;
    const dir = path.join(workDir, 'production-adapter');
    for (const a of files)
      await this.deps.workspace.fetch(a.uri, path.join(dir, a.name.slice('adapter/'.length)), signal);
    return { adapterDir: dir, modelVersionId: mv.id };
  }

  private async fail(
    jobId: string,
    runId: string,
    entry: Active,
    progress: { step: number },
    err: unknown,
  ): Promise<void> {
    const { registry, store } = this.deps;
    const resume = `resume with resume_run_id=${runId}`;
    let state: 'failed' | 'cancelled';
    let message: string;
    if (entry.shutdown) {
      state = 'failed';
      message = `interrupted: the trainer shut down at step ${String(progress.step)}; ${resume}`;
    } else if (entry.cancelled) {
      state = 'cancelled';
      message = `cancelled at step ${String(progress.step)}; ${resume}`;
    } else {
      state = 'failed';
      message = errorMessage(err);
      this.deps.logger?.warn({ err, jobId, runId }, 'training job failed');
    }
    await store.update(jobId, { state, message, etaSeconds: 0 });
    const run = (await registry.getRun({ id: runId }).catch(() => undefined))?.run;
    // A run that already SUCCEEDED trained its adapter: only the evaluation or registration failed after it.
    if (run && run.state !== registryv1.RunState.SUCCEEDED)
      await registry.updateRun({
        id: runId,
        state: state === 'cancelled' ? registryv1.RunState.CANCELLED : registryv1.RunState.FAILED,
        error: message,
      });
  }

  /** Cancels a training job of this process and returns it once it has stopped. */
  async cancel(id: string): Promise<JobRecord> {
    const job = await this.deps.store.get(id);
    if (isFinished(job.state))
      throw failedPrecondition(
        `job ${id} has ${job.state} already: only queued or running jobs can be cancelled`,
      );
    const entry = this.active.get(id);
    if (!entry) {
      await this.deps.store.update(id, { state: 'cancelled', message: 'cancelled' });
      if (job.runId)
        await this.deps.registry
          .updateRun({ id: job.runId, state: registryv1.RunState.CANCELLED, error: 'cancelled' })
          .catch(() => undefined);
      return this.deps.store.get(id);
    }
    entry.cancelled = true;
    entry.controller.abort(new DomainError('cancelled', 'the job was cancelled'));
    await entry.running?.cancel();
    await entry.settled;
    return this.deps.store.get(id);
  }

  /** Resolves when the job has stopped (at once when it is not running here). */
  async settled(id: string): Promise<void> {
    await this.active.get(id)?.settled;
  }

  /**
   * After a restart: the runs of training jobs a previous process left unfinished are marked FAILED (the jobs
   * themselves are failed by JobStore.failInterrupted). Call with the jobs found before that.
   */
  async failInterruptedRuns(jobs: readonly JobRecord[]): Promise<void> {
    for (const j of jobs) {
      if (j.kind !== 'train' || !j.runId) continue;
      const run = (await this.deps.registry.getRun({ id: j.runId })).run!;
      if (run.state === registryv1.RunState.QUEUED || run.state === registryv1.RunState.RUNNING)
        await this.deps.registry.updateRun({
          id: j.runId,
          state: registryv1.RunState.FAILED,
          error: `${INTERRUPTED}; resume with resume_run_id=${j.runId}`,
        });
    }
  }

  /** Stops every running job (each saves a checkpoint) and marks them failed, resumable. */
  async stop(): Promise<void> {
    this.stopped = true;
    const entries = [...this.active.values()];
    for (const e of entries) {
      e.shutdown = true;
      e.controller.abort(new DomainError('cancelled', 'the trainer is shutting down'));
    }
    await Promise.all(entries.map((e) => e.running?.cancel()));
    await Promise.all(entries.map((e) => e.settled));
  }
}

export const TRAINING_PRESETS = PRESET_NAMES;

/** The job's spec: paths under the work dir (relative ones when workDir is empty, for the run's config). */
function makeSpec(
  runId: string,
  workDir: string,
  plan: Plan,
  deps: Pick<TrainingJobsDeps, 'cacheGguf' | 'threads'>,
): TrainingSpec {
  const data = (name: string) => (workDir ? path.join(workDir, 'data', name) : `data/${name}`);
  return {
    runId,
    workDir,
    baseModel: plan.resolved.baseModel,
    ...(plan.resolved.useCacheGguf ? { baseGguf: deps.cacheGguf } : {}),
    sft: { train: data('train.jsonl'), eval: data('test.jsonl') },
    dpo: plan.preference ? { train: data('preference-train.jsonl') } : null,
    hyper: plan.resolved.hyper,
    resume: plan.resumedFrom !== undefined,
    outputs: { ggufLora: true, merged: plan.request.mergeWeights },
    threads: deps.threads,
  };
}

const toArtifact = (s: StoredFile): MessageInitShape<typeof registryv1.ArtifactSchema> => ({
  uri: s.artifact.uri,
  sha256: s.artifact.sha256,
  sizeBytes: BigInt(s.artifact.sizeBytes),
  mediaType: s.artifact.mediaType,
  name: s.name,
});

const hardwareOf = (h: JobHardware): MessageInitShape<typeof registryv1.HardwareSchema> => ({
  accelerator: h.accelerator,
  deviceName: h.deviceName ?? '',
  deviceCount: h.deviceCount ?? 0,
  deviceMemoryBytes: BigInt(Math.round(h.deviceMemoryBytes ?? 0)),
  cpuCount: h.cpuCount ?? 0,
  memoryBytes: BigInt(Math.round(h.memoryBytes ?? 0)),
  host: h.host ?? '',
});

/** The comment on the production request: what the reviewer sees first. */
export function evaluationSummary(report: registryv1.EvaluationReport): string {
  const s = (role: string) => report.scores.find((x) => x.role === role);
  const c = s('candidate');
  const parts: string[] = [];
  const b = s('base');
  const p = s('production');
  if (c?.perplexity)
    parts.push(
      `perplexity ${c.perplexity.toFixed(2)} (base ${b?.perplexity ? b.perplexity.toFixed(2) : '-'}${p?.perplexity ? `, production ${p.perplexity.toFixed(2)}` : ''})`,
    );
  if (c && c.styleDistance >= 0) parts.push(`style distance ${c.styleDistance.toFixed(3)}`);
  if (c?.judgeStyle) parts.push(`judge style ${c.judgeStyle.toFixed(2)}/3`);
  parts.push(
    `gates: ${report.gates.map((g) => `${g.name} ${g.passed ? 'passed' : 'failed'}`).join(', ') || 'none'}`,
  );
  return `evaluation passed: ${parts.join('; ')}`;
}

/** For tests and callers that build a report by hand. */
export const evaluationReport = (init: MessageInitShape<typeof registryv1.EvaluationReportSchema>) =>
  create(registryv1.EvaluationReportSchema, init);
