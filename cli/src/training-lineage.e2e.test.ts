// Training lineage end to end on the embedded twin (`llmtwin up`, every module on the embedded adapters in a
// temporary folder): the demo author's pages go in through the demo loader (an archive import, which is a
// source of the demo author), a dataset version is built from them, a run and a model version are
// registered from it and approved into production; then the demo's source is removed with purge, and the
// registry taints the dataset version (naming a deleted document) and the model version, which leaves
// production, and the lineage from that source reaches both.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import http from 'node:http';
import { cleanv1, ingestv1, registryv1, trainerv1 } from '@llmtwin/contracts';
import { poll } from '@llmtwin/testkit/poll';
import { DEMO_ARCHIVE_NAME, DEMO_AUTHOR_ID, demoPages, loadDemoAuthor } from './demo.js';
import { disposeTwin, readAdminKey, startTwin, type TwinProcess } from './test/twin-process.fixture.js';

const T = registryv1.ArtifactType;
const Stage = registryv1.Stage;

/**
 * A client of the twin's gateway like the CLI's (JSON over HTTP/1.1, the admin key), on a new connection per
 * call. With kept-alive connections an idle one can be closed by the server's keep-alive timeout just as a
 * call is sent on it (more likely while the twin's event loop is busy importing and embedding on a loaded
 * machine), and the call fails with ECONNRESET: the test would fail for the connection, not the twin.
 */
function twinClient<S extends DescService>(service: S, baseUrl: string, apiKey: string) {
  return createClient(
    service,
    createConnectTransport({
      baseUrl,
      httpVersion: '1.1',
      useBinaryFormat: false,
      nodeOptions: { agent: new http.Agent({ keepAlive: false }) },
      interceptors: [
        (next) => (req) => {
          req.header.set('authorization', `Bearer ${apiKey}`);
          return next(req);
        },
      ],
    }),
  );
}

const building = (state: trainerv1.JobState) =>
  state === trainerv1.JobState.QUEUED || state === trainerv1.JobState.RUNNING;

const nodeKey = (n: registryv1.LineageNode | undefined) => `${T[n?.type ?? T.UNSPECIFIED]} ${n?.id}`;
const edgeKeys = (lineage: registryv1.GetLineageResponse) =>
  lineage.edges.map((e) => `${nodeKey(e.from)} -> ${nodeKey(e.to)}`);
