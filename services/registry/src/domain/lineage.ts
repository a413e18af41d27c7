// Lineage as a graph: source → raw document (id@version) → cleaned document (id@version) → dataset version →
// run → model version. Everything comes from the registry's own records, written when the dataset version,
// run and model version were created, so a query needs no other service.
import { create } from '@bufbuild/protobuf';
import { registryv1 } from '@llmtwin/contracts';
import { invalidArgument, notFound } from '@llmtwin/runtime/errors';
import {
  datasetLabel,
  toDatasetVersion,
  type DatasetSourceRecord,
  type DatasetVersionRecord,
  type DatasetVersions,
} from './dataset-versions.js';
import { deletionReason, type DeletedDocuments } from './deleted-documents.js';
import { modelLabel, type ModelRecord, type VersionEntry } from './model-records.js';
import type { ModelVersions } from './model-versions.js';
import { runLabel, type RunRecord, type Runs } from './runs.js';

const T = registryv1.ArtifactType;
type Node = registryv1.LineageNode;

/** What a dataset version says about one of its documents (its own record or its per-document record). */
type DocRef = Pick<
  DatasetSourceRecord,
  'documentId' | 'version' | 'sourceId' | 'canonicalUrl' | 'title' | 'cleanedContentHash' | 'rawContentHash'
>;

/** "<id>" or "<id>@<version>". */
export function parseDocumentRef(ref: string): { documentId: string; version: number } {
  const at = ref.lastIndexOf('@');
  if (at < 0) return { documentId: ref, version: 0 };
  const version = Number(ref.slice(at + 1));
  if (at === 0 || !Number.isInteger(version) || version < 1)
    throw invalidArgument(
      `"${ref}" is not a document reference: "<document id>" or "<document id>@<version>"`,
      [{ field: 'id', message: 'invalid document reference' }],
    );
  return { documentId: ref.slice(0, at), version };
}

class Graph {
  private readonly nodes = new Map<string, Node>();
  private readonly edges = new Map<string, registryv1.LineageEdge>();

  node(type: registryv1.ArtifactType, id: string, fields: Partial<Omit<Node, 'type' | 'id'>> = {}): Node {
    const key = `${type}:${id}`;
    let n = this.nodes.get(key);
    if (!n) {
      n = create(registryv1.LineageNodeSchema, { type, id, label: id });
      this.nodes.set(key, n);
    }
    if (fields.label) n.label = fields.label;
    if (fields.contentHash) n.contentHash = fields.contentHash;
    if (fields.tainted) {
      n.tainted = true;
      n.taintReason ||= fields.taintReason ?? '';
    }
    return n;
  }

  edge(from: Node, to: Node): void {
    const key = `${from.type}:${from.id}>${to.type}:${to.id}`;
    if (!this.edges.has(key)) this.edges.set(key, create(registryv1.LineageEdgeSchema, { from, to }));
  }

  list(): registryv1.LineageEdge[] {
    return [...this.edges.values()];
  }
}

export class Lineage {
  constructor(
    private readonly datasets: DatasetVersions,
    private readonly runs: Runs,
    private readonly models: ModelVersions,
    private readonly deleted: DeletedDocuments,
  ) {}

