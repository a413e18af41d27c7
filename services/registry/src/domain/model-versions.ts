// Model versions and their stages behind a human gate. Versions count up per name. Candidate, archived and
// none apply at once; production only through an approved review, which archives the previous production
// version of the name. A rollback puts the most recent earlier approved, untainted version back. A tainted
// version never reaches production. A version registered with a rejection reason (a failed evaluation gate)
// is REJECTED from the start and stays there: no request moves it, so it is never served. Every stage change
// publishes ModelStageChanged (what the inference router serves from) and leaves a StageTransition record.
import { registryv1 } from '@llmtwin/contracts';
import type { Collection, EventBus, Filter, Value, Warehouse } from '@llmtwin/ports';
import { conflict, failedPrecondition, invalidArgument, notFound } from '@llmtwin/runtime/errors';
import { checkArtifact, checkName, keyValues, newId, requireText, type Clock } from './common.js';
import type { DatasetVersions, Page } from './dataset-versions.js';
import { checkEvaluation } from './evaluation.js';
import {
  applied,
  deepCopy,
  fromTransitionRecord,
  indexRecord,
  label,
  stageEvent,
  taintEvent,
  taintedBy,
  versionIdOf,
  versionOf,
  type Emitted,
  PRODUCTION_ALIAS,
  stageName,
  toModelVersion,
  toTransition,
  weightsKinds,
  type ModelEffects,
  type ModelRecord,
  type ModelVersionIndexRecord,
  type TransitionRecord,
  type TransitionRec,
  type VersionEntry,
  type WeightsKindName,
} from './model-records.js';
import {
  eventMarker,
  MAX_CAS_ATTEMPTS,
  Outbox,
  putIfNewer,
  withMarkers,
  type OutboxMarker,
} from './outbox.js';
import type { Runs } from './runs.js';

const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** What a change to one model record does: the record after it, what it publishes, and what it returns. */
interface Change<R> {
  result: (written: ModelRecord) => R;
  /** Events (with their keys) in publish order; transitions and versions to write first. */
  events?: Emitted[];
  transitions?: TransitionRec[];
  versions?: string[];
  /** Nothing to write: the record stays as it is. */
  unchanged?: boolean;
}

export class ModelVersions {
  readonly records: Collection<ModelRecord>;
  readonly index: Collection<ModelVersionIndexRecord>;
  readonly transitions: Collection<TransitionRecord>;
  readonly outbox: Outbox<ModelRecord>;

  constructor(
    warehouse: Warehouse,
    bus: EventBus,
    private readonly runs: Runs,
    private readonly datasets: DatasetVersions,
    private readonly now: Clock = Date.now,
  ) {
    this.records = warehouse.collection<ModelRecord>('registry_models');
    this.index = warehouse.collection<ModelVersionIndexRecord>('registry_model_versions');
    this.transitions = warehouse.collection<TransitionRecord>('registry_stage_transitions');
    this.outbox = new Outbox(this.records, bus, (record, markers, signal) =>
      this.writeDerived(record, markers, signal),
    );
  }

  async init(): Promise<void> {
    const asc = 'asc' as const;
    for (const field of ['name', 'stage', 'authorId', 'runId', 'datasetVersionId'])
      await this.index.ensureIndex({ fields: [{ field, direction: asc }] });
    for (const field of ['modelVersionId', 'modelName'])
      await this.transitions.ensureIndex({ fields: [{ field, direction: asc }] });
    await this.outbox.init();
  }

