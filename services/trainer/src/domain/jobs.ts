// Trainer jobs: records in the warehouse (collection "trainer_jobs") so that they outlive the process, and a
// local runner that executes them one at a time in this process, in order of submission. A job goes
// queued → running → succeeded | failed | cancelled. Cancelling aborts the job's AbortSignal, which every step
// of its work receives; the job is CANCELLED once the work has stopped. A fresh process marks every job it
// finds queued or running as FAILED ("interrupted by a restart"): the runner is local, so nothing else can
// be running them (run one trainer replica per warehouse).
import type { Collection, Record as StoredRecord, Value } from '@llmtwin/ports';
import { DomainError, failedPrecondition, notFound } from '@llmtwin/runtime/errors';

export const JOBS_COLLECTION = 'trainer_jobs';
export const LOCAL_RUNNER = 'local';
export const INTERRUPTED = 'interrupted by a restart';
/** ListJobs answers at most this many jobs, newest first. */
export const LIST_LIMIT = 500;

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type JobKind = 'build-dataset' | 'train';

export interface JobRecord extends StoredRecord {
  _id: string;
  kind: JobKind;
  state: JobState;
  authorId: string;
  datasetVersionId: string;
  done: number;
  total: number;
  message: string;
  runner: string;
  createdAt: number;
  endedAt: number | null;
  reused: boolean;
  // Training jobs only (absent on dataset builds and on records older than them).
  runId?: string;
  modelVersionId?: string;
  phase?: string;
  etaSeconds?: number;
  metrics?: { [key: string]: number };
  preset?: string;
  baseModel?: string;
  trigger?: string;
}

/** The fields a training job carries besides the common ones. */
export type TrainingJobFields = Pick<
  JobRecord,
  'runId' | 'modelVersionId' | 'phase' | 'etaSeconds' | 'metrics' | 'preset' | 'baseModel' | 'trigger'
>;

/** What a job's progress and end may change. */
export interface JobChange {
  state?: JobState;
  datasetVersionId?: string;
  done?: number;
  total?: number;
  message?: string;
  reused?: boolean;
  runId?: string;
  modelVersionId?: string;
  phase?: string;
  etaSeconds?: number;
  metrics?: { [key: string]: number };
}

export const isFinished = (s: JobState) => s === 'succeeded' || s === 'failed' || s === 'cancelled';