  async get(req: registryv1.GetLineageRequest, signal?: AbortSignal): Promise<registryv1.GetLineageResponse> {
    if (!req.id)
      throw invalidArgument('id is required: the artifact to trace', [{ field: 'id', message: 'required' }]);
    const dir =
      req.direction === registryv1.LineageDirection.UNSPECIFIED
        ? registryv1.LineageDirection.BOTH
        : req.direction;
    if (!registryv1.LineageDirection[dir])
      throw invalidArgument(`direction ${req.direction} is unknown`, [
        { field: 'direction', message: 'up, down or both' },
      ]);
    const up = dir !== registryv1.LineageDirection.DOWNSTREAM;
    const down = dir !== registryv1.LineageDirection.UPSTREAM;
    const g = new Graph();
    let root: Node;
    switch (req.type) {
      case T.MODEL_VERSION: {
        const { record, entry } = await this.models.resolve(req.id, signal);
        root = this.modelNode(g, record, entry);
        if (up) {
          const run = await this.runs.getRecord(entry.runId, signal);
          const dataset = await this.datasets.getRecord(run.datasetVersionId, signal);
          g.edge(this.runNode(g, run, dataset), root);
          await this.upFromRun(g, run, dataset, signal);
        }
        break;
      }
      case T.RUN: {
        const run = await this.runs.getRecord(req.id, signal);
        const dataset = await this.datasets.getRecord(run.datasetVersionId, signal);
        root = this.runNode(g, run, dataset);
        if (up) await this.upFromRun(g, run, dataset, signal);
        if (down) await this.downFromRuns(g, [run], new Map([[dataset._id, dataset]]), signal);
        break;
      }
      case T.DATASET_VERSION: {
        const dataset = await this.datasets.getRecord(req.id, signal);
        root = this.datasetNode(g, dataset);
        if (up) await this.upFromDataset(g, dataset, signal);
        if (down) await this.downFromDatasets(g, new Map([[dataset._id, dataset]]), signal);
        break;
      }
      case T.RAW_DOCUMENT:
      case T.CLEANED_DOCUMENT: {
        const { documentId, version } = parseDocumentRef(req.id);
        const links = (await this.datasets.usingDocument(documentId, 0, signal)).filter(
          (l) => !version || l.version === version,
        );
        const datasets = await this.datasets.existing(
          links.map((l) => l.datasetVersionId),
          signal,
        );
        const used = links.filter((l) => datasets.has(l.datasetVersionId));
        const latest = used.reduce((m, l) => Math.max(m, l.version), 0);
        const first = used.find((l) => l.version === latest);
        if (!first)
          throw notFound(
            `document ${req.id} is in no dataset version the registry knows: lineage starts at a dataset version`,
          );
        const docs = await this.docNodes(g, used, signal);
        const rootDocs = docs.get(`${first.documentId}@${first.version}`)!;
        root = req.type === T.RAW_DOCUMENT ? rootDocs.raw : rootDocs.cleaned;
        if (up) for (const l of used) this.upFromDocument(g, l, docs);
        if (down) {
          for (const l of used) {
            const d = docs.get(`${l.documentId}@${l.version}`)!;
            if (req.type === T.RAW_DOCUMENT) g.edge(d.raw, d.cleaned);
            g.edge(d.cleaned, this.datasetNode(g, datasets.get(l.datasetVersionId)!));
          }
          await this.downFromDatasets(g, datasets, signal);
        }
        break;
      }
      case T.SOURCE: {
        const links = await this.datasets.sources.find({ sourceId: req.id }, {}, signal);
        const datasets = await this.datasets.existing(
          links.map((l) => l.datasetVersionId),
          signal,
        );
        const used = links.filter((l) => datasets.has(l.datasetVersionId));
        if (used.length === 0)
          throw notFound(`no dataset version the registry knows was built from source ${req.id}`);
        root = this.sourceNode(g, req.id, used[0]!.canonicalUrl);
        if (down) {
          const docs = await this.docNodes(g, used, signal);
          for (const l of used) {
            const d = docs.get(`${l.documentId}@${l.version}`)!;
            g.edge(root, d.raw);
            g.edge(d.raw, d.cleaned);
            g.edge(d.cleaned, this.datasetNode(g, datasets.get(l.datasetVersionId)!));
          }
          await this.downFromDatasets(g, datasets, signal);
        }
        break;
      }
      default:
        throw invalidArgument(
          'type is required: ARTIFACT_TYPE_MODEL_VERSION, _RUN, _DATASET_VERSION, _CLEANED_DOCUMENT, _RAW_DOCUMENT or _SOURCE',
          [{ field: 'type', message: 'unknown artifact type' }],
        );
    }
    return create(registryv1.GetLineageResponseSchema, { root, edges: g.list() });
  }

  private async upFromRun(g: Graph, run: RunRecord, dataset: DatasetVersionRecord, signal?: AbortSignal) {
    g.edge(this.datasetNode(g, dataset), this.runNode(g, run, dataset));
    await this.upFromDataset(g, dataset, signal);
  }

  private async upFromDataset(g: Graph, dataset: DatasetVersionRecord, signal?: AbortSignal) {
    const sources: DocRef[] = toDatasetVersion(dataset).sources.map((s) => ({
      ...s,
      version: Number(s.version),
    }));
    const docs = await this.docNodes(g, sources, signal);
    const node = this.datasetNode(g, dataset);
    for (const s of sources) {
      this.upFromDocument(g, s, docs);
      g.edge(docs.get(`${s.documentId}@${s.version}`)!.cleaned, node);
    }
  }