  async register(req: registryv1.RegisterModelVersionRequest, signal?: AbortSignal) {
    checkName(req.name, 'name', 'model');
    requireText(req.runId, 'run_id', 'the run that trained it');
    const artifacts = req.artifacts.map((a, i) => checkArtifact(a, `artifacts[${i}]`));
    for (const [key, value] of Object.entries(req.evalMetrics)) {
      if (!key || !Number.isFinite(value))
        throw invalidArgument(`eval_metrics["${key}"] must be a finite number with a name`, [
          { field: 'eval_metrics', message: 'invalid entry' },
        ]);
    }
    const weightsKind = (Object.keys(weightsKinds) as WeightsKindName[]).find(
      (k) => k && weightsKinds[k as Exclude<WeightsKindName, ''>] === req.weightsKind,
    );
    if (req.weightsKind !== registryv1.WeightsKind.UNSPECIFIED && !weightsKind)
      throw invalidArgument(`weights_kind ${req.weightsKind} is unknown`, [
        { field: 'weights_kind', message: 'adapter or merged' },
      ]);
    const rejectionReason = req.rejectionReason.trim();
    const evaluation = checkEvaluation(req.evaluation, rejectionReason);
    const run = await this.runs.getRecord(req.runId, signal);
    if (run.state === 'failed' || run.state === 'cancelled')
      throw failedPrecondition(
        `run ${run._id} is ${run.state.toUpperCase()}: only a run that trained a model can register one`,
      );
    const dataset = await this.datasets.getRecord(run.datasetVersionId, signal);

    const at = this.now();
    const id = newId('mv', at);
    // The lookup record goes first (a crash leaves one that names no version: ignored), so that a taint
    // looking for this dataset's models cannot miss a version being registered (see the re-check below).
    await this.index.put(
      {
        _id: id,
        name: req.name,
        version: 0,
        stage: 'none',
        authorId: run.authorId,
        runId: run._id,
        datasetVersionId: run.datasetVersionId,
        tainted: dataset.tainted,
        seq: 0,
      },
      signal,
    );
    const taintReason = dataset.tainted ? taintedBy(dataset._id, dataset.taintReason) : '';
    const mv = await this.change(
      req.name,
      signal,
      (r) => {
        const entry: VersionEntry = {
          id,
          version: r.latestVersion + 1,
          runId: run._id,
          datasetVersionId: run.datasetVersionId,
          authorId: run.authorId,
          baseModel: run.baseModel,
          servingModelId: req.servingModelId,
          weightsKind: weightsKind ?? '',
          artifacts,
          evalMetrics: keyValues(req.evalMetrics),
          createTime: at,
          stage: 'none',
          pending: null,
          tainted: dataset.tainted,
          taintReason,
          approvedAt: 0,
          rolledBackAt: 0,
          evaluation: evaluation ?? null,
          rejectionReason: '',
        };
        r.latestVersion = entry.version;
        r.versions.push(entry);
        const transitions: TransitionRec[] = [];
        // A rejected version is registered REJECTED (so ModelVersionRegistered already says so), and the
        // change from NONE is published and recorded like any other, for consumers and history that
        // follow stages.
        const rejected = rejectionReason
          ? stageEvent(r, entry, 'none', 'registry', () => {
              transitions.push(applied(r, entry, 'rejected', at, 'registry', 'evaluation', rejectionReason));
              entry.stage = 'rejected';
              entry.rejectionReason = rejectionReason;
            })
          : undefined;
        const events: Emitted[] = [
          {
            key: id,
            event: { case: 'modelVersionRegistered', value: { modelVersion: toModelVersion(r, entry) } },
          },
        ];
        if (rejected) events.push(rejected);
        if (entry.tainted) events.push(taintEvent(id, taintReason));
        return { events, transitions, versions: [id], result: (w) => toModelVersion(w, versionOf(w, id)) };
      },
      { create: true },
    );
    // A taint that reached the dataset while this version was being registered may have missed it.
    const now = await this.datasets.getRecord(run.datasetVersionId, signal);
    if (now.tainted && !mv.tainted) {
      await this.taint(req.name, [id], taintedBy(now._id, now.taintReason), signal);
      return this.get(id, signal);
    }
    return mv;
  }

