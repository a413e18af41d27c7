import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { registryeventsv1, registryv1 } from '@llmtwin/contracts';
import type { EventBus } from '@llmtwin/ports';
import {
  openRegistry,
  rejection,
  sha256,
  source,
  trainedModel,
  type RegistryFixture,
} from '../registry.fixture.js';
import { Registry } from './registry.js';

let f: RegistryFixture;
beforeEach(async () => {
  f = await openRegistry();
});
afterEach(async () => {
  await f.close();
});

const deletePost2 = () =>
  f.registry.taint.documentDeleted({
    documentId: 'doc_2',
    version: 2,
    sourceId: 'src_blog',
    canonicalUrl: 'https://blog.example.com/post-2',
    title: 'Post 2',
  });

async function promote(id: string) {
  await f.registry.models.requestTransition(
    create(registryv1.RequestStageTransitionRequestSchema, {
      modelVersionId: id,
      stage: registryv1.Stage.PRODUCTION,
    }),
  );
  await f.registry.models.reviewTransition(
    create(registryv1.ReviewStageTransitionRequestSchema, {
      modelVersionId: id,
      approve: true,
      reviewer: 'bob',
    }),
  );
}

describe('taint', () => {
  it('taints the dataset versions built from a deleted document and the models trained on them', async () => {
    const used = await trainedModel(f.registry);
    const unrelated = await trainedModel(f.registry, {
      model: 'other-twin',
      contentHash: sha256('other'),
      sources: [source(7)],
    });
    const outcome = await deletePost2();
    expect(outcome).toEqual({ datasetVersions: [used.dv.id], modelVersions: [used.mv.id] });

    const dv = await f.registry.datasets.get(used.dv.id);
    expect(dv.tainted).toBe(true);
    expect(dv.taintReason).toBe(
      'document doc_2 (https://blog.example.com/post-2), source src_blog was deleted',
    );
    const mv = await f.registry.models.get(used.mv.id);
    expect(mv.tainted).toBe(true);
    expect(mv.taintReason).toBe(`dataset version ${used.dv.id} is tainted: ${dv.taintReason}`);
    expect((await f.registry.datasets.get(unrelated.dv.id)).tainted).toBe(false);
    expect((await f.registry.models.get(unrelated.mv.id)).tainted).toBe(false);

    const tainted = (await f.events())
      .filter((e) => e.event.case === 'artifactTainted')
      .map((e) => e.event.value as registryeventsv1.ArtifactTainted);
    expect(tainted.map((t) => [registryv1.ArtifactType[t.type], t.id])).toEqual([
      ['DATASET_VERSION', used.dv.id],
      ['MODEL_VERSION', used.mv.id],
    ]);
  });

  it('takes a tainted model out of production with an event the router acts on', async () => {
    const { mv } = await trainedModel(f.registry);
    await promote(mv.id);
    await deletePost2();
    const after = await f.registry.models.get(mv.id);
    expect(after.stage).toBe(registryv1.Stage.ARCHIVED);
    const [last] = (await f.events())
      .filter((e) => e.event.case === 'modelStageChanged')
      .map((e) => e.event.value as registryeventsv1.ModelStageChanged)
      .slice(-1);
    // The router retires a version that leaves production, and never serves a tainted one.
    expect(last!.previousStage).toBe(registryv1.Stage.PRODUCTION);
    expect(last!.modelVersion).toMatchObject({ id: mv.id, tainted: true, stage: registryv1.Stage.ARCHIVED });
    const history = await f.registry.models.listTransitions(
      create(registryv1.ListStageTransitionsRequestSchema, { modelVersionId: mv.id }),
    );
    expect(history.at(-1)).toMatchObject({ cause: 'taint', toStage: registryv1.Stage.ARCHIVED });
    await expect(f.registry.models.get('jane-twin@production')).rejects.toThrow('no version');
  });

  it('changes nothing when the tombstone is delivered again', async () => {
    await trainedModel(f.registry);
    await deletePost2();
    const events = (await f.events()).length;
    const revs = (await f.registry.models.records.get('jane-twin'))!.rev;
    expect(await deletePost2()).toEqual({ datasetVersions: [], modelVersions: [] });
    expect((await f.events()).length).toBe(events);
    expect((await f.registry.models.records.get('jane-twin'))!.rev).toBe(revs);
  });

  it('finishes a taint interrupted between the dataset version and its models', async () => {
    const { dv, mv } = await trainedModel(f.registry);
    await f.registry.datasets.taint(dv.id, 'document doc_2 was deleted');
    expect((await f.registry.models.get(mv.id)).tainted).toBe(false);
    expect((await deletePost2()).modelVersions).toEqual([mv.id]);
    expect((await f.registry.models.get(mv.id)).taintReason).toContain('document doc_2 was deleted');
  });

  it('registers a model trained on a tainted dataset version as tainted', async () => {
    const { run } = await trainedModel(f.registry);
    await deletePost2();
    const mv = await f.registry.models.register(
      create(registryv1.RegisterModelVersionRequestSchema, { name: 'late-twin', runId: run.id }),
    );
    expect(mv.tainted).toBe(true);
    expect(
      (
        await rejection(
          f.registry.models.requestTransition(
            create(registryv1.RequestStageTransitionRequestSchema, {
              modelVersionId: mv.id,
              stage: registryv1.Stage.PRODUCTION,
            }),
          ),
        )
      ).kind,
    ).toBe('failed-precondition');
  });

  it('loses no event when publishing fails: the write stays marked and the relay publishes it', async () => {
    let failing = true;
    const flaky: EventBus = new Proxy(f.bus, {
      get(target, prop, receiver) {
        if (prop === 'publish' && failing) return () => Promise.reject(new Error('broker down'));
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const registry = new Registry(f.warehouse, flaky, () => ++f.clock.now);
    const { datasetRequest } = await import('../registry.fixture.js');
    await expect(registry.datasets.create(datasetRequest())).rejects.toThrow('broker down');
    const [stored] = await registry.datasets.records.find({});
    expect(stored?.outboxPending).toBe(true);
    expect(await f.events()).toEqual([]);
    // A retry returns the stored version (and tries its event again).
    await expect(registry.datasets.create(datasetRequest())).rejects.toThrow('broker down');
    failing = false;
    expect(await registry.flushOutbox()).toBe(1);
    const events = await f.events();
    expect(events.map((e) => e.event.case)).toEqual(['datasetVersionCreated']);
    expect((await registry.datasets.records.get(stored!._id))?.outboxPending).toBe(false);
    expect(await registry.flushOutbox()).toBe(0);
  });
});