  private upFromDocument(g: Graph, s: DocRef, docs: Map<string, { raw: Node; cleaned: Node }>) {
    const d = docs.get(`${s.documentId}@${s.version}`)!;
    g.edge(d.raw, d.cleaned);
    if (s.sourceId) g.edge(this.sourceNode(g, s.sourceId, s.canonicalUrl), d.raw);
  }

  private async downFromDatasets(
    g: Graph,
    datasets: Map<string, DatasetVersionRecord>,
    signal?: AbortSignal,
  ) {
    const runs = await this.runs.usingDataset([...datasets.keys()], signal);
    for (const run of runs) {
      const dataset = datasets.get(run.datasetVersionId)!;
      g.edge(this.datasetNode(g, dataset), this.runNode(g, run, dataset));
    }
    await this.downFromRuns(g, runs, datasets, signal);
  }

  private async downFromRuns(
    g: Graph,
    runs: readonly RunRecord[],
    datasets: Map<string, DatasetVersionRecord>,
    signal?: AbortSignal,
  ) {
    const index = await this.models.using({ runIds: runs.map((r) => r._id) }, signal);
    const models = await this.models.models(
      index.map((i) => i.name),
      signal,
    );
    for (const i of index) {
      const record = models.get(i.name);
      const entry = record?.versions.find((v) => v.id === i._id);
      const run = runs.find((r) => r._id === i.runId);
      if (!record || !entry || !run) continue;
      g.edge(this.runNode(g, run, datasets.get(run.datasetVersionId)), this.modelNode(g, record, entry));
    }
  }

  /** Raw and cleaned nodes of these (document, version) pairs, tainted where the document was deleted. */
  private async docNodes(g: Graph, refs: readonly DocRef[], signal?: AbortSignal) {
    const deleted = new Map(
      (await this.deleted.covering(refs, signal)).map((d) => [`${d.documentId}@${d.version}`, d.deleted]),
    );
    const nodes = new Map<string, { raw: Node; cleaned: Node }>();
    for (const s of refs) {
      const id = `${s.documentId}@${s.version}`;
      const gone = deleted.get(id);
      const taint = gone ? { tainted: true, taintReason: deletionReason(gone) } : {};
      const name = s.title || s.canonicalUrl || s.documentId;
      nodes.set(id, {
        raw: g.node(T.RAW_DOCUMENT, id, {
          label: s.title && s.canonicalUrl ? `${s.title} — ${s.canonicalUrl}` : name,
          contentHash: s.rawContentHash,
          ...taint,
        }),
        cleaned: g.node(T.CLEANED_DOCUMENT, id, {
          label: `${name} (cleaned)`,
          contentHash: s.cleanedContentHash,
          ...taint,
        }),
      });
    }
    return nodes;
  }

  private sourceNode(g: Graph, sourceId: string, url: string): Node {
    let host = '';
    try {
      host = url ? new URL(url).host : '';
    } catch {
      host = '';
    }
    return g.node(T.SOURCE, sourceId, {
      label: host ? `source ${sourceId} (${host})` : `source ${sourceId}`,
    });
  }

  private datasetNode(g: Graph, d: DatasetVersionRecord): Node {
    return g.node(T.DATASET_VERSION, d._id, {
      label: datasetLabel(d),
      contentHash: d.contentHash,
      tainted: d.tainted,
      taintReason: d.taintReason,
    });
  }

  private runNode(g: Graph, run: RunRecord, dataset: DatasetVersionRecord | undefined): Node {
    return g.node(T.RUN, run._id, {
      label: runLabel(run),
      ...(dataset?.tainted
        ? {
            tainted: true,
            taintReason: `trained on tainted dataset version ${dataset._id}: ${dataset.taintReason}`,
          }
        : {}),
    });
  }

  private modelNode(g: Graph, r: ModelRecord, v: VersionEntry): Node {
    return g.node(T.MODEL_VERSION, v.id, {
      label: modelLabel(r._id, v.version),
      tainted: v.tainted,
      taintReason: v.taintReason,
    });
  }
}