  /** A version by id, or by "<name>@<alias>" ("production" is the version in production). */
  async resolve(ref: string, signal?: AbortSignal): Promise<{ record: ModelRecord; entry: VersionEntry }> {
    requireText(ref, 'id', 'a model version id or "<name>@<alias>"');
    const at = ref.lastIndexOf('@');
    if (at > 0) {
      const name = ref.slice(0, at);
      const alias = ref.slice(at + 1);
      const record = await this.records.get(name, signal);
      if (!record) throw notFound(`model "${name}" does not exist`);
      const entry =
        alias === PRODUCTION_ALIAS
          ? record.versions.find((v) => v.stage === 'production')
          : record.versions.find((v) => v.id === record.aliases.find((a) => a.alias === alias)?.versionId);
      if (!entry)
        throw notFound(
          alias === PRODUCTION_ALIAS
            ? `no version of model "${name}" is in production`
            : `model "${name}" has no alias "${alias}"`,
        );
      return { record, entry };
    }
    const index = await this.index.get(ref, signal);
    const record = index ? await this.records.get(index.name, signal) : undefined;
    const entry = record?.versions.find((v) => v.id === ref);
    if (!record || !entry) throw notFound(`model version "${ref}" does not exist`);
    return { record, entry };
  }

  async get(ref: string, signal?: AbortSignal): Promise<registryv1.ModelVersion> {
    const { record, entry } = await this.resolve(ref, signal);
    return toModelVersion(record, entry);
  }

  async list(
    q: { name: string; stage: registryv1.Stage; authorId: string },
    page: Page,
    signal?: AbortSignal,
  ): Promise<{ page: ModelVersionIndexRecord[]; versions: registryv1.ModelVersion[] }> {
    const filter: Filter = {};
    if (q.name) filter['name'] = q.name;
    const stage = q.stage === registryv1.Stage.UNSPECIFIED ? undefined : stageName(q.stage);
    if (q.stage !== registryv1.Stage.UNSPECIFIED && !stage)
      throw invalidArgument(`stage ${q.stage} is unknown`, [{ field: 'stage', message: 'unknown' }]);
    if (stage) filter['stage'] = stage;
    if (q.authorId) filter['authorId'] = q.authorId;
    if (page.after) filter['_id'] = { $lt: page.after };
    const found = await this.index.find(
      filter,
      { sort: [{ field: '_id', direction: 'desc' }], limit: page.size },
      signal,
    );
    const models = new Map<string, ModelRecord | undefined>();
    const versions = [];
    for (const item of found) {
      if (!models.has(item.name)) models.set(item.name, await this.records.get(item.name, signal));
      const record = models.get(item.name);
      const entry = record?.versions.find((v) => v.id === item._id);
      // Records of a crashed registration name no version; a stage filter is checked on the source.
      if (record && entry && (!stage || entry.stage === stage)) versions.push(toModelVersion(record, entry));
    }
    return { page: found, versions };
  }