/** The distinct nodes of one type in a lineage graph. */
const nodesOf = (lineage: registryv1.GetLineageResponse, type: registryv1.ArtifactType) => {
  const nodes = new Map<string, registryv1.LineageNode>();
  for (const e of lineage.edges) for (const n of [e.from, e.to]) if (n?.type === type) nodes.set(n.id, n);
  return [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
};

describe('training lineage on the embedded twin (demo author)', () => {
  const pages = demoPages();
  let twin: TwinProcess | undefined;
  let url: string;
  let key: string;

  beforeAll(async () => {
    // No language model: answers and instructions are extractive.
    twin = await startTwin('llmtwin-lineage-', {
      args: ['--no-demo'],
      env: { LLMTWIN_API_KEY: '', LLMTWIN_LLM_BACKENDS: '', LLMTWIN_DATASET_GENERATOR: undefined },
    });
    const up = await twin.next(() => true);
    expect(up['status']).toBe('up');
    url = String(up['url']);
    key = await readAdminKey(twin.dataDir);
  }, 120_000);

  afterAll(() => disposeTwin(twin));

  it('taints the dataset version and the production model built from the demo pages when their source is removed with purge', async () => {
    const ingest = twinClient(ingestv1.IngestService, url, key);
    const clean = twinClient(cleanv1.CleanService, url, key);
    const trainer = twinClient(trainerv1.TrainerService, url, key);
    const registry = twinClient(registryv1.RegistryService, url, key);

    // The demo author's pages, through the demo loader: one archive source holding every page.
    const demo = await loadDemoAuthor(ingest, { timeoutMs: 120_000 });
    expect(demo).toMatchObject({
      authorCreated: true,
      job: { state: 'succeeded', created: pages.length, errors: [] },
    });
    const { sources } = await ingest.listSources({ authorId: DEMO_AUTHOR_ID, page: { pageSize: 10 } });
    expect(sources.map((s) => [s.url, ingestv1.SourceKind[s.kind]])).toEqual([
      [`archive:${DEMO_ARCHIVE_NAME}`, 'ARCHIVE'],
    ]);
    const sourceId = sources[0]!.id;
    const raw = (await ingest.listDocuments({ authorId: DEMO_AUTHOR_ID, page: { pageSize: 500 } })).documents;
    expect(raw.map((d) => d.canonicalUrl).sort()).toEqual(pages.map((p) => p.url).sort());
    expect(new Set(raw.map((d) => d.sourceId))).toEqual(new Set([sourceId]));

    // Cleaning follows through events: wait until the cleaned snapshot has every demo page.
    await poll(
      async () =>
        (await clean.listCleanedDocuments({ authorId: DEMO_AUTHOR_ID, page: { pageSize: 500 } })).documents,
      {
        what: 'every demo page in the cleaned snapshot',
        timeoutMs: 120_000,
        intervalMs: 500,
        until: (docs) => docs.length === pages.length,
      },
    );

    // The dataset version (extractive instructions).
    const { job: queued } = await trainer.buildDataset({
      authorId: DEMO_AUTHOR_ID,
      generatorModel: 'extractive',
    });
    const built = await poll(async () => (await trainer.getJob({ id: queued!.id })).job!, {
      what: 'the dataset build',
      timeoutMs: 120_000,
      intervalMs: 250,
      until: (j) => !building(j.state),
    });
    expect({ state: trainerv1.JobState[built.state], message: built.message }).toMatchObject({
      state: 'SUCCEEDED',
    });
    const dv = (await registry.getDatasetVersion({ id: built.datasetVersionId })).datasetVersion!;
    const examples = Object.fromEntries(dv.splits.map((s) => [s.name, Number(s.examples)]));
    expect(examples['train']).toBeGreaterThan(0);
    expect(examples['test']).toBeGreaterThan(0);
    expect(dv).toMatchObject({ dataset: 'demo-instruct', authorId: DEMO_AUTHOR_ID, tainted: false });
    // Every demo page gave examples; each is recorded as ingest has it, with the demo's source.
    expect(dv.sources.map((s) => s.documentId).sort()).toEqual(raw.map((d) => d.id).sort());
    for (const s of dv.sources) {
      const doc = raw.find((d) => d.id === s.documentId)!;
      expect(s).toMatchObject({
        version: doc.version,
        sourceId,
        canonicalUrl: doc.canonicalUrl,
        title: doc.title,
        rawContentHash: doc.contentHash,
      });
    }
    const docVersions = dv.sources.map((s) => `${s.documentId}@${s.version}`).sort();

    // Upstream lineage: every demo page, raw and cleaned, and the demo's source.
    const up = await registry.getLineage({
      type: T.DATASET_VERSION,
      id: dv.id,
      direction: registryv1.LineageDirection.UPSTREAM,
    });
    expect(nodeKey(up.root)).toBe(`DATASET_VERSION ${dv.id}`);
    expect(nodesOf(up, T.CLEANED_DOCUMENT).map((n) => n.id)).toEqual(docVersions);
    expect(
      nodesOf(up, T.RAW_DOCUMENT)
        .map((n) => n.label)
        .sort(),
    ).toEqual(pages.map((p) => `${raw.find((d) => d.canonicalUrl === p.url)!.title} — ${p.url}`).sort());
    expect(nodesOf(up, T.SOURCE).map((n) => n.id)).toEqual([sourceId]);
    expect(nodesOf(up, T.SOURCE)[0]!.label).toMatch(new RegExp(`^source ${sourceId} \\(`));
    expect(
      edgeKeys(up)
        .filter((e) => e.startsWith('SOURCE '))
        .sort(),
    ).toEqual(docVersions.map((v) => `SOURCE ${sourceId} -> RAW_DOCUMENT ${v}`));

    // A run on it, a model version from the run, approved into production.
    const run = (
      await registry.createRun({
        experiment: 'demo-sft',
        method: registryv1.TrainingMethod.SFT,
        baseModel: 'SmolLM2-135M-Instruct',
        datasetVersionId: dv.id,
      })
    ).run!;
    await registry.updateRun({ id: run.id, state: registryv1.RunState.RUNNING });
    await registry.updateRun({ id: run.id, state: registryv1.RunState.SUCCEEDED });
    const mv = (await registry.registerModelVersion({ name: 'demo-twin', runId: run.id })).modelVersion!;
    expect(mv).toMatchObject({ datasetVersionId: dv.id, authorId: DEMO_AUTHOR_ID, tainted: false });
    await registry.requestStageTransition({
      modelVersionId: mv.id,
      stage: Stage.PRODUCTION,
      requestedBy: 'e2e',
    });
    await registry.reviewStageTransition({ modelVersionId: mv.id, approve: true, reviewer: 'e2e-reviewer' });
    expect((await registry.getModelVersion({ id: 'demo-twin@production' })).modelVersion).toMatchObject({
      id: mv.id,
      stage: Stage.PRODUCTION,
    });

    // Remove the demo's source with its documents.
    await ingest.removeSource({ id: sourceId, purgeDocuments: true });
    const left = await ingest.listDocuments({ authorId: DEMO_AUTHOR_ID, page: { pageSize: 500 } });
    expect(left.documents).toEqual([]);

    // The dataset version is tainted by one of its deleted documents (the first tombstone handled).
    const reasons = raw.map((d) => `document ${d.id} (${d.canonicalUrl}), source ${sourceId} was deleted`);
    const tainted = await poll(
      async () => (await registry.getDatasetVersion({ id: dv.id })).datasetVersion!,
      {
        what: `dataset version ${dv.id} to be tainted`,
        timeoutMs: 60_000,
        intervalMs: 200,
        until: (v) => v.tainted,
      },
    );
    expect(reasons).toContain(tainted.taintReason);
    const model = await poll(async () => (await registry.getModelVersion({ id: mv.id })).modelVersion!, {
      what: `model version ${mv.id} to be tainted and out of production`,
      timeoutMs: 60_000,
      intervalMs: 200,
      until: (v) => v.tainted && v.stage !== Stage.PRODUCTION,
    });
    expect(model).toMatchObject({
      stage: Stage.ARCHIVED,
      taintReason: `dataset version ${dv.id} is tainted: ${tainted.taintReason}`,
    });
    const production = await registry.getModelVersion({ id: 'demo-twin@production' }).then(
      () => 'found',
      (err: unknown) => Code[ConnectError.from(err).code],
    );
    expect(production).toBe(Code[Code.NotFound]);
    const transitions = (await registry.listStageTransitions({ modelVersionId: mv.id })).transitions;
    expect(transitions.at(-1)).toMatchObject({
      fromStage: Stage.PRODUCTION,
      toStage: Stage.ARCHIVED,
      cause: 'taint',
    });

    // Downstream from the removed source: every demo page, the dataset version, the run and the model, tainted.
    const down = await poll(
      () =>
        registry.getLineage({
          type: T.SOURCE,
          id: sourceId,
          direction: registryv1.LineageDirection.DOWNSTREAM,
        }),
      {
        what: 'every demo page deleted in the lineage',
        timeoutMs: 60_000,
        intervalMs: 200,
        until: (l) => nodesOf(l, T.RAW_DOCUMENT).every((n) => n.tainted),
      },
    );
    expect(nodeKey(down.root)).toBe(`SOURCE ${sourceId}`);
    expect(edgeKeys(down)).toEqual(
      expect.arrayContaining([
        ...docVersions.flatMap((v) => [
          `SOURCE ${sourceId} -> RAW_DOCUMENT ${v}`,
          `RAW_DOCUMENT ${v} -> CLEANED_DOCUMENT ${v}`,
          `CLEANED_DOCUMENT ${v} -> DATASET_VERSION ${dv.id}`,
        ]),
        `DATASET_VERSION ${dv.id} -> RUN ${run.id}`,
        `RUN ${run.id} -> MODEL_VERSION ${mv.id}`,
      ]),
    );
    const taints = (type: registryv1.ArtifactType) =>
      nodesOf(down, type).map((n) => ({ id: n.id, tainted: n.tainted, taintReason: n.taintReason }));
    expect(taints(T.RAW_DOCUMENT)).toEqual(
      raw
        .map((d) => ({
          id: `${d.id}@${d.version}`,
          tainted: true,
          taintReason: `document ${d.id} (${d.canonicalUrl}), source ${sourceId} was deleted`,
        }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(taints(T.DATASET_VERSION)).toEqual([
      { id: dv.id, tainted: true, taintReason: tainted.taintReason },
    ]);
    expect(taints(T.MODEL_VERSION)).toEqual([{ id: mv.id, tainted: true, taintReason: model.taintReason }]);
  }, 300_000);
});