/** Time-ordered ids: base-36 milliseconds, then randomness. */
export function newJobId(now: number): string {
  const random = new Uint8Array(6);
  globalThis.crypto.getRandomValues(random);
  return `job_${now.toString(36).padStart(9, '0')}${Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export class JobStore {
  constructor(
    readonly jobs: Collection<JobRecord>,
    private readonly now: () => number = Date.now,
  ) {}

  async init(): Promise<void> {
    await this.jobs.ensureIndex({ fields: [{ field: 'state', direction: 'asc' }] });
    await this.jobs.ensureIndex({ fields: [{ field: 'authorId', direction: 'asc' }] });
  }

  /** Marks the jobs a previous process left unfinished as failed; returns how many. */
  failInterrupted(): Promise<number> {
    return this.jobs.updateMany(
      { state: { $in: ['queued', 'running'] } },
      { set: { state: 'failed', message: INTERRUPTED, endedAt: this.now() } },
    );
  }

  async create(kind: JobKind, authorId: string, fields: TrainingJobFields = {}): Promise<JobRecord> {
    const at = this.now();
    const job: JobRecord = {
      _id: newJobId(at),
      kind,
      state: 'queued',
      authorId,
      datasetVersionId: '',
      done: 0,
      total: 0,
      message: 'queued',
      runner: LOCAL_RUNNER,
      createdAt: at,
      endedAt: null,
      reused: false,
      ...fields,
    };
    await this.jobs.insert(job);
    return job;
  }

  async get(id: string, signal?: AbortSignal): Promise<JobRecord> {
    const job = id ? await this.jobs.get(id, signal) : undefined;
    if (!job) throw notFound(`no job ${id || '(empty id)'}: ListJobs lists them`);
    return job;
  }

  list(
    q: { kind?: JobKind; state?: JobState; authorId?: string },
    signal?: AbortSignal,
  ): Promise<JobRecord[]> {
    const filter: Record<string, string> = {};
    if (q.kind) filter['kind'] = q.kind;
    if (q.state) filter['state'] = q.state;
    if (q.authorId) filter['authorId'] = q.authorId;
    return this.jobs.find(filter, { sort: [{ field: '_id', direction: 'desc' }], limit: LIST_LIMIT }, signal);
  }

  /** Applies a change unless the job has finished already; returns the job as it is now. */
  async update(id: string, set: JobChange): Promise<JobRecord | undefined> {
    const finishing = set.state !== undefined && isFinished(set.state);
    return this.jobs.update(
      id,
      {
        set: { ...set, ...(finishing ? { endedAt: this.now() } : {}) } as Record<string, Value>,
      },
      { where: { state: { $in: ['queued', 'running'] } } },
    );
  }
}

export interface JobOutcome {
  datasetVersionId: string;
  reused: boolean;
  message: string;
}

export type JobWork = (
  signal: AbortSignal,
  progress: (done: number, total: number, message: string) => void,
) => Promise<JobOutcome>;

interface Queued {
  id: string;
  work: JobWork;
  controller: AbortController;
  settled: Promise<void>;
  resolve: () => void;
  /** Set when the trainer stops under it: the job failed, nobody cancelled it. */
  shutdown?: boolean;
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs jobs one at a time in this process, recording their state and progress in the store. */
export class LocalJobRunner {
  private readonly queue: Queued[] = [];
  private readonly active = new Map<string, Queued>();
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: JobStore,
    private readonly options: {
      /** Least time between two progress writes, in ms (the last one is always written). */
      progressIntervalMs?: number;
      onError?: (jobId: string, err: unknown) => void;
      now?: () => number;
    } = {},
  ) {}

  submit(id: string, work: JobWork): void {
    if (this.stopped) throw new DomainError('unavailable', 'the trainer is shutting down');
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    const entry: Queued = { id, work, controller: new AbortController(), settled, resolve };
    this.queue.push(entry);
    this.active.set(id, entry);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) await this.run(next);
  }

  private async run(entry: Queued): Promise<void> {
    const { id, controller } = entry;
    const now = this.options.now ?? Date.now;
    const interval = this.options.progressIntervalMs ?? 500;
    try {
      await this.store.update(id, { state: 'running', message: 'starting' });
      let lastWrite = 0;
      let pending: Promise<unknown> = Promise.resolve();
      const progress = (done: number, total: number, message: string) => {
        const t = now();
        if (t - lastWrite < interval && done < total) return;
        lastWrite = t;
        pending = pending.then(() => this.store.update(id, { done, total, message })).catch(() => undefined);
      };
      try {
        const outcome = await entry.work(controller.signal, progress);
        await pending;
        if (controller.signal.aborted) throw new DomainError('cancelled', 'cancelled');
        await this.store.update(id, {
          state: 'succeeded',
          datasetVersionId: outcome.datasetVersionId,
          reused: outcome.reused,
          message: outcome.message,
        });
      } catch (err) {
        await pending;
        if (controller.signal.aborted && entry.shutdown) {
          await this.store.update(id, { state: 'failed', message: 'interrupted: the trainer shut down' });
        } else if (controller.signal.aborted) {
          await this.store.update(id, { state: 'cancelled', message: 'cancelled: nothing was recorded' });
        } else {
          this.options.onError?.(id, err);
          await this.store.update(id, { state: 'failed', message: errorMessage(err) });
        }
      }
    } catch (err) {
      // The store itself failed: nothing more can be recorded for this job.
      this.options.onError?.(id, err);
    } finally {
      this.active.delete(id);
      entry.resolve();
    }
  }

  /**
   * Cancels a queued or running job and returns it once it has stopped; a finished job cannot be cancelled.
   */
  async cancel(id: string): Promise<JobRecord> {
    const job = await this.store.get(id);
    if (isFinished(job.state)) {
      throw failedPrecondition(
        `job ${id} has ${job.state} already: only queued or running jobs can be cancelled`,
      );
    }
    const entry = this.active.get(id);
    if (!entry) {
      // Not this process's job (another replica, or a record a restart has not swept yet).
      await this.store.update(id, { state: 'cancelled', message: 'cancelled: nothing was recorded' });
      return this.store.get(id);
    }
    entry.controller.abort(new DomainError('cancelled', 'the job was cancelled'));
    const queuedAt = this.queue.indexOf(entry);
    if (queuedAt >= 0) {
      this.queue.splice(queuedAt, 1);
      this.active.delete(id);
      await this.store.update(id, { state: 'cancelled', message: 'cancelled before it started' });
      entry.resolve();
    }
    await entry.settled;
    return this.store.get(id);
  }

  /** Resolves when the job has stopped (or at once when it is not this runner's). */
  async settled(id: string): Promise<void> {
    await this.active.get(id)?.settled;
  }

  /** Fails the queued jobs, interrupts the running one and waits for it to stop. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.queue.splice(0)) {
      this.active.delete(entry.id);
      await this.store
        .update(entry.id, { state: 'failed', message: 'the trainer shut down before it started' })
        .catch(() => undefined);
      entry.resolve();
    }
    const running = [...this.active.values()];
    for (const e of running) {
      e.shutdown = true;
      e.controller.abort(new DomainError('cancelled', 'the trainer is shutting down'));
    }
    await Promise.all(running.map((e) => e.settled));
  }
}
