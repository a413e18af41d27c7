// How model versions are stored. One record per model NAME holds every version of that name with its
// stage, pending review, taint and aliases: a promotion (which archives the previous production version),
// a rollback, an alias move or a taint changes several versions at once, and one compare-and-set on one
// record makes that atomic without transactions. Two derived collections, written by the outbox deliverer
// after each change (newer wins), serve lookups and lists: one record per version (id → name, stage,
// author, run, dataset) and the stage-transition history.
import { create } from '@bufbuild/protobuf';
import { registryv1 } from '@llmtwin/contracts';
import type { Record as StoredRecord } from '@llmtwin/ports';
import { notFound } from '@llmtwin/runtime/errors';
import {
  artifactProto,
  keyValueMap,
  newId,
  timestamp,
  type ArtifactRecord,
  type KeyValue,
} from './common.js';
import { evaluationProto, type EvaluationRecord } from './evaluation.js';
import type { OutboxRecord, RegistryEventCase } from './outbox.js';

export type StageName = 'none' | 'candidate' | 'production' | 'archived' | 'rejected';
export type TransitionStateName = 'pending' | 'approved' | 'rejected' | 'applied' | 'superseded';
export type WeightsKindName = 'adapter' | 'merged' | '';

export const stages: Record<StageName, registryv1.Stage> = {
  none: registryv1.Stage.NONE,
  candidate: registryv1.Stage.CANDIDATE,
  production: registryv1.Stage.PRODUCTION,
  archived: registryv1.Stage.ARCHIVED,
  rejected: registryv1.Stage.REJECTED,
};
export const stageName = (s: registryv1.Stage): StageName | undefined =>
  (Object.keys(stages) as StageName[]).find((k) => stages[k] === s);

const transitionStates: Record<TransitionStateName, registryv1.TransitionState> = {
  pending: registryv1.TransitionState.PENDING,
  approved: registryv1.TransitionState.APPROVED,
  rejected: registryv1.TransitionState.REJECTED,
  applied: registryv1.TransitionState.APPLIED,
  superseded: registryv1.TransitionState.SUPERSEDED,
};

export const weightsKinds: Record<Exclude<WeightsKindName, ''>, registryv1.WeightsKind> = {
  adapter: registryv1.WeightsKind.ADAPTER,
  merged: registryv1.WeightsKind.MERGED,
};

export type TransitionRec = {
  id: string;
  modelVersionId: string;
  modelName: string;
  fromStage: StageName;
  toStage: StageName;
  state: TransitionStateName;
  requestedBy: string;
  requestComment: string;
  reviewer: string;
  reviewComment: string;
  requestTime: number;
  reviewTime: number;
  /** 'request', 'review', 'rollback', 'taint', 'demoted' or 'evaluation' (registered rejected). */
  cause: string;
};

export type VersionEntry = {
  id: string;
  version: number;
  runId: string;
  datasetVersionId: string;
  authorId: string;
  baseModel: string;
  servingModelId: string;
  weightsKind: WeightsKindName;
  artifacts: ArtifactRecord[];
  evalMetrics: KeyValue[];
  createTime: number;
  stage: StageName;
  /** The production request waiting for a review, or null. */
  pending: TransitionRec | null;
  tainted: boolean;
  taintReason: string;
  /** When a review last approved it into production (0: never): what a rollback goes back to. */
  approvedAt: number;
  /** When a rollback last took it out of production: not a rollback target again until re-approved. */
  rolledBackAt: number;
  /** Absent on versions registered before evaluations were recorded. */
  evaluation?: EvaluationRecord | null;
  /** Why a gate rejected it (stage 'rejected'); absent or '' otherwise. */
  rejectionReason?: string;
};

export interface ModelRecord extends OutboxRecord {
  /** The model name. */
  _id: string;
  latestVersion: number;
  versions: VersionEntry[];
  /** User aliases ("champion", ...); "production" is not stored, it follows the stage. */
  aliases: { alias: string; versionId: string }[];
}

/** One version, for lookups by id and lists (derived from the model record; `seq` = its `rev`). */
export interface ModelVersionIndexRecord extends StoredRecord {
  name: string;
  version: number;
  stage: StageName;
  authorId: string;
  runId: string;
  datasetVersionId: string;
  tainted: boolean;
  seq: number;
}

export interface TransitionRecord extends StoredRecord, Omit<TransitionRec, 'id'> {
  seq: number;
}

/** What a model record's marker asks the deliverer to write. */
export type ModelEffects = {
  /** Versions whose index records to refresh. */
  versions: string[];
  transitions: TransitionRec[];
  /** The model record's `rev` at the change: newer history records win. */
  seq: number;
};

export const PRODUCTION_ALIAS = 'production';

export function aliasesOf(r: ModelRecord, v: VersionEntry): string[] {
  const own = r.aliases
    .filter((a) => a.versionId === v.id)
    .map((a) => a.alias)
    .sort();
  return v.stage === 'production' ? [PRODUCTION_ALIAS, ...own] : own;
}