  async requestTransition(req: registryv1.RequestStageTransitionRequest, signal?: AbortSignal) {
    const to = stageName(req.stage);
    if (!to)
      throw invalidArgument(
        'stage is required: STAGE_CANDIDATE, STAGE_PRODUCTION (after a review), STAGE_ARCHIVED or STAGE_NONE',
        [{ field: 'stage', message: 'none, candidate, production or archived' }],
      );
    if (to === 'rejected')
      throw invalidArgument(
        'STAGE_REJECTED cannot be requested: a version is rejected when it is registered with rejection_reason (a failed evaluation gate); archive it instead',
        [{ field: 'stage', message: 'none, candidate, production or archived' }],
      );
    const { record } = await this.resolve(req.modelVersionId, signal);
    const id = versionIdOf(record, req.modelVersionId);
    return this.change(record._id, signal, (r, at) => {
      const v = versionOf(r, id);
      if (v.stage === 'rejected')
        throw failedPrecondition(
          `model version ${label(r, v)} was rejected (${v.rejectionReason}): it can never move to another stage; train and register a new version`,
        );
      if (to === 'production' && v.tainted)
        throw failedPrecondition(
          `model version ${label(r, v)} is tainted (${v.taintReason}): it can never go to production`,
        );
      if (v.stage === to)
        throw failedPrecondition(`model version ${label(r, v)} is already ${to.toUpperCase()}`);
      const transitions: TransitionRec[] = v.pending
        ? [{ ...v.pending, state: 'superseded', reviewTime: at }]
        : [];
      const t: TransitionRec = {
        id: newId('st', at),
        modelVersionId: v.id,
        modelName: r._id,
        fromStage: v.stage,
        toStage: to,
        state: to === 'production' ? 'pending' : 'applied',
        requestedBy: req.requestedBy,
        requestComment: req.comment,
        reviewer: '',
        reviewComment: '',
        requestTime: at,
        reviewTime: 0,
        cause: 'request',
      };
      transitions.push(t);
      v.pending = null;
      const events: Emitted[] = [];
      if (to === 'production') {
        v.pending = t;
      } else {
        events.push(stageEvent(r, v, v.stage, req.requestedBy, () => (v.stage = to)));
      }
      return {
        transitions,
        events,
        versions: [v.id],
        result: (w) => ({ modelVersion: toModelVersion(w, versionOf(w, id)), transition: toTransition(t) }),
      };
    });
  }

  async reviewTransition(req: registryv1.ReviewStageTransitionRequest, signal?: AbortSignal) {
    const { record } = await this.resolve(req.modelVersionId, signal);
    const id = versionIdOf(record, req.modelVersionId);
    return this.change(record._id, signal, (r, at) => {
      const v = versionOf(r, id);
      if (!v.pending)
        throw failedPrecondition(
          `model version ${label(r, v)} has no transition waiting for review: request one first (stage production)`,
        );
      const reviewed: TransitionRec = {
        ...v.pending,
        state: req.approve ? 'approved' : 'rejected',
        reviewer: req.reviewer,
        reviewComment: req.comment,
        reviewTime: at,
      };
      const transitions: TransitionRec[] = [reviewed];
      const events: Emitted[] = [];
      if (req.approve) {
        if (v.tainted)
          throw failedPrecondition(
            `model version ${label(r, v)} is tainted (${v.taintReason}): it cannot be approved into production; reject the request`,
          );
        const current = r.versions.find((o) => o.stage === 'production' && o.id !== v.id);
        if (current) {
          transitions.push(applied(r, current, 'archived', at, req.reviewer, 'demoted', req.comment));
          events.push(stageEvent(r, current, 'production', req.reviewer, () => (current.stage = 'archived')));
        }
        events.push(
          stageEvent(r, v, v.stage, req.reviewer, () => {
            v.stage = reviewed.toStage;
            v.approvedAt = at;
          }),
        );
      }
      v.pending = null;
      return {
        transitions,
        events,
        versions: r.versions.map((o) => o.id).filter((o) => events.some((e) => e.key === o) || o === id),
        result: (w) => ({
          modelVersion: toModelVersion(w, versionOf(w, id)),
          transition: toTransition(reviewed),
        }),
      };
    });
  }

