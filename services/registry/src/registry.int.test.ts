// The registry on real backends: FerretDB (the MongoDB adapter) and Kafka, started by the integration
// project's global setup. Its events are read back from Kafka; a tombstone published on documents.raw.v1
// reaches the running module's consumer and taints the dataset and model versions built from the document.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { ingesteventsv1, ingestv1, registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import type { ServiceModule } from '@llmtwin/host';
import { decodeEvent, publishEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger, errorInterceptor } from '@llmtwin/runtime';
import { testBackendUrl } from '@llmtwin/testkit';
import { createHash, randomUUID } from 'node:crypto';
import { createRegistryModule } from './module.js';

const Stage = registryv1.Stage;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
// Unique per run: the Kafka topics are shared with every other integration test.
const tag = randomUUID().slice(0, 8);
const docId = `doc_int_${tag}`;

let warehouse: Warehouse;
let bus: EventBus;
let module: ServiceModule;
let client: Client<typeof registryv1.RegistryService>;

/** The registry events on Kafka about these artifact ids, in order; waits (bounded) until `until` holds. */
async function eventsAbout(
  ids: readonly string[],
  until: (events: registryeventsv1.RegistryEvent[]) => boolean,
): Promise<registryeventsv1.RegistryEvent[]> {
  let events: registryeventsv1.RegistryEvent[] = [];
  for (let attempt = 0; attempt < 60; attempt++) {
    events = (await bus.read(topics.registry))
      .filter((m) => ids.includes(m.key))
      .map((m) => decodeEvent(registryeventsv1.RegistryEventSchema, m));
    if (until(events)) return events;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `the expected registry events never arrived; saw ${events.map((e) => e.event.case).join(', ')}`,
  );
}

const stageChanges = (events: registryeventsv1.RegistryEvent[]) =>
  events
    .filter((e) => e.event.case === 'modelStageChanged')
    .map((e) => e.event.value as registryeventsv1.ModelStageChanged);

beforeAll(async () => {
  warehouse = await createWarehouse(testBackendUrl('mongodb'), {
    mongodb: { databaseName: `registry_int_${tag}` },
  });
  bus = createEventBus(testBackendUrl('kafka'));
  const logger = createLogger('registry', { level: 'warn' });
  module = await createRegistryModule({ warehouse, eventBus: bus, logger, retryBackoffMs: 100 });
  await module.start?.();
  client = createClient(
    registryv1.RegistryService,
    createRouterTransport((router) => module.register(router), {
      router: { interceptors: [errorInterceptor(logger)] },
    }),
  );
});

afterAll(async () => {
  await module?.stop?.();
  await bus?.close();
  await warehouse?.close();
});

