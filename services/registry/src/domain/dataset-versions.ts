// Dataset versions: immutable, numbered per dataset name, idempotent on (dataset, content hash). Only the
// taint can change after creation. Every source document is also kept as one record per (version,
// document) so that lineage and taint can find what a document went into (the warehouse cannot filter on
// array elements).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { registryv1 } from '@llmtwin/contracts';
import type { Collection, Filter, Record as StoredRecord, Warehouse, EventBus } from '@llmtwin/ports';
import {
  conflict,
  failedPrecondition,
  invalidArgument,
  isDomainError,
  notFound,
} from '@llmtwin/runtime/errors';
import {
  checkArtifact,
  checkName,
  checkSha256,
  newId,
  requireText,
  timestamp,
  type Clock,
} from './common.js';
import { deletionReason, type DeletedDocuments } from './deleted-documents.js';
import { eventMarker, MAX_CAS_ATTEMPTS, Outbox, withMarkers, type OutboxRecord } from './outbox.js';

/** A DatasetVersionCreated above this size goes out without its source list (GetDatasetVersion has it). */
export const MAX_EVENT_SOURCES_BYTES = 512 * 1024;
export const MAX_SOURCES = 100_000;

export type DatasetKindName = 'instruct' | 'preference';
const kindNames: Partial<Record<registryv1.DatasetKind, DatasetKindName>> = {
  [registryv1.DatasetKind.INSTRUCT]: 'instruct',
  [registryv1.DatasetKind.PREFERENCE]: 'preference',
};
const defaultSchema: Record<DatasetKindName, string> = {
  instruct: 'chat-messages/1',
  preference: 'prompt-chosen-rejected/1',
};

export interface DatasetVersionRecord extends OutboxRecord {
  dataset: string;
  version: number;
  kind: DatasetKindName;
  authorId: string;
  contentHash: string;
  createTime: number;
  tainted: boolean;
  taintReason: string;
  /** The DatasetVersion as created (splits, generator, stats, sources, filter), binary. */
  proto: Uint8Array;
}

/** One source document of one dataset version. */
export interface DatasetSourceRecord extends StoredRecord {
  datasetVersionId: string;
  documentId: string;
  version: number;
  sourceId: string;
  canonicalUrl: string;
  title: string;
  cleanedContentHash: string;
  rawContentHash: string;
}

export interface Page {
  size: number;
  /** The last id of the previous page (lists are newest first). */
  after: string;
}

export function toDatasetVersion(r: DatasetVersionRecord): registryv1.DatasetVersion {
  const dv = fromBinary(registryv1.DatasetVersionSchema, r.proto);
  dv.tainted = r.tainted;
  dv.taintReason = r.taintReason;
  return dv;
}

export const datasetLabel = (r: Pick<DatasetVersionRecord, 'dataset' | 'version'>) =>
  `${r.dataset} v${r.version}`;

function validate(req: registryv1.CreateDatasetVersionRequest) {
  checkName(req.dataset, 'dataset', 'dataset');
  const kind = kindNames[req.kind];
  if (!kind) {
    throw invalidArgument('kind is required: DATASET_KIND_INSTRUCT (SFT) or DATASET_KIND_PREFERENCE (DPO)', [
      { field: 'kind', message: 'instruct or preference' },
    ]);
  }
  requireText(req.authorId, 'author_id', 'whose writing the dataset was built from');
  if (req.splits.length === 0) {
    throw invalidArgument('splits is required: at least one split (e.g. "train") with its example count', [
      { field: 'splits', message: 'at least one' },
    ]);
  }
  const names = new Set<string>();
  req.splits.forEach((s, i) => {
    requireText(s.name, `splits[${i}].name`, 'the split\'s name, e.g. "train" or "test"');
    if (names.has(s.name))
      throw invalidArgument(`splits[${i}].name "${s.name}" appears twice`, [
        { field: `splits[${i}].name`, message: 'duplicate' },
      ]);
    names.add(s.name);
    if (s.examples < 0n)
      throw invalidArgument(`splits[${i}].examples must not be negative`, [
        { field: `splits[${i}].examples`, message: '>= 0' },
      ]);
    if (s.artifact) checkArtifact(s.artifact, `splits[${i}].artifact`);
  });
  if (!req.splits.some((s) => s.examples > 0n)) {
    throw invalidArgument('the dataset has no examples: at least one split must have examples > 0', [
      { field: 'splits', message: 'no examples' },
    ]);
  }
  checkSha256(req.contentHash, 'content_hash', true);
  if (req.splitBy !== '' && req.splitBy !== 'document' && req.splitBy !== 'time') {
    throw invalidArgument(`split_by "${req.splitBy}" is unknown: "document" or "time"`, [
      { field: 'split_by', message: 'document or time' },
    ]);
  }
  if (req.sources.length === 0) {
    throw invalidArgument(
      'sources is required: the documents (id, version, hashes) the dataset was built from, for lineage and taint',
      [{ field: 'sources', message: 'at least one' }],
    );
  }
  if (req.sources.length > MAX_SOURCES)
    throw invalidArgument(`at most ${MAX_SOURCES} sources per dataset version`, [
      { field: 'sources', message: 'too many' },
    ]);
  const seen = new Set<string>();
  req.sources.forEach((s, i) => {
    const f = `sources[${i}]`;
    requireText(s.documentId, `${f}.document_id`, 'the document id');
    if (s.version < 1n)
      throw invalidArgument(`${f}.version must be at least 1 (the document version used)`, [
        { field: `${f}.version`, message: '>= 1' },
      ]);
    checkSha256(s.cleanedContentHash, `${f}.cleaned_content_hash`, true);
    checkSha256(s.rawContentHash, `${f}.raw_content_hash`, false);
    const key = `${s.documentId}@${s.version}`;
    if (seen.has(key))
      throw invalidArgument(`${f} repeats document ${key}`, [{ field: f, message: 'duplicate' }]);
    seen.add(key);
  });
  return { kind };
}