  async rollback(req: registryv1.RollbackProductionRequest, signal?: AbortSignal) {
    checkName(req.name, 'name', 'model');
    if (!(await this.records.get(req.name, signal))) throw notFound(`model "${req.name}" does not exist`);
    return this.change(req.name, signal, (r, at) => {
      const current = r.versions.find((v) => v.stage === 'production');
      const target = r.versions
        .filter((v) => v.approvedAt > 0 && !v.tainted && v !== current && v.rolledBackAt < v.approvedAt)
        .sort((a, b) => b.approvedAt - a.approvedAt)[0];
      if (!target)
        throw failedPrecondition(
          `model "${r._id}" has no earlier approved, untainted version to roll back to` +
            (current ? ` (${label(r, current)} stays in production)` : ''),
        );
      const transitions: TransitionRec[] = [];
      const events: Emitted[] = [];
      if (current) {
        transitions.push(applied(r, current, 'archived', at, req.reviewer, 'rollback', req.comment));
        events.push(
          stageEvent(r, current, 'production', req.reviewer, () => {
            current.stage = 'archived';
            current.rolledBackAt = at;
          }),
        );
      }
      if (target.pending)
        transitions.push({ ...target.pending, state: 'superseded' as const, reviewTime: at });
      transitions.push(applied(r, target, 'production', at, req.reviewer, 'rollback', req.comment));
      events.push(
        stageEvent(r, target, target.stage, req.reviewer, () => {
          target.stage = 'production';
          target.pending = null;
        }),
      );
      const ids = events.map((e) => e.key);
      return {
        transitions,
        events,
        versions: ids,
        result: (w) => ({
          modelVersion: toModelVersion(w, versionOf(w, target.id)),
          ...(current ? { previous: toModelVersion(w, versionOf(w, current.id)) } : {}),
        }),
      };
    });
  }

  async listTransitions(req: registryv1.ListStageTransitionsRequest, signal?: AbortSignal) {
    let filter: Filter;
    if (req.modelVersionId) {
      const { record } = await this.resolve(req.modelVersionId, signal);
      filter = { modelVersionId: versionIdOf(record, req.modelVersionId) };
    } else if (req.name) {
      filter = { modelName: req.name };
    } else {
      throw invalidArgument('model_version_id or name is required', [
        { field: 'model_version_id', message: 'or name' },
      ]);
    }
    const found = await this.transitions.find(
      filter,
      { sort: [{ field: 'requestTime', direction: 'asc' }], limit: 5000 },
      signal,
    );
    return found.map((t) => toTransition(fromTransitionRecord(t)));
  }

  async setAlias(req: registryv1.SetModelAliasRequest, signal?: AbortSignal) {
    if (req.alias.toLowerCase() === PRODUCTION_ALIAS)
      throw invalidArgument(
        '"production" follows the stage and cannot be set: request a transition to STAGE_PRODUCTION instead',
        [{ field: 'alias', message: 'reserved' }],
      );
    if (!ALIAS.test(req.alias))
      throw invalidArgument(
        `alias "${req.alias}" is not valid: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters`,
        [{ field: 'alias', message: req.alias ? 'invalid' : 'required' }],
      );
    const { record } = await this.resolve(req.modelVersionId, signal);
    const id = versionIdOf(record, req.modelVersionId);
    return this.change(record._id, signal, (r) => {
      const unchanged = r.aliases.some((a) => a.alias === req.alias && a.versionId === id);
      // An alias names one version per model: setting it moves it.
      r.aliases = [...r.aliases.filter((a) => a.alias !== req.alias), { alias: req.alias, versionId: id }];
      return { unchanged, result: (w) => toModelVersion(w, versionOf(w, id)) };
    });
  }

  /**
   * Marks versions tainted: each publishes ArtifactTainted; one in production leaves it (archived, cause
   * "taint", ModelStageChanged so the router stops serving it); a pending production request is rejected.
   * Versions already tainted are left as they are. Returns the versions it changed.
   */
  async taint(name: string, ids: readonly string[], reason: string, signal?: AbortSignal) {
    if (!(await this.records.get(name, signal))) return [];
    return this.change(name, signal, (r, at) => {
      const changed = r.versions.filter((v) => ids.includes(v.id) && !v.tainted);
      const transitions: TransitionRec[] = [];
      const events: Emitted[] = [];
      for (const v of changed) {
        v.tainted = true;
        v.taintReason = reason;
        events.push(taintEvent(v.id, reason));
        if (v.pending) {
          transitions.push({
            ...v.pending,
            state: 'rejected' as const,
            reviewer: 'registry',
            reviewComment: reason,
            reviewTime: at,
          });
          v.pending = null;
        }
        if (v.stage === 'production') {
          transitions.push(applied(r, v, 'archived', at, 'registry', 'taint', reason));
          events.push(stageEvent(r, v, 'production', 'registry', () => (v.stage = 'archived')));
        }
      }
      const versions = changed.map((v) => v.id);
      return { transitions, events, versions, unchanged: changed.length === 0, result: () => versions };
    });
  }