describe('the registry on FerretDB and Kafka', () => {
  const ids = { dv: '', run: '', v1: '', v2: '' };

  it('publishes DatasetVersionCreated on Kafka, once per content', async () => {
    const request = {
      dataset: `int-${tag}`,
      kind: registryv1.DatasetKind.INSTRUCT,
      authorId: 'jane',
      splits: [{ name: 'train', examples: 3n }],
      contentHash: sha(`examples ${tag}`),
      sources: [
        {
          documentId: docId,
          version: 1n,
          cleanedContentHash: sha('cleaned'),
          rawContentHash: sha('raw'),
          sourceId: `src_int_${tag}`,
          canonicalUrl: `https://blog.example.com/${tag}`,
          title: 'A post',
        },
      ],
    };
    const created = await client.createDatasetVersion(request);
    ids.dv = created.datasetVersion!.id;
    expect(created.datasetVersion?.version).toBe(1n);
    expect((await client.createDatasetVersion(request)).created).toBe(false);
    const events = await eventsAbout([ids.dv], (e) => e.length > 0);
    expect(events.map((e) => e.event.case)).toEqual(['datasetVersionCreated']);
    expect((events[0]!.event.value as registryeventsv1.DatasetVersionCreated).datasetVersion?.id).toBe(
      ids.dv,
    );
  });

  it('reaches production only through an approved review, and a rollback publishes ModelStageChanged', async () => {
    ids.run = (
      await client.createRun({
        experiment: `int-${tag}`,
        method: registryv1.TrainingMethod.SFT,
        baseModel: 'base',
        datasetVersionId: ids.dv,
      })
    ).run!.id;
    await client.updateRun({ id: ids.run, state: registryv1.RunState.RUNNING });
    await client.updateRun({ id: ids.run, state: registryv1.RunState.SUCCEEDED });
    const name = `int-twin-${tag}`;
    ids.v1 = (await client.registerModelVersion({ name, runId: ids.run })).modelVersion!.id;
    ids.v2 = (await client.registerModelVersion({ name, runId: ids.run })).modelVersion!.id;

    const pending = await client.requestStageTransition({ modelVersionId: ids.v1, stage: Stage.PRODUCTION });
    expect(pending.modelVersion).toMatchObject({ stage: Stage.NONE, pendingStage: Stage.PRODUCTION });
    await expect(client.getModelVersion({ id: `${name}@production` })).rejects.toThrow('in production');
    await client.reviewStageTransition({ modelVersionId: ids.v1, approve: true, reviewer: 'bob' });
    await client.requestStageTransition({ modelVersionId: ids.v2, stage: Stage.PRODUCTION });
    await client.reviewStageTransition({ modelVersionId: ids.v2, approve: true, reviewer: 'bob' });
    expect((await client.getModelVersion({ id: ids.v1 })).modelVersion?.stage).toBe(Stage.ARCHIVED);

    const back = await client.rollbackProduction({ name, reviewer: 'carol' });
    expect(back.modelVersion?.id).toBe(ids.v1);
    expect(back.previous?.id).toBe(ids.v2);
    const events = await eventsAbout([ids.v1, ids.v2], (e) =>
      stageChanges(e).some((c) => c.reviewer === 'carol'),
    );
    const byRollback = stageChanges(events)
      .filter((c) => c.reviewer === 'carol')
      .map((c) => [c.modelVersion!.id, Stage[c.previousStage], Stage[c.modelVersion!.stage]]);
    expect(byRollback).toEqual(
      expect.arrayContaining([
        [ids.v2, 'PRODUCTION', 'ARCHIVED'],
        [ids.v1, 'ARCHIVED', 'PRODUCTION'],
      ]),
    );
    const transitions = await client.listStageTransitions({ name });
    expect(transitions.transitions.map((t) => t.cause)).toEqual(
      expect.arrayContaining(['request', 'demoted', 'rollback']),
    );
  });

  it('taints the dataset and model versions when their document is tombstoned', async () => {
    await publishEvent(bus, topics.documentsRaw, ingesteventsv1.RawDocumentChangedSchema, docId, {
      eventId: randomUUID(),
      change: ingesteventsv1.ChangeKind.TOMBSTONED,
      eventTime: timestampNow(),
      document: create(ingestv1.RawDocumentSchema, {
        id: docId,
        version: 2n,
        tombstone: true,
        sourceId: `src_int_${tag}`,
        canonicalUrl: `https://blog.example.com/${tag}`,
      }),
    });
    const events = await eventsAbout([ids.dv, ids.v1, ids.v2], (e) =>
      [ids.dv, ids.v1, ids.v2].every((id) =>
        e.some((x) => x.event.case === 'artifactTainted' && x.event.value.id === id),
      ),
    );
    const dv = (await client.getDatasetVersion({ id: ids.dv })).datasetVersion!;
    expect(dv.tainted).toBe(true);
    expect(dv.taintReason).toBe(
      `document ${docId} (https://blog.example.com/${tag}), source src_int_${tag} was deleted`,
    );
    const v1 = (await client.getModelVersion({ id: ids.v1 })).modelVersion!;
    expect(v1).toMatchObject({ tainted: true, stage: Stage.ARCHIVED });
    // The version in production left it, with an event the router retires it on.
    const last = stageChanges(events)
      .filter((c) => c.modelVersion?.id === ids.v1)
      .at(-1);
    expect(last).toMatchObject({ previousStage: Stage.PRODUCTION });
    expect(last?.modelVersion?.tainted).toBe(true);
    const lineage = await client.getLineage({
      type: registryv1.ArtifactType.SOURCE,
      id: `src_int_${tag}`,
      direction: registryv1.LineageDirection.DOWNSTREAM,
    });
    expect(lineage.edges.filter((e) => e.to?.type === registryv1.ArtifactType.MODEL_VERSION)).toHaveLength(2);
    expect(lineage.edges.every((e) => e.to?.tainted)).toBe(true);
  });

  it('keeps the evaluation report of a version a gate rejected, which no request moves', async () => {
    const dv = await client.createDatasetVersion({
      dataset: `int-eval-${tag}`,
      kind: registryv1.DatasetKind.INSTRUCT,
      authorId: 'jane',
      splits: [{ name: 'train', examples: 3n }],
      contentHash: sha(`evaluated ${tag}`),
      sources: [
        {
          documentId: `doc_eval_${tag}`,
          version: 1n,
          cleanedContentHash: sha('cleaned eval'),
          rawContentHash: sha('raw eval'),
          sourceId: `src_eval_${tag}`,
        },
      ],
    });
    const run = (
      await client.createRun({
        experiment: `int-eval-${tag}`,
        method: registryv1.TrainingMethod.SFT,
        baseModel: 'base',
        datasetVersionId: dv.datasetVersion!.id,
      })
    ).run!.id;
    await client.updateRun({ id: run, state: registryv1.RunState.RUNNING });
    await client.updateRun({ id: run, state: registryv1.RunState.SUCCEEDED });
    const evaluation = create(registryv1.EvaluationReportSchema, {
      scores: [
        { role: 'candidate', model: 'cand', perplexity: 19.25, styleDistance: 0.5, examples: 4n },
        { role: 'base', model: 'base', perplexity: 18.5, styleDistance: -1, judgeStyle: 2.5, examples: 4n },
      ],
      gates: [
        { name: 'perplexity', passed: false, detail: 'perplexity 19.25 vs base 18.5: need >= 5% lower' },
      ],
      judgeModel: 'judge',
      judgeTemplateSha256: sha('template'),
      wallSeconds: 12.5,
      passed: false,
    });
    const name = `int-eval-twin-${tag}`;
    const reason = 'gate perplexity failed';
    const mv = (await client.registerModelVersion({ name, runId: run, evaluation, rejectionReason: reason }))
      .modelVersion!;
    const stored = (await client.getModelVersion({ id: mv.id })).modelVersion!;
    expect(stored).toMatchObject({ stage: Stage.REJECTED, rejectionReason: reason });
    expect(stored.evaluation).toEqual(evaluation);
    const listed = await client.listModelVersions({ name, stage: Stage.REJECTED });
    expect(listed.modelVersions.map((m) => m.id)).toEqual([mv.id]);
    expect((await client.listModelVersions({ name, stage: Stage.NONE })).modelVersions).toEqual([]);
    await expect(
      client.requestStageTransition({ modelVersionId: mv.id, stage: Stage.PRODUCTION }),
    ).rejects.toThrow(`was rejected (${reason})`);
    const events = await eventsAbout([mv.id], (e) => stageChanges(e).length > 0);
    expect(events.map((e) => e.event.case)).toEqual(['modelVersionRegistered', 'modelStageChanged']);
    expect(stageChanges(events)[0]).toMatchObject({
      previousStage: Stage.NONE,
      modelVersion: { stage: Stage.REJECTED, rejectionReason: reason },
    });
  });
});
