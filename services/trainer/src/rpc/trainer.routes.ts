// TrainerService handlers: thin translation between protobuf messages and the dataset jobs.
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { trainerv1 } from '@llmtwin/contracts';
import { invalidArgument } from '@llmtwin/runtime';
import type { DatasetJobs } from '../domain/dataset-jobs.js';
import type { JobKind, JobRecord, JobState, JobStore, LocalJobRunner } from '../domain/jobs.js';
import type { TrainingJobs } from '../domain/training.js';

export interface TrainerHandlers {
  datasets: DatasetJobs;
  store: JobStore;
  runner: LocalJobRunner;
  training: TrainingJobs;
}

const states: Record<JobState, trainerv1.JobState> = {
  queued: trainerv1.JobState.QUEUED,
  running: trainerv1.JobState.RUNNING,
  succeeded: trainerv1.JobState.SUCCEEDED,
  failed: trainerv1.JobState.FAILED,
  cancelled: trainerv1.JobState.CANCELLED,
};
const kinds: Record<JobKind, trainerv1.JobKind> = {
  'build-dataset': trainerv1.JobKind.BUILD_DATASET,
  train: trainerv1.JobKind.TRAIN,
};

const reverse = <K extends string>(table: Record<K, number>, value: number): K | undefined =>
  (Object.keys(table) as K[]).find((k) => table[k] === value);

export function toProtoJob(j: JobRecord): MessageInitShape<typeof trainerv1.JobSchema> {
  return {
    id: j._id,
    kind: kinds[j.kind],
    state: states[j.state],
    authorId: j.authorId,
    datasetVersionId: j.datasetVersionId,
    done: BigInt(j.done),
    total: BigInt(j.total),
    message: j.message,
    runner: j.runner,
    createTime: timestampFromMs(j.createdAt),
    ...(j.endedAt !== null ? { endTime: timestampFromMs(j.endedAt) } : {}),
    reused: j.reused,
    runId: j.runId ?? '',
    modelVersionId: j.modelVersionId ?? '',
    phase: j.phase ?? '',
    etaSeconds: j.etaSeconds ?? 0,
    metrics: j.metrics ?? {},
    preset: j.preset ?? '',
    baseModel: j.baseModel ?? '',
    trigger: j.trigger ?? '',
  };
}

export function registerTrainerRoutes(router: ConnectRouter, h: TrainerHandlers): void {
  router.service(trainerv1.TrainerService, {
    async buildDataset(req) {
      return { job: toProtoJob(await h.datasets.buildDataset(req)) };
    },
    async startTraining(req, ctx) {
      return { job: toProtoJob(await h.training.start(req, { trigger: 'request', signal: ctx.signal })) };
    },
    async cancelJob(req, ctx) {
      const job = await h.store.get(req.id, ctx.signal);
      return { job: toProtoJob(await (job.kind === 'train' ? h.training : h.runner).cancel(req.id)) };
    },
    async getJob(req, ctx) {
      return { job: toProtoJob(await h.store.get(req.id, ctx.signal)) };
    },
    async listJobs(req, ctx) {
      const kind = req.kind ? reverse(kinds, req.kind) : undefined;
      const state = req.state ? reverse(states, req.state) : undefined;
      if ((req.kind && !kind) || (req.state && !state)) {
        throw invalidArgument('unknown job kind or state', [
          { field: req.kind && !kind ? 'kind' : 'state', message: 'a known value' },
        ]);
      }
      const jobs = await h.store.list(
        {
          ...(kind ? { kind } : {}),
          ...(state ? { state } : {}),
          ...(req.authorId ? { authorId: req.authorId } : {}),
        },
        ctx.signal,
      );
      return { jobs: jobs.map(toProtoJob) };
    },
  });
}