  /** Index records of the versions trained on these dataset versions, or from these runs. */
  async using(
    q: { datasetVersionIds?: readonly string[]; runIds?: readonly string[] },
    signal?: AbortSignal,
  ) {
    const found: ModelVersionIndexRecord[] = [];
    for (const id of new Set(q.datasetVersionIds ?? []))
      found.push(...(await this.index.find({ datasetVersionId: id }, {}, signal)));
    for (const id of new Set(q.runIds ?? []))
      found.push(...(await this.index.find({ runId: id }, {}, signal)));
    return found;
  }

  /** The model records of these names (absent ones left out). */
  async models(names: readonly string[], signal?: AbortSignal): Promise<Map<string, ModelRecord>> {
    const found = new Map<string, ModelRecord>();
    for (const r of await this.records.getMany([...new Set(names)], signal)) found.set(r._id, r);
    return found;
  }

  /**
   * Applies `fn` to a copy of the model record (created empty with `create`) and writes it with its markers
   * by compare-and-set, retrying on a concurrent change; then delivers the markers.
   */
  private async change<R>(
    name: string,
    signal: AbortSignal | undefined,
    fn: (record: ModelRecord, at: number) => Change<R>,
    options: { create?: boolean } = {},
  ): Promise<R> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.records.get(name, signal);
      if (!current && !options.create) throw notFound(`model "${name}" does not exist`);
      const base: ModelRecord = current ?? { _id: name, rev: 0, latestVersion: 0, versions: [], aliases: [] };
      const draft = deepCopy(base);
      const at = this.now();
      const change = fn(draft, at);
      if (change.unchanged && current) {
        if (current.outboxPending) await this.outbox.deliver(current, signal);
        return change.result(current);
      }
      const effects: ModelEffects = {
        versions: change.versions ?? [],
        transitions: change.transitions ?? [],
        seq: base.rev + 1,
      };
      const events = change.events ?? [];
      const markers: OutboxMarker[] = events.map((e, i) =>
        eventMarker(e.key, e.event, at, i === 0 ? (effects as unknown as { [field: string]: Value }) : {}),
      );
      if (markers.length === 0 && (effects.versions.length > 0 || effects.transitions.length > 0))
        markers.push(eventMarker('', undefined, at, effects as unknown as { [field: string]: Value }));
      const next = withMarkers(draft, markers);
      if (await this.records.replaceIf(next, current ? { rev: current.rev } : null, signal)) {
        await this.outbox.deliver(next, signal);
        return change.result(next);
      }
    }
    throw conflict(`model "${name}" kept changing while this change was being made; try again`);
  }

  private async writeDerived(record: ModelRecord, markers: readonly OutboxMarker[], signal?: AbortSignal) {
    const versions = new Set<string>();
    for (const m of markers) {
      const effects = m.effects as unknown as Partial<ModelEffects>;
      for (const id of effects.versions ?? []) versions.add(id);
      for (const t of effects.transitions ?? []) {
        const { id, ...rest } = t;
        await putIfNewer(this.transitions, { _id: id, ...rest, seq: effects.seq ?? 0 }, signal);
      }
    }
    for (const id of versions) {
      const entry = record.versions.find((v) => v.id === id);
      if (entry) await putIfNewer(this.index, indexRecord(record, entry), signal);
    }
  }
}