export class DatasetVersions {
  readonly records: Collection<DatasetVersionRecord>;
  readonly sources: Collection<DatasetSourceRecord>;
  readonly outbox: Outbox<DatasetVersionRecord>;

  constructor(
    warehouse: Warehouse,
    bus: EventBus,
    private readonly deleted: DeletedDocuments,
    private readonly now: Clock = Date.now,
  ) {
    this.records = warehouse.collection<DatasetVersionRecord>('registry_dataset_versions');
    this.sources = warehouse.collection<DatasetSourceRecord>('registry_dataset_sources');
    this.outbox = new Outbox(this.records, bus);
  }

  async init(): Promise<void> {
    const asc = 'asc' as const;
    await this.records.ensureIndex({
      fields: [
        { field: 'dataset', direction: asc },
        { field: 'version', direction: asc },
      ],
      unique: true,
    });
    await this.records.ensureIndex({
      fields: [
        { field: 'dataset', direction: asc },
        { field: 'contentHash', direction: asc },
      ],
      unique: true,
    });
    await this.records.ensureIndex({ fields: [{ field: 'authorId', direction: asc }] });
    await this.outbox.init();
    for (const field of ['datasetVersionId', 'documentId', 'sourceId'])
      await this.sources.ensureIndex({ fields: [{ field, direction: asc }] });
  }

