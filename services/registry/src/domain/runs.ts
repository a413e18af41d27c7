// Training runs: a state machine (queued → running → succeeded | failed | cancelled; a queued run may also
// fail or be cancelled before it starts), metric points idempotent on (run, key, step) with the latest value
// per key kept on the run, artifacts and hardware. Every state change publishes RunStateChanged.
import { create, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { registryv1 } from '@llmtwin/contracts';
import type { Collection, EventBus, Filter, Record as StoredRecord, Warehouse } from '@llmtwin/ports';
import { conflict, failedPrecondition, invalidArgument, notFound } from '@llmtwin/runtime/errors';
import {
  artifactProto,
  checkArtifact,
  mergeArtifacts,
  newId,
  requireText,
  timestamp,
  type ArtifactRecord,
  type Clock,
} from './common.js';
import type { DatasetVersions, Page } from './dataset-versions.js';
import { eventMarker, MAX_CAS_ATTEMPTS, Outbox, withMarkers, type OutboxRecord } from './outbox.js';

export type RunStateName = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type MethodName = 'sft' | 'dpo';

const stateNames: Record<RunStateName, registryv1.RunState> = {
  queued: registryv1.RunState.QUEUED,
  running: registryv1.RunState.RUNNING,
  succeeded: registryv1.RunState.SUCCEEDED,
  failed: registryv1.RunState.FAILED,
  cancelled: registryv1.RunState.CANCELLED,
};
const stateName = (s: registryv1.RunState) =>
  (Object.keys(stateNames) as RunStateName[]).find((k) => stateNames[k] === s);

/** The transitions a run may make; anything else is refused. */
export const runTransitions: Readonly<Record<RunStateName, readonly RunStateName[]>> = {
  queued: ['running', 'failed', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};
const terminal = (s: RunStateName) => runTransitions[s].length === 0;

const methods: Record<MethodName, registryv1.TrainingMethod> = {
  sft: registryv1.TrainingMethod.SFT,
  dpo: registryv1.TrainingMethod.DPO,
};
/** The dataset kind each method trains on. */
const methodKind = { sft: 'instruct', dpo: 'preference' } as const;

export type MetricRecord = { key: string; value: number; step: number; time: number };
export type HardwareRecord = {
  accelerator: string;
  deviceName: string;
  deviceCount: number;
  deviceMemoryBytes: number;
  cpuCount: number;
  memoryBytes: number;
  host: string;
};

export interface RunRecord extends OutboxRecord {
  experiment: string;
  method: MethodName;
  baseModel: string;
  datasetVersionId: string;
  authorId: string;
  state: RunStateName;
  /** google.protobuf.Struct values as JSON text: their keys may hold '.' or '$', which fields may not. */
  params: string;
  config: string;
  /** The latest point of each metric key (highest step). */
  metrics: MetricRecord[];
  artifacts: ArtifactRecord[];
  hardware: HardwareRecord | null;
  error: string;
  createTime: number;
  startTime: number;
  endTime: number;
}

export interface MetricPointRecord extends StoredRecord {
  runId: string;
  key: string;
  step: number;
  value: number;
  time: number;
}

export function toRun(r: RunRecord): registryv1.Run {
  return create(registryv1.RunSchema, {
    id: r._id,
    experiment: r.experiment,
    method: methods[r.method],
    baseModel: r.baseModel,
    datasetVersionId: r.datasetVersionId,
    state: stateNames[r.state],
    params: JSON.parse(r.params) as JsonObject,
    config: JSON.parse(r.config) as JsonObject,
    metrics: Object.fromEntries(r.metrics.map((m) => [m.key, m.value])),
    artifacts: r.artifacts.map(artifactProto),
    error: r.error,
    ...(r.createTime ? { createTime: timestamp(r.createTime)! } : {}),
    ...(r.startTime ? { startTime: timestamp(r.startTime)! } : {}),
    ...(r.endTime ? { endTime: timestamp(r.endTime)! } : {}),
    ...(r.hardware
      ? {
          hardware: {
            ...r.hardware,
            deviceMemoryBytes: BigInt(r.hardware.deviceMemoryBytes),
            memoryBytes: BigInt(r.hardware.memoryBytes),
          },
        }
      : {}),
    authorId: r.authorId,
  });
}

export const runLabel = (r: Pick<RunRecord, 'experiment' | 'method'>) =>
  `run ${r.experiment} (${r.method.toUpperCase()})`;

const MAX_METRIC_KEY = 200;
const metricId = (runId: string, key: string, step: number) => `${runId}|${step}|${key}`;

function checkMetrics(points: readonly registryv1.MetricPoint[]) {
  points.forEach((p, i) => {
    const f = `metrics[${i}]`;
    requireText(p.key, `${f}.key`, 'the metric name, e.g. "train/loss"');
    if (p.key.length > MAX_METRIC_KEY)
      throw invalidArgument(`${f}.key is longer than ${MAX_METRIC_KEY} characters`, [
        { field: `${f}.key`, message: 'too long' },
      ]);
    if (!Number.isFinite(p.value))
      throw invalidArgument(`${f}.value must be a finite number (got ${p.value})`, [
        { field: `${f}.value`, message: 'not finite' },
      ]);
    if (p.step < 0n)
      throw invalidArgument(`${f}.step must not be negative`, [{ field: `${f}.step`, message: '>= 0' }]);
  });
}

function checkHardware(h: registryv1.Hardware): HardwareRecord {
  if (h.deviceCount < 0 || h.cpuCount < 0 || h.deviceMemoryBytes < 0n || h.memoryBytes < 0n)
    throw invalidArgument('hardware counts and sizes must not be negative', [
      { field: 'hardware', message: 'negative value' },
    ]);
  return {
    accelerator: h.accelerator,
    deviceName: h.deviceName,
    deviceCount: h.deviceCount,
    deviceMemoryBytes: Number(h.deviceMemoryBytes),
    cpuCount: h.cpuCount,
    memoryBytes: Number(h.memoryBytes),
    host: h.host,
  };
}

/** JSON with sorted object keys: equal values, equal text. */
function canonical(value: JsonValue | undefined): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export class Runs {
  readonly records: Collection<RunRecord>;
  readonly points: Collection<MetricPointRecord>;
  readonly outbox: Outbox<RunRecord>;

  constructor(
    warehouse: Warehouse,
    bus: EventBus,
    private readonly datasets: DatasetVersions,
    private readonly now: Clock = Date.now,
  ) {
    this.records = warehouse.collection<RunRecord>('registry_runs');
    this.points = warehouse.collection<MetricPointRecord>('registry_run_metrics');
    this.outbox = new Outbox(this.records, bus);
  }

  async init(): Promise<void> {
    for (const field of ['experiment', 'datasetVersionId', 'authorId'])
      await this.records.ensureIndex({ fields: [{ field, direction: 'asc' }] });
    await this.outbox.init();
    await this.points.ensureIndex({ fields: [{ field: 'runId', direction: 'asc' }] });
  }

  async create(req: registryv1.CreateRunRequest, signal?: AbortSignal): Promise<registryv1.Run> {
    requireText(req.experiment, 'experiment', 'a name grouping comparable runs, e.g. "jane-sft"');
    const method = (Object.keys(methods) as MethodName[]).find((k) => methods[k] === req.method);
    if (!method)
      throw invalidArgument('method is required: TRAINING_METHOD_SFT or TRAINING_METHOD_DPO', [
        { field: 'method', message: 'sft or dpo' },
      ]);
    requireText(req.baseModel, 'base_model', 'the model fine-tuned, e.g. "Qwen/Qwen2.5-0.5B-Instruct"');
    requireText(req.datasetVersionId, 'dataset_version_id', 'the dataset version trained on');
    const dataset = await this.datasets.getRecord(req.datasetVersionId, signal);
    if (dataset.tainted)
      throw failedPrecondition(
        `dataset version ${dataset._id} is tainted (${dataset.taintReason}): it is never trained on again; build a new one`,
      );
    if (dataset.kind !== methodKind[method])
      throw invalidArgument(
        `method ${method.toUpperCase()} trains on ${methodKind[method]} datasets; ${dataset._id} is a ${dataset.kind} dataset`,
        [{ field: 'method', message: `does not match the dataset kind (${dataset.kind})` }],
      );

    const at = this.now();
    const id = newId('run', at);
    const record = withMarkers<RunRecord>(
      {
        _id: id,
        rev: 0,
        experiment: req.experiment,
        method,
        baseModel: req.baseModel,
        datasetVersionId: dataset._id,
        authorId: dataset.authorId,
        state: 'queued',
        params: JSON.stringify(req.params ?? {}),
        config: JSON.stringify(req.config ?? {}),
        metrics: [],
        artifacts: [],
        hardware: null,
        error: '',
        createTime: at,
        startTime: 0,
        endTime: 0,
      },
      [],
    );
    const withEvent = { ...record, ...stateMarker(record, at) };
    await this.records.insert(withEvent, signal);
    await this.outbox.deliver(withEvent, signal);
    return toRun(withEvent);
  }

  async update(req: registryv1.UpdateRunRequest, signal?: AbortSignal): Promise<registryv1.Run> {
    requireText(req.id, 'id', 'the run id');
    const requested = req.state === registryv1.RunState.UNSPECIFIED ? undefined : stateName(req.state);
    if (req.state !== registryv1.RunState.UNSPECIFIED && !requested)
      throw invalidArgument(`state ${req.state} is not a run state`, [
        { field: 'state', message: 'unknown' },
      ]);
    checkMetrics(req.metrics);
    const artifacts = req.artifacts.map((a, i) => checkArtifact(a, `artifacts[${i}]`));
    const hardware = req.hardware ? checkHardware(req.hardware) : undefined;

    const at = this.now();
    const points = req.metrics.map((p) => ({
      key: p.key,
      value: p.value,
      step: Number(p.step),
      time: p.time ? timestampMs(p.time) : at,
    }));
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.getRecord(req.id, signal);
      const target = requested && requested !== current.state ? requested : undefined;
      if (target && !runTransitions[current.state].includes(target)) {
        throw failedPrecondition(
          `run ${current._id} is ${current.state.toUpperCase()} and cannot become ${target.toUpperCase()}: ` +
            `runs go QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED (a QUEUED run may also fail or be cancelled)` +
            (terminal(current.state) ? `; ${current.state.toUpperCase()} is final` : ''),
        );
      }
      // The points first: they are idempotent on (run, key, step), so a retried update writes them again.
      if (attempt === 0) {
        for (const p of points)
          await this.points.put(
            { _id: metricId(current._id, p.key, p.step), runId: current._id, ...p },
            signal,
          );
      }
      const latest = new Map(current.metrics.map((m) => [m.key, m]));
      for (const p of points) {
        const seen = latest.get(p.key);
        if (!seen || p.step >= seen.step) latest.set(p.key, p);
      }
      const next: RunRecord = {
        ...current,
        metrics: [...latest.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
        artifacts: mergeArtifacts(current.artifacts, artifacts),
        hardware: hardware ?? current.hardware,
        error: req.error || current.error,
      };
      if (target) {
        next.state = target;
        if (target === 'running') next.startTime = at;
        if (terminal(target)) next.endTime = at;
      }
      if (!target && JSON.stringify(next) === JSON.stringify(current)) return toRun(current);
      const written = withMarkers(next, []);
      const withEvent = target ? { ...written, ...stateMarker(written, at) } : written;
      if (await this.records.replaceIf(withEvent, { rev: current.rev }, signal)) {
        await this.outbox.deliver(withEvent, signal);
        return toRun(withEvent);
      }
    }
    throw conflict(`run ${req.id} kept changing while it was being updated; try again`);
  }

  async getRecord(id: string, signal?: AbortSignal): Promise<RunRecord> {
    const record = id ? await this.records.get(id, signal) : undefined;
    if (!record) throw notFound(`run "${id}" does not exist`);
    return record;
  }

  async get(id: string, signal?: AbortSignal) {
    const run = await this.getRecord(id, signal);
    const points = await this.points.find(
      { runId: run._id },
      {
        sort: [
          { field: 'key', direction: 'asc' },
          { field: 'step', direction: 'asc' },
        ],
      },
      signal,
    );
    return {
      run: toRun(run),
      history: points.map((p) =>
        create(registryv1.MetricPointSchema, {
          key: p.key,
          value: p.value,
          step: BigInt(p.step),
          ...(p.time ? { time: timestamp(p.time)! } : {}),
        }),
      ),
    };
  }

  async list(
    q: { experiment: string; datasetVersionId: string; authorId: string },
    page: Page,
    signal?: AbortSignal,
  ): Promise<RunRecord[]> {
    const filter: Filter = {};
    if (q.experiment) filter['experiment'] = q.experiment;
    if (q.datasetVersionId) filter['datasetVersionId'] = q.datasetVersionId;
    if (q.authorId) filter['authorId'] = q.authorId;
    if (page.after) filter['_id'] = { $lt: page.after };
    return this.records.find(
      filter,
      { sort: [{ field: '_id', direction: 'desc' }], limit: page.size, exclude: ['outbox'] },
      signal,
    );
  }

  async compare(runIds: readonly string[], signal?: AbortSignal) {
    const ids = [...new Set(runIds)];
    if (ids.length < 2)
      throw invalidArgument('give at least two different run ids to compare', [
        { field: 'run_ids', message: 'at least two' },
      ]);
    if (ids.length > 100)
      throw invalidArgument('at most 100 runs at a time', [{ field: 'run_ids', message: 'too many' }]);
    const runs: registryv1.Run[] = [];
    for (const id of ids) runs.push(toRun(await this.getRecord(id, signal)));
    const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
    const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params ?? {})))].sort();
    const differingParams = paramKeys.filter(
      (k) => new Set(runs.map((r) => canonical((r.params ?? {})[k]))).size > 1,
    );
    return { runs, metricKeys, differingParams };
  }

  async usingDataset(datasetVersionIds: readonly string[], signal?: AbortSignal): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    for (const id of new Set(datasetVersionIds))
      runs.push(...(await this.records.find({ datasetVersionId: id }, { exclude: ['outbox'] }, signal)));
    return runs;
  }
}

/** The marker of a state change: RunStateChanged with the run as it now is. */
function stateMarker(r: RunRecord, at: number): Pick<RunRecord, 'outbox' | 'outboxPending'> {
  const outbox = [
    ...(r.outbox ?? []),
    eventMarker(r._id, { case: 'runStateChanged', value: { run: toRun(r) } }, at),
  ];
  return { outbox, outboxPending: true };
}