export function toModelVersion(r: ModelRecord, v: VersionEntry): registryv1.ModelVersion {
  return create(registryv1.ModelVersionSchema, {
    id: v.id,
    name: r._id,
    version: BigInt(v.version),
    runId: v.runId,
    artifacts: v.artifacts.map(artifactProto),
    stage: stages[v.stage],
    pendingStage: v.pending ? stages[v.pending.toStage] : registryv1.Stage.UNSPECIFIED,
    evalMetrics: keyValueMap(v.evalMetrics),
    ...(v.createTime ? { createTime: timestamp(v.createTime)! } : {}),
    tainted: v.tainted,
    servingModelId: v.servingModelId,
    baseModel: v.baseModel,
    weightsKind: v.weightsKind ? weightsKinds[v.weightsKind] : registryv1.WeightsKind.UNSPECIFIED,
    datasetVersionId: v.datasetVersionId,
    authorId: v.authorId,
    aliases: aliasesOf(r, v),
    taintReason: v.taintReason,
    ...(v.evaluation ? { evaluation: evaluationProto(v.evaluation) } : {}),
    rejectionReason: v.rejectionReason ?? '',
  });
}

export function toTransition(t: TransitionRec): registryv1.StageTransition {
  return create(registryv1.StageTransitionSchema, {
    id: t.id,
    modelVersionId: t.modelVersionId,
    modelName: t.modelName,
    fromStage: stages[t.fromStage],
    toStage: stages[t.toStage],
    state: transitionStates[t.state],
    requestedBy: t.requestedBy,
    requestComment: t.requestComment,
    reviewer: t.reviewer,
    reviewComment: t.reviewComment,
    ...(t.requestTime ? { requestTime: timestamp(t.requestTime)! } : {}),
    ...(t.reviewTime ? { reviewTime: timestamp(t.reviewTime)! } : {}),
    cause: t.cause,
  });
}

export function fromTransitionRecord(r: TransitionRecord): TransitionRec {
  const { _id, seq: _seq, ...rest } = r;
  return { ...rest, id: _id };
}

export function indexRecord(r: ModelRecord, v: VersionEntry): ModelVersionIndexRecord {
  return {
    _id: v.id,
    name: r._id,
    version: v.version,
    stage: v.stage,
    authorId: v.authorId,
    runId: v.runId,
    datasetVersionId: v.datasetVersionId,
    tainted: v.tainted,
    seq: r.rev,
  };
}

export const modelLabel = (name: string, version: number) => `${name} v${version}`;

/** An event a change publishes, with its key. */
export type Emitted = { key: string; event: RegistryEventCase };

/** A copy to change freely (structuredClone's objects come from another realm under some test runners). */
export function deepCopy<T>(value: T): T {
  if (value instanceof Uint8Array) return value.slice() as T;
  if (Array.isArray(value)) return value.map(deepCopy) as T;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepCopy(v)])) as T;
  return value;
}

export function versionOf(r: ModelRecord, id: string): VersionEntry {
  const v = r.versions.find((o) => o.id === id);
  if (!v) throw notFound(`model version "${id}" does not exist`);
  return v;
}

/** The version id a reference resolved to (the reference may be "<name>@<alias>"). */
export function versionIdOf(r: ModelRecord, ref: string): string {
  if (!ref.includes('@')) return ref;
  const alias = ref.slice(ref.lastIndexOf('@') + 1);
  const v =
    alias === PRODUCTION_ALIAS
      ? r.versions.find((o) => o.stage === 'production')
      : r.versions.find((o) => o.id === r.aliases.find((a) => a.alias === alias)?.versionId);
  if (!v) throw notFound(`model "${r._id}" has no version at "${alias}"`);
  return v.id;
}

export const label = (r: ModelRecord, v: VersionEntry) => `${r._id} v${v.version} (${v.id})`;

export const taintedBy = (datasetVersionId: string, reason: string) =>
  `dataset version ${datasetVersionId} is tainted: ${reason}`;

export const taintEvent = (id: string, reason: string) => ({
  key: id,
  event: {
    case: 'artifactTainted' as const,
    value: { type: registryv1.ArtifactType.MODEL_VERSION, id, reason },
  },
});

/** Applies `apply` to the version and returns its ModelStageChanged (built after the change). */
export function stageEvent(
  r: ModelRecord,
  v: VersionEntry,
  previous: StageName,
  reviewer: string,
  apply: () => void,
): Emitted {
  apply();
  return {
    key: v.id,
    event: {
      case: 'modelStageChanged',
      value: { modelVersion: toModelVersion(r, v), previousStage: stages[previous], reviewer },
    },
  };
}

export function applied(
  r: ModelRecord,
  v: VersionEntry,
  to: StageName,
  at: number,
  by: string,
  cause: string,
  comment: string,
): TransitionRec {
  return {
    id: newId('st', at),
    modelVersionId: v.id,
    modelName: r._id,
    fromStage: v.stage,
    toStage: to,
    state: 'applied',
    requestedBy: by,
    requestComment: comment,
    reviewer: by,
    reviewComment: '',
    requestTime: at,
    reviewTime: at,
    cause,
  };
}
