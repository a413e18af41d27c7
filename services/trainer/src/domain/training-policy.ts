// Continuous training: when the registry announces a new instruct dataset version of an author who opted in,
// a fine-tuning run starts on it, by policy.
//
//   opt-in     only the authors configured (or every author with "*"); nobody by default
//   debounce   a version waits `debounceMs`; a newer version of the same author arriving meanwhile takes its
//              place (the older one is recorded as superseded), so a burst of rebuilds starts one run, on the
//              newest
//   caps       at most `maxRunsPerDay` starts per author in any 24 hours (a version due while the cap is
//              reached waits until a slot frees); a dataset whose train split holds more than `maxTokens`
//              tokens is skipped with the reason recorded
//   never      preference datasets, tainted versions (also one tainted while it waits)
//
// Every decision is a record per dataset version id in the warehouse (trainer_auto_runs), written before
// anything is started: a redelivered event finds its record and does nothing, and a start is claimed
// (pending → starting, compare-and-set) before the call, so no version ever starts twice, even across
// restarts or replicas; a pending version outlives a restart (the consumer re-arms its timer from the
// records). A process that dies between the claim and the recorded job leaves "starting": after a while it is
// marked interrupted, not retried (at most one run per version, never two).
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { registryv1 } from '@llmtwin/contracts';
import type { Collection, Record as StoredRecord } from '@llmtwin/ports';
import { isDomainError } from '@llmtwin/runtime/errors';
import type { TrainingStarter, TrainingStartRequest } from './training-starter.port.js';

export const AUTO_RUNS_COLLECTION = 'trainer_auto_runs';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A claim older than this without a recorded job is taken for a process that died while starting. */
export const STARTING_STALE_MS = 10 * 60 * 1000;
/** How long a start that could not be made for now ('unavailable') waits, and how often it is tried. */
export const RETRY_DELAY_MS = 60 * 1000;
export const MAX_START_ATTEMPTS = 5;

export interface AutoTrainSettings {
  /** Authors whose new dataset versions train: '*' for all; an empty list turns continuous training off. */
  authors: '*' | readonly string[];
  debounceMs: number;
  maxRunsPerDay: number;
  /** Most tokens a run's train split may hold; 0 = no limit. */
  maxTokens: number;
  preset: string;
  /** 0 = the preset's steps. */
  maxSteps: number;
}

/** LLMTWIN_AUTO_TRAIN_AUTHORS: a comma list; "*" anywhere means every author; empty means none. */
export function parseAuthors(value: string): '*' | string[] {
  const names = value
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  return names.includes('*') ? '*' : [...new Set(names)];
}

export const autoTrainEnabled = (s: Pick<AutoTrainSettings, 'authors'>) =>
  s.authors === '*' || s.authors.length > 0;

export const optedIn = (s: Pick<AutoTrainSettings, 'authors'>, authorId: string) =>
  !!authorId && (s.authors === '*' || s.authors.includes(authorId));

/**
 * Tokens a run on this version trains on: the train split's examples times the mean tokens per example (the
 * dataset's tokenizer, or its word-based estimate); undefined when the stats do not say.
 */
export function trainTokens(dv: registryv1.DatasetVersion): number | undefined {
  const mean = dv.stats?.tokensPerExampleMean ?? 0;
  const train = dv.splits.find((s) => s.name === 'train')?.examples ?? dv.stats?.examples ?? 0n;
  if (!(mean > 0) || train <= 0n) return undefined;
  return Math.round(mean * Number(train));
}

export type AutoRunState =
  'pending' | 'starting' | 'started' | 'superseded' | 'skipped' | 'failed' | 'interrupted';

/** One decision per dataset version (`_id`). Times are epoch ms; 0 = not yet. */
export interface AutoRunRecord extends StoredRecord {
  _id: string;
  authorId: string;
  dataset: string;
  version: number;
  /** The dataset version's creation time: what "newest" means (ties: the larger id). */
  datasetCreatedAt: number;
  receivedAt: number;
  /** When a pending version starts, debounce and daily cap considered. */
  dueAt: number;
  state: AutoRunState;
  /** Why it was skipped, superseded, failed or is waiting. */
  reason: string;
  supersededBy: string;
  jobId: string;
  /** When it was claimed for a start (what the daily cap counts). */
  startedAt: number;
  attempts: number;
  updatedAt: number;
}

