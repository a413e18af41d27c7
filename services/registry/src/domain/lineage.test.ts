import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { registryv1 } from '@llmtwin/contracts';
import {
  openRegistry,
  rejection,
  sha256,
  source,
  trainedModel,
  type RegistryFixture,
} from '../registry.fixture.js';

const T = registryv1.ArtifactType;
const D = registryv1.LineageDirection;

let f: RegistryFixture;
let model: Awaited<ReturnType<typeof trainedModel>>;
beforeEach(async () => {
  f = await openRegistry();
  model = await trainedModel(f.registry);
});
afterEach(async () => {
  await f.close();
});

const lineage = (type: registryv1.ArtifactType, id: string, direction = D.BOTH) =>
  f.registry.lineage.get(create(registryv1.GetLineageRequestSchema, { type, id, direction }));
const edges = (res: registryv1.GetLineageResponse) =>
  res.edges.map((e) => `${T[e.from!.type]}:${e.from!.id} → ${T[e.to!.type]}:${e.to!.id}`).sort();

describe('lineage', () => {
  it('goes upstream from a model version to its sources', async () => {
    const res = await lineage(T.MODEL_VERSION, model.mv.id, D.UPSTREAM);
    expect(res.root).toMatchObject({ type: T.MODEL_VERSION, id: model.mv.id, label: 'jane-twin v1' });
    expect(edges(res)).toEqual(
      [
        `CLEANED_DOCUMENT:doc_1@1 → DATASET_VERSION:${model.dv.id}`,
        `CLEANED_DOCUMENT:doc_2@1 → DATASET_VERSION:${model.dv.id}`,
        `DATASET_VERSION:${model.dv.id} → RUN:${model.run.id}`,
        'RAW_DOCUMENT:doc_1@1 → CLEANED_DOCUMENT:doc_1@1',
        'RAW_DOCUMENT:doc_2@1 → CLEANED_DOCUMENT:doc_2@1',
        `RUN:${model.run.id} → MODEL_VERSION:${model.mv.id}`,
        'SOURCE:src_blog → RAW_DOCUMENT:doc_1@1',
        'SOURCE:src_blog → RAW_DOCUMENT:doc_2@1',
      ].sort(),
    );
    const nodes = new Map(res.edges.flatMap((e) => [e.from!, e.to!]).map((n) => [`${T[n.type]}:${n.id}`, n]));
    expect(nodes.get('RAW_DOCUMENT:doc_1@1')).toMatchObject({
      label: 'Post 1 — https://blog.example.com/post-1',
      contentHash: sha256('raw 1'),
    });
    expect(nodes.get('CLEANED_DOCUMENT:doc_1@1')?.contentHash).toBe(sha256('cleaned 1'));
    expect(nodes.get(`DATASET_VERSION:${model.dv.id}`)).toMatchObject({
      label: 'jane-instruct v1',
      contentHash: sha256('examples v1'),
    });
    expect(nodes.get('SOURCE:src_blog')?.label).toBe('source src_blog (blog.example.com)');
    expect(nodes.get(`RUN:${model.run.id}`)?.label).toBe('run jane-sft (SFT)');
    // Upstream only: nothing downstream of the model, and the model by alias resolves the same.
    expect(
      await lineage(T.MODEL_VERSION, 'jane-twin@production', D.UPSTREAM).catch((e: Error) => e.message),
    ).toContain('in production');
  });

  it('goes downstream from a source, a document (any version or one) and a dataset version', async () => {
    const other = await trainedModel(f.registry, {
      model: 'jane-twin',
      contentHash: sha256('v2'),
      sources: [source(1, { version: 2n, cleanedContentHash: sha256('cleaned 1 v2') })],
    });
    const fromSource = await lineage(T.SOURCE, 'src_blog', D.DOWNSTREAM);
    expect(fromSource.root).toMatchObject({ type: T.SOURCE, id: 'src_blog' });
    expect(edges(fromSource)).toEqual(
      expect.arrayContaining([
        'SOURCE:src_blog → RAW_DOCUMENT:doc_1@2',
        `RUN:${model.run.id} → MODEL_VERSION:${model.mv.id}`,
        `RUN:${other.run.id} → MODEL_VERSION:${other.mv.id}`,
      ]),
    );
    const anyVersion = await lineage(T.RAW_DOCUMENT, 'doc_1', D.DOWNSTREAM);
    expect(anyVersion.root).toMatchObject({ type: T.RAW_DOCUMENT, id: 'doc_1@2' });
    expect(edges(anyVersion)).toEqual(
      expect.arrayContaining([
        'RAW_DOCUMENT:doc_1@1 → CLEANED_DOCUMENT:doc_1@1',
        'RAW_DOCUMENT:doc_1@2 → CLEANED_DOCUMENT:doc_1@2',
        `CLEANED_DOCUMENT:doc_1@2 → DATASET_VERSION:${other.dv.id}`,
        `RUN:${model.run.id} → MODEL_VERSION:${model.mv.id}`,
      ]),
    );
    const oneVersion = await lineage(T.CLEANED_DOCUMENT, 'doc_1@1', D.DOWNSTREAM);
    expect(edges(oneVersion)).toEqual(
      [
        `CLEANED_DOCUMENT:doc_1@1 → DATASET_VERSION:${model.dv.id}`,
        `DATASET_VERSION:${model.dv.id} → RUN:${model.run.id}`,
        `RUN:${model.run.id} → MODEL_VERSION:${model.mv.id}`,
      ].sort(),
    );
    const fromDataset = await lineage(T.DATASET_VERSION, model.dv.id);
    expect(edges(fromDataset)).toEqual(
      expect.arrayContaining([
        `DATASET_VERSION:${model.dv.id} → RUN:${model.run.id}`,
        `CLEANED_DOCUMENT:doc_2@1 → DATASET_VERSION:${model.dv.id}`,
      ]),
    );
    expect(edges(fromDataset)).not.toContain(`RUN:${other.run.id} → MODEL_VERSION:${other.mv.id}`);
  });

  it('marks what a deleted document tainted', async () => {
    await f.registry.taint.documentDeleted({
      documentId: 'doc_2',
      version: 2,
      sourceId: 'src_blog',
      canonicalUrl: 'https://blog.example.com/post-2',
      title: 'Post 2',
    });
    const res = await lineage(T.SOURCE, 'src_blog', D.DOWNSTREAM);
    const nodes = new Map(res.edges.flatMap((e) => [e.from!, e.to!]).map((n) => [`${T[n.type]}:${n.id}`, n]));
    expect(nodes.get('RAW_DOCUMENT:doc_2@1')).toMatchObject({ tainted: true });
    expect(nodes.get('RAW_DOCUMENT:doc_2@1')?.taintReason).toContain('doc_2');
    expect(nodes.get('RAW_DOCUMENT:doc_1@1')?.tainted).toBe(false);
    for (const key of [
      `DATASET_VERSION:${model.dv.id}`,
      `RUN:${model.run.id}`,
      `MODEL_VERSION:${model.mv.id}`,
    ])
      expect(nodes.get(key)?.tainted).toBe(true);
  });

  it('refuses unknown artifacts and types with clear errors', async () => {
    expect((await rejection(lineage(T.UNSPECIFIED, 'x'))).message).toContain('type is required');
    expect((await rejection(lineage(T.SOURCE, 'src_none'))).kind).toBe('not-found');
    expect((await rejection(lineage(T.RAW_DOCUMENT, 'doc_9'))).message).toContain('in no dataset version');
    expect((await rejection(lineage(T.RAW_DOCUMENT, 'doc_1@x'))).kind).toBe('invalid-argument');
    expect((await rejection(lineage(T.DATASET_VERSION, ''))).message).toContain('id is required');
    expect((await rejection(lineage(T.RUN, 'run_none'))).kind).toBe('not-found');
  });
});