  async create(
    req: registryv1.CreateDatasetVersionRequest,
    signal?: AbortSignal,
  ): Promise<{ datasetVersion: registryv1.DatasetVersion; created: boolean }> {
    const { kind } = validate(req);
    const existing = await this.findByContent(req.dataset, req.contentHash, signal);
    if (existing) return { datasetVersion: await this.settle(existing, signal), created: false };

    const sources = req.sources.map((s) => ({ documentId: s.documentId, version: Number(s.version) }));
    const deleted = await this.deleted.covering(sources, signal);
    if (deleted[0]) {
      const d = deleted[0];
      throw failedPrecondition(
        `${deletionReason(d.deleted)} after version ${d.version} was read: rebuild the dataset from the current snapshot`,
      );
    }

    const at = this.now();
    const id = newId('dsv', at);
    // The per-document records go first: a crash before the version exists leaves records that name no
    // version (ignored), never a version whose documents cannot be found by the taint.
    for (const s of req.sources) {
      await this.sources.put(
        {
          _id: `${id}:${s.documentId}@${s.version}`,
          datasetVersionId: id,
          documentId: s.documentId,
          version: Number(s.version),
          sourceId: s.sourceId,
          canonicalUrl: s.canonicalUrl,
          title: s.title,
          cleanedContentHash: s.cleanedContentHash,
          rawContentHash: s.rawContentHash,
        },
        signal,
      );
    }
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [latest] = await this.records.find(
        { dataset: req.dataset },
        { sort: [{ field: 'version', direction: 'desc' }], limit: 1, exclude: ['proto', 'outbox'] },
        signal,
      );
      const version = (latest?.version ?? 0) + 1;
      const dv = create(registryv1.DatasetVersionSchema, {
        id,
        dataset: req.dataset,
        version: BigInt(version),
        kind: req.kind,
        authorId: req.authorId,
        splits: req.splits,
        schemaVersion: req.schemaVersion || defaultSchema[kind],
        ...(req.generator ? { generator: req.generator } : {}),
        ...(req.stats ? { stats: req.stats } : {}),
        contentHash: req.contentHash,
        sources: req.sources,
        ...(req.filter ? { filter: req.filter } : {}),
        splitBy: req.splitBy || 'document',
        createTime: timestamp(at)!,
      });
      const base: DatasetVersionRecord = {
        _id: id,
        rev: 0,
        dataset: req.dataset,
        version,
        kind,
        authorId: req.authorId,
        contentHash: req.contentHash,
        createTime: at,
        tainted: false,
        taintReason: '',
        proto: toBinary(registryv1.DatasetVersionSchema, dv),
      };
      const record = withMarkers(base, [
        eventMarker(id, { case: 'datasetVersionCreated', value: { datasetVersion: eventCopy(dv) } }, at),
      ]);
      try {
        await this.records.insert(record, signal);
      } catch (err) {
        if (!isDomainError(err, 'already-exists')) throw err;
        // Another creation won: the same content (return it), or the same version number (count again).
        const same = await this.findByContent(req.dataset, req.contentHash, signal);
        if (same) {
          await this.sources.deleteMany({ datasetVersionId: id }, signal);
          return { datasetVersion: await this.settle(same, signal), created: false };
        }
        continue;
      }
      await this.outbox.deliver(record, signal);
      // A tombstone that arrived while this version was being written found its documents but not yet
      // the version: taint it here.
      const late = await this.deleted.covering(sources, signal);
      if (late[0]) {
        const tainted = await this.taint(id, deletionReason(late[0].deleted), signal);
        return { datasetVersion: toDatasetVersion(tainted.record), created: true };
      }
      return { datasetVersion: toDatasetVersion(record), created: true };
    }
    throw conflict(
      `dataset ${req.dataset} kept getting new versions while this one was being stored; try again`,
    );
  }

  async getRecord(id: string, signal?: AbortSignal): Promise<DatasetVersionRecord> {
    const record = id ? await this.records.get(id, signal) : undefined;
    if (!record) throw notFound(`dataset version "${id}" does not exist`);
    return record;
  }

  async get(id: string, signal?: AbortSignal): Promise<registryv1.DatasetVersion> {
    return toDatasetVersion(await this.getRecord(id, signal));
  }

  async list(
    q: { dataset: string; authorId: string },
    page: Page,
    signal?: AbortSignal,
  ): Promise<DatasetVersionRecord[]> {
    const filter: Filter = {};
    if (q.dataset) filter['dataset'] = q.dataset;
    if (q.authorId) filter['authorId'] = q.authorId;
    if (page.after) filter['_id'] = { $lt: page.after };
    return this.records.find(
      filter,
      { sort: [{ field: '_id', direction: 'desc' }], limit: page.size, exclude: ['outbox'] },
      signal,
    );
  }

  /** Marks a version tainted (once: the first reason stays) and publishes ArtifactTainted. */
  async taint(
    id: string,
    reason: string,
    signal?: AbortSignal,
  ): Promise<{ record: DatasetVersionRecord; changed: boolean }> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.getRecord(id, signal);
      if (current.tainted) return { record: current, changed: false };
      const next = withMarkers({ ...current, tainted: true, taintReason: reason }, [
        eventMarker(
          id,
          {
            case: 'artifactTainted',
            value: { type: registryv1.ArtifactType.DATASET_VERSION, id, reason },
          },
          this.now(),
        ),
      ]);
      if (await this.records.replaceIf(next, { rev: current.rev }, signal)) {
        await this.outbox.deliver(next, signal);
        return { record: next, changed: true };
      }
    }
    throw conflict(`dataset version ${id} kept changing while it was being tainted; try again`);
  }

  /** The versions that used any version of this document below `beforeVersion` (or any, when 0). */
  async usingDocument(
    documentId: string,
    beforeVersion: number,
    signal?: AbortSignal,
  ): Promise<DatasetSourceRecord[]> {
    const filter: Filter = { documentId };
    if (beforeVersion > 0) filter['version'] = { $lt: beforeVersion };
    return this.sources.find(filter, { sort: [{ field: 'datasetVersionId', direction: 'asc' }] }, signal);
  }

  /** Existing versions among these ids (per-document records of a crashed creation name none). */
  async existing(ids: readonly string[], signal?: AbortSignal): Promise<Map<string, DatasetVersionRecord>> {
    const found = new Map<string, DatasetVersionRecord>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 500) {
      for (const r of await this.records.getMany(unique.slice(i, i + 500), signal)) found.set(r._id, r);
    }
    return found;
  }

  private async findByContent(dataset: string, contentHash: string, signal?: AbortSignal) {
    const [found] = await this.records.find({ dataset, contentHash }, { limit: 1 }, signal);
    return found;
  }

  /** An existing version, its pending event delivered first (a retry after a failed publish). */
  private async settle(record: DatasetVersionRecord, signal?: AbortSignal) {
    if (record.outboxPending) await this.outbox.deliver(record, signal);
    return toDatasetVersion(record);
  }
}

/** The event's copy: without the source list when that would make the event too large for the bus. */
function eventCopy(dv: registryv1.DatasetVersion): registryv1.DatasetVersion {
  if (toBinary(registryv1.DatasetVersionSchema, dv).byteLength <= MAX_EVENT_SOURCES_BYTES) return dv;
  return create(registryv1.DatasetVersionSchema, { ...dv, sources: [] });
}