/** What the policy did with an event. */
export type Decision =
  | { kind: 'ignored'; reason: string }
  | { kind: 'duplicate'; state: AutoRunState }
  | { kind: 'skipped'; reason: string }
  | { kind: 'superseded'; by: string }
  | { kind: 'pending'; dueAt: number; superseded: string[] };

export interface StartOutcome {
  datasetVersionId: string;
  authorId: string;
  state: AutoRunState;
  jobId?: string;
  reason?: string;
}

export interface PolicyLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const isNewer = (a: Pick<AutoRunRecord, 'datasetCreatedAt' | '_id'>, than: typeof a) =>
  a.datasetCreatedAt > than.datasetCreatedAt ||
  (a.datasetCreatedAt === than.datasetCreatedAt && a._id > than._id);

/** Versions that stand for the author's newest data: one waiting, being started or started. */
const LIVE: AutoRunState[] = ['pending', 'starting', 'started'];

export class TrainingPolicy {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      runs: Collection<AutoRunRecord>;
      starter: TrainingStarter;
      settings: AutoTrainSettings;
      clock?: () => number;
      logger?: PolicyLogger;
    },
  ) {}

  private get now() {
    return (this.deps.clock ?? Date.now)();
  }

  async init(): Promise<void> {
    const asc = 'asc' as const;
    await this.deps.runs.ensureIndex({
      fields: [
        { field: 'state', direction: asc },
        { field: 'dueAt', direction: asc },
      ],
    });
    await this.deps.runs.ensureIndex({ fields: [{ field: 'authorId', direction: asc }] });
  }

  /** Decisions and starts one at a time in this process (replicas are kept apart by compare-and-set). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A DatasetVersionCreated: record what it means (nothing for authors not opted in and preference data). */
  datasetVersionCreated(dv: registryv1.DatasetVersion, signal?: AbortSignal): Promise<Decision> {
    return this.serial(() => this.decide(dv, signal));
  }

  private async decide(dv: registryv1.DatasetVersion, signal?: AbortSignal): Promise<Decision> {
    const { runs, settings } = this.deps;
    if (!optedIn(settings, dv.authorId))
      return { kind: 'ignored', reason: `author "${dv.authorId}" has not opted in to continuous training` };
    if (dv.kind !== registryv1.DatasetKind.INSTRUCT)
      return { kind: 'ignored', reason: 'not an instruct dataset (preference data never starts a run)' };
    const existing = await runs.get(dv.id, signal);
    if (existing) return { kind: 'duplicate', state: existing.state };

    const at = this.now;
    const created = dv.createTime ? timestampMs(dv.createTime) : at;
    const record: AutoRunRecord = {
      _id: dv.id,
      authorId: dv.authorId,
      dataset: dv.dataset,
      version: Number(dv.version),
      datasetCreatedAt: created,
      receivedAt: at,
      dueAt: 0,
      state: 'pending',
      reason: '',
      supersededBy: '',
      jobId: '',
      startedAt: 0,
      attempts: 0,
      updatedAt: at,
    };
    const tokens = trainTokens(dv);
    const skip = dv.tainted
      ? `the dataset version is tainted (${dv.taintReason})`
      : settings.maxTokens > 0 && tokens === undefined
        ? `its stats give no token count, and runs are capped at ${settings.maxTokens} tokens (LLMTWIN_AUTO_TRAIN_MAX_TOKENS)`
        : settings.maxTokens > 0 && tokens! > settings.maxTokens
          ? `its train split holds about ${tokens} tokens, more than the ${settings.maxTokens} a run may train on (LLMTWIN_AUTO_TRAIN_MAX_TOKENS)`
          : '';
    if (skip) {
      if (await this.insert({ ...record, state: 'skipped', reason: skip }, signal))
        return { kind: 'skipped', reason: skip };
      return { kind: 'duplicate', state: (await runs.get(dv.id, signal))?.state ?? 'skipped' };
    }

    const live = await runs.find({ authorId: dv.authorId, state: { $in: LIVE } }, {}, signal);
    const newer = live.filter((r) => isNewer(r, record)).sort((a, b) => (isNewer(a, b) ? -1 : 1))[0];
    if (newer) {
      const reason = `a newer dataset version of the author (${newer.dataset} v${newer.version}, ${newer._id}) is ${newer.state}`;
      if (await this.insert({ ...record, state: 'superseded', supersededBy: newer._id, reason }, signal))
        return { kind: 'superseded', by: newer._id };
      return { kind: 'duplicate', state: (await runs.get(dv.id, signal))?.state ?? 'superseded' };
    }
    const dueAt = at + settings.debounceMs;
    if (!(await this.insert({ ...record, dueAt }, signal)))
      return { kind: 'duplicate', state: (await runs.get(dv.id, signal))?.state ?? 'pending' };
    const superseded: string[] = [];
    for (const older of live.filter((r) => r.state === 'pending')) {
      const changed = await runs.update(
        older._id,
        {
          set: {
            state: 'superseded',
            supersededBy: dv.id,
            reason: `a newer dataset version of the author (${dv.dataset} v${dv.version}, ${dv.id}) arrived within the debounce`,
            updatedAt: at,
          },
        },
        { where: { state: 'pending' } },
        signal,
      );
      if (changed) superseded.push(older._id);
    }
    return { kind: 'pending', dueAt, superseded };
  }

  /** An ArtifactTainted for a dataset version: one still waiting never starts. */
  datasetVersionTainted(id: string, reason: string, signal?: AbortSignal): Promise<boolean> {
    return this.serial(async () => {
      const changed = await this.deps.runs.update(
        id,
        {
          set: {
            state: 'skipped',
            reason: `the dataset version was tainted (${reason})`,
            updatedAt: this.now,
          },
        },
        { where: { state: 'pending' } },
        signal,
      );
      return !!changed;
    });
  }

  /** When the next pending version is due (epoch ms), or undefined when none waits. */
  async nextDueAt(signal?: AbortSignal): Promise<number | undefined> {
    const [first] = await this.deps.runs.find(
      { state: 'pending' },
      { sort: [{ field: 'dueAt', direction: 'asc' }], limit: 1 },
      signal,
    );
    return first?.dueAt;
  }

  /** Starts what is due; marks claims left by a process that died as interrupted. */
  runDue(signal?: AbortSignal): Promise<StartOutcome[]> {
    return this.serial(() => this.startDue(signal));
  }

  private async startDue(signal?: AbortSignal): Promise<StartOutcome[]> {
    const { runs, settings } = this.deps;
    const now = this.now;
    const outcomes: StartOutcome[] = [];
    for (const stale of await runs.find(
      { state: 'starting', startedAt: { $lt: now - STARTING_STALE_MS } },
      {},
      signal,
    )) {
      const reason =
        'the trainer stopped while starting this run, so whether a job started is unknown (see llmtwin jobs); it is not started again';
      if (
        await runs.update(
          stale._id,
          { set: { state: 'interrupted', reason, updatedAt: now } },
          { where: { state: 'starting', startedAt: stale.startedAt } },
          signal,
        )
      ) {
        this.deps.logger?.warn(
          { datasetVersionId: stale._id, authorId: stale.authorId },
          'continuous training: a start was interrupted',
        );
        outcomes.push({
          datasetVersionId: stale._id,
          authorId: stale.authorId,
          state: 'interrupted',
          reason,
        });
      }
    }
    const due = await runs.find(
      { state: 'pending', dueAt: { $lte: now } },
      { sort: [{ field: 'dueAt', direction: 'asc' }] },
      signal,
    );
    for (const r of due) {
      const pending = { where: { state: 'pending', dueAt: r.dueAt } };
      // Replicas (or events out of order) may have left an older version pending beside a newer one.
      const live = await runs.find({ authorId: r.authorId, state: { $in: LIVE } }, {}, signal);
      const newer = live.find((o) => isNewer(o, r));
      if (newer) {
        const reason = `a newer dataset version of the author (${newer.dataset} v${newer.version}, ${newer._id}) is ${newer.state}`;
        if (
          await runs.update(
            r._id,
            { set: { state: 'superseded', supersededBy: newer._id, reason, updatedAt: now } },
            pending,
            signal,
          )
        )
          outcomes.push({ datasetVersionId: r._id, authorId: r.authorId, state: 'superseded', reason });
        continue;
      }
      // Starts of the last 24 hours; an interrupted one may have queued a job, so it counts too.
      const counted = (
        await runs.find({ authorId: r.authorId, startedAt: { $gt: now - DAY_MS } }, {}, signal)
      )
        .filter((o) => o.state === 'starting' || o.state === 'started' || o.state === 'interrupted')
        .map((o) => o.startedAt)
        .sort((a, b) => a - b);
      if (counted.length >= settings.maxRunsPerDay) {
        // The slot frees when the oldest start that keeps the count at the cap is a day old.
        const dueAt = counted[counted.length - settings.maxRunsPerDay]! + DAY_MS;
        const reason = `the author's ${settings.maxRunsPerDay} runs a day (LLMTWIN_AUTO_TRAIN_MAX_RUNS_PER_DAY) are used: waits until ${new Date(dueAt).toISOString()}`;
        if (await runs.update(r._id, { set: { dueAt, reason, updatedAt: now } }, pending, signal)) {
          this.deps.logger?.info(
            { datasetVersionId: r._id, authorId: r.authorId, dueAt },
            'continuous training: daily cap reached, the run waits',
          );
          outcomes.push({ datasetVersionId: r._id, authorId: r.authorId, state: 'pending', reason });
        }
        continue;
      }
      const claimed = await runs.update(
        r._id,
        { set: { state: 'starting', startedAt: now, reason: '', updatedAt: now }, inc: { attempts: 1 } },
        pending,
        signal,
      );
      if (!claimed) continue;
      outcomes.push(await this.start(claimed, signal));
    }
    return outcomes;
  }

  private async start(r: AutoRunRecord, signal?: AbortSignal): Promise<StartOutcome> {
    const { runs, settings, starter, logger } = this.deps;
    const request: TrainingStartRequest = {
      datasetVersionId: r._id,
      preset: settings.preset,
      ...(settings.maxSteps > 0 ? { maxSteps: BigInt(settings.maxSteps) } : {}),
    };
    const starting = { where: { state: 'starting', startedAt: r.startedAt } };
    const base = { datasetVersionId: r._id, authorId: r.authorId };
    try {
      const { jobId } = await starter.start(request, { trigger: 'dataset-version' });
      await runs.update(r._id, { set: { state: 'started', jobId, updatedAt: this.now } }, starting, signal);
      logger?.info(
        { ...base, jobId, preset: settings.preset },
        'continuous training: started a run on a new dataset version',
      );
      return { ...base, state: 'started', jobId };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (isDomainError(err, 'unavailable') && r.attempts < MAX_START_ATTEMPTS) {
        const dueAt = this.now + RETRY_DELAY_MS;
        const reason = `could not start for now (${message}); tries again at ${new Date(dueAt).toISOString()}`;
        // Back to waiting: nothing was started, so the claim (and its place under the daily cap) is given back.
        await runs.update(
          r._id,
          { set: { state: 'pending', dueAt, startedAt: 0, reason, updatedAt: this.now } },
          starting,
          signal,
        );
        logger?.warn(
          { ...base, err },
          'continuous training: the run could not start for now; retrying later',
        );
        return { ...base, state: 'pending', reason };
      }
      const reason = `the run could not start: ${message}`;
      await runs.update(r._id, { set: { state: 'failed', reason, updatedAt: this.now } }, starting, signal);
      logger?.warn({ ...base, err }, 'continuous training: the run could not start');
      return { ...base, state: 'failed', reason };
    }
  }

  private async insert(record: AutoRunRecord, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.deps.runs.insert(record, signal);
      return true;
    } catch (err) {
      // Another delivery (or replica) decided first: its record stands.
      if (isDomainError(err, 'already-exists')) return false;
      throw err;
    }
  }
}
