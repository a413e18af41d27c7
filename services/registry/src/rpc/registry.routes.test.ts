// Every RegistryService RPC through an in-memory Connect transport (the same handlers and error mapping the
// server uses), including bad input → the code and a message that says what to fix.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Client,
  type ConnectRouter,
} from '@connectrpc/connect';
import { registryv1 } from '@llmtwin/contracts';
import type { ServiceModule } from '@llmtwin/host';
import { createLogger, errorInterceptor } from '@llmtwin/runtime';
import { createRegistryModule } from '../module.js';
import { datasetRequest, openRegistry, type RegistryFixture } from '../registry.fixture.js';

const Stage = registryv1.Stage;
const T = registryv1.ArtifactType;

let f: RegistryFixture;
let module: ServiceModule;
let client: Client<typeof registryv1.RegistryService>;

beforeAll(async () => {
  f = await openRegistry();
  const logger = createLogger('registry', { level: 'silent' });
  module = await createRegistryModule({ warehouse: f.warehouse, eventBus: f.bus, logger });
  client = createClient(
    registryv1.RegistryService,
    createRouterTransport((router) => module.register(router), {
      router: { interceptors: [errorInterceptor(logger)] },
    }),
  );
});
afterAll(async () => {
  await f.close();
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe('RegistryService over Connect', () => {
  it('implements every method of the service (none left to answer Unimplemented)', () => {
    let implemented: object = {};
    const spy = {
      service: (_desc: unknown, impl: object) => {
        implemented = impl;
        return spy;
      },
    } as unknown as ConnectRouter;
    module.register(spy);
    const missing = registryv1.RegistryService.methods
      .map((m) => m.localName)
      .filter((name) => typeof (implemented as Record<string, unknown>)[name] !== 'function');
    expect(missing).toEqual([]);
  });

  let dvId = '';
  let runA = '';
  let runB = '';
  let mv1 = '';
  let mv2 = '';

  it('creates, gets and lists dataset versions, idempotently', async () => {
    const created = await client.createDatasetVersion(datasetRequest());
    expect(created.created).toBe(true);
    dvId = created.datasetVersion!.id;
    expect((await client.createDatasetVersion(datasetRequest())).created).toBe(false);
    expect((await client.getDatasetVersion({ id: dvId })).datasetVersion?.version).toBe(1n);
    const listed = await client.listDatasetVersions({ dataset: 'jane-instruct', page: { pageSize: 1 } });
    expect(listed.datasetVersions.map((d) => d.id)).toEqual([dvId]);
    expect(listed.page?.nextPageToken).not.toBe('');
    const next = await client.listDatasetVersions({
      dataset: 'jane-instruct',
      page: { pageSize: 1, pageToken: listed.page!.nextPageToken },
    });
    expect(next.datasetVersions).toEqual([]);
  });

  it('answers InvalidArgument and NotFound for dataset versions with what to fix', async () => {
    const bad = await failure(client.createDatasetVersion({ ...datasetRequest(), contentHash: 'nope' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toContain('content_hash must be a SHA-256 digest');
    const missing = await failure(client.getDatasetVersion({ id: 'dsv_missing' }));
    expect(missing.code).toBe(Code.NotFound);
    const token = await failure(client.listDatasetVersions({ page: { pageToken: '%%%' } }));
    expect(token.code).toBe(Code.InvalidArgument);
  });

  it('creates, updates, gets, lists and compares runs', async () => {
    const base = {
      experiment: 'jane-sft',
      method: registryv1.TrainingMethod.SFT,
      baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
      datasetVersionId: dvId,
    };
    runA = (await client.createRun({ ...base, params: { lr: 1e-4 } })).run!.id;
    runB = (await client.createRun({ ...base, params: { lr: 2e-4 } })).run!.id;
    await client.updateRun({
      id: runA,
      state: registryv1.RunState.RUNNING,
      metrics: [{ key: 'train/loss', step: 1n, value: 2 }],
    });
    const done = await client.updateRun({ id: runA, state: registryv1.RunState.SUCCEEDED });
    expect(done.run?.state).toBe(registryv1.RunState.SUCCEEDED);
    const got = await client.getRun({ id: runA });
    expect(got.history.map((p) => p.key)).toEqual(['train/loss']);
    expect((await client.listRuns({ experiment: 'jane-sft' })).runs.map((r) => r.id)).toEqual([runB, runA]);
    expect((await client.listRuns({ authorId: 'nobody' })).runs).toEqual([]);
    const cmp = await client.compareRuns({ runIds: [runA, runB] });
    expect(cmp.differingParams).toEqual(['lr']);
    expect(cmp.metricKeys).toEqual(['train/loss']);
  });

  it('answers FailedPrecondition for a transition the run state machine forbids', async () => {
    const err = await failure(client.updateRun({ id: runA, state: registryv1.RunState.RUNNING }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain('SUCCEEDED and cannot become RUNNING');
    expect(
      (
        await failure(
          client.createRun({
            experiment: 'x',
            method: registryv1.TrainingMethod.SFT,
            baseModel: 'b',
            datasetVersionId: 'dsv_x',
          }),
        )
      ).code,
    ).toBe(Code.NotFound);
    expect((await failure(client.compareRuns({ runIds: [runA] }))).code).toBe(Code.InvalidArgument);
  });

  it('registers model versions and moves them through the stages behind a review', async () => {
    mv1 = (await client.registerModelVersion({ name: 'jane-twin', runId: runA, servingModelId: 'jane-lora' }))
      .modelVersion!.id;
    mv2 = (await client.registerModelVersion({ name: 'jane-twin', runId: runA })).modelVersion!.id;
    expect((await client.getModelVersion({ id: mv2 })).modelVersion?.version).toBe(2n);
    const candidate = await client.requestStageTransition({
      modelVersionId: mv1,
      stage: Stage.CANDIDATE,
      requestedBy: 'ann',
    });
    expect(candidate.transition?.state).toBe(registryv1.TransitionState.APPLIED);
    for (const id of [mv1, mv2]) {
      const pending = await client.requestStageTransition({ modelVersionId: id, stage: Stage.PRODUCTION });
      expect(pending.modelVersion?.pendingStage).toBe(Stage.PRODUCTION);
      const approved = await client.reviewStageTransition({
        modelVersionId: id,
        approve: true,
        reviewer: 'bob',
      });
      expect(approved.modelVersion?.stage).toBe(Stage.PRODUCTION);
    }
    expect((await client.getModelVersion({ id: 'jane-twin@production' })).modelVersion?.id).toBe(mv2);
    const listed = await client.listModelVersions({ name: 'jane-twin', stage: Stage.ARCHIVED });
    expect(listed.modelVersions.map((m) => m.id)).toEqual([mv1]);
    const back = await client.rollbackProduction({ name: 'jane-twin', reviewer: 'bob' });
    expect(back.modelVersion?.id).toBe(mv1);
    expect(back.previous?.id).toBe(mv2);
    const history = await client.listStageTransitions({ name: 'jane-twin' });
    expect(history.transitions.map((t) => t.cause)).toEqual(
      expect.arrayContaining(['request', 'demoted', 'rollback']),
    );
    const aliased = await client.setModelAlias({ modelVersionId: mv2, alias: 'champion' });
    expect(aliased.modelVersion?.aliases).toEqual(['champion']);
  });

  it('answers with the right codes for stage mistakes', async () => {
    const nothing = await failure(client.reviewStageTransition({ modelVersionId: mv2, approve: true }));
    expect(nothing.code).toBe(Code.FailedPrecondition);
    expect(nothing.rawMessage).toContain('no transition waiting for review');
    const reserved = await failure(client.setModelAlias({ modelVersionId: mv2, alias: 'production' }));
    expect(reserved.code).toBe(Code.InvalidArgument);
    expect((await failure(client.requestStageTransition({ modelVersionId: mv2 }))).code).toBe(
      Code.InvalidArgument,
    );
    expect((await failure(client.getModelVersion({ id: 'mv_missing' }))).code).toBe(Code.NotFound);
    expect((await failure(client.rollbackProduction({ name: 'unknown-model' }))).code).toBe(Code.NotFound);
    expect((await failure(client.listStageTransitions({}))).code).toBe(Code.InvalidArgument);
    expect((await failure(client.registerModelVersion({ name: 'bad name', runId: runA }))).code).toBe(
      Code.InvalidArgument,
    );
  });

  it('answers lineage queries, and InvalidArgument for an unknown type', async () => {
    const res = await client.getLineage({
      type: T.MODEL_VERSION,
      id: mv1,
      direction: registryv1.LineageDirection.UPSTREAM,
    });
    expect(res.root?.label).toBe('jane-twin v1');
    expect(res.edges.some((e) => e.from?.type === T.SOURCE)).toBe(true);
    const down = await client.getLineage({ type: T.RAW_DOCUMENT, id: 'doc_1' });
    expect(down.edges.some((e) => e.to?.id === mv2)).toBe(true);
    expect((await failure(client.getLineage({ id: mv1 }))).code).toBe(Code.InvalidArgument);
    expect((await failure(client.getLineage({ type: T.SOURCE, id: 'src_none' }))).code).toBe(Code.NotFound);
  });
});
