import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { registryeventsv1, registryv1 } from '@llmtwin/contracts';
import {
  failedEvaluation,
  openRegistry,
  rejection,
  sha256,
  trainedModel,
  type RegistryFixture,
} from '../registry.fixture.js';

const Stage = registryv1.Stage;
const TS = registryv1.TransitionState;

let f: RegistryFixture;
beforeEach(async () => {
  f = await openRegistry();
});
afterEach(async () => {
  await f.close();
});

const request = (modelVersionId: string, stage: registryv1.Stage, requestedBy = 'ann') =>
  f.registry.models.requestTransition(
    create(registryv1.RequestStageTransitionRequestSchema, {
      modelVersionId,
      stage,
      requestedBy,
      comment: 'looks good',
    }),
  );
const review = (modelVersionId: string, approve: boolean, reviewer = 'bob') =>
  f.registry.models.reviewTransition(
    create(registryv1.ReviewStageTransitionRequestSchema, {
      modelVersionId,
      approve,
      reviewer,
      comment: 'ok',
    }),
  );
const promote = async (id: string) => {
  await request(id, Stage.PRODUCTION);
  return review(id, true);
};
/** A second version of the model, from a run on another dataset version. */
const another = (n: number) => trainedModel(f.registry, { contentHash: sha256(`examples ${n}`) });

const stageChanges = async () =>
  (await f.events())
    .filter((e) => e.event.case === 'modelStageChanged')
    .map((e) => {
      const c = e.event.value as registryeventsv1.ModelStageChanged;
      return [c.modelVersion!.version, Stage[c.previousStage], Stage[c.modelVersion!.stage], c.reviewer];
    });

describe('model versions', () => {
  it('count up per name and take dataset version, author and base model from the run', async () => {
    const { mv, run, dv } = await trainedModel(f.registry);
    const second = await another(2);
    expect(mv.version).toBe(1n);
    expect(second.mv.version).toBe(2n);
    expect(mv).toMatchObject({
      name: 'jane-twin',
      runId: run.id,
      datasetVersionId: dv.id,
      authorId: 'jane',
      baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
      stage: Stage.NONE,
      pendingStage: Stage.UNSPECIFIED,
      servingModelId: 'jane-twin-lora',
      aliases: [],
    });
    const registered = (await f.events()).filter((e) => e.event.case === 'modelVersionRegistered');
    expect(
      registered.map((e) => (e.event.value as registryeventsv1.ModelVersionRegistered).modelVersion!.id),
    ).toEqual([mv.id, second.mv.id]);
    expect((await f.registry.models.get(mv.id)).name).toBe('jane-twin');
  });

  it('refuses a missing run and a failed one', async () => {
    const missing = await rejection(
      f.registry.models.register(
        create(registryv1.RegisterModelVersionRequestSchema, { name: 'm', runId: 'run_x' }),
      ),
    );
    expect(missing.kind).toBe('not-found');
    const { run } = await trainedModel(f.registry);
    const failed = await f.registry.runs.create(
      create(registryv1.CreateRunRequestSchema, {
        experiment: 'e',
        method: registryv1.TrainingMethod.SFT,
        baseModel: 'b',
        datasetVersionId: run.datasetVersionId,
      }),
    );
    await f.registry.runs.update(
      create(registryv1.UpdateRunRequestSchema, { id: failed.id, state: registryv1.RunState.FAILED }),
    );
    const err = await rejection(
      f.registry.models.register(
        create(registryv1.RegisterModelVersionRequestSchema, { name: 'm', runId: failed.id }),
      ),
    );
    expect(err.kind).toBe('failed-precondition');
    expect(err.message).toContain('is FAILED');
  });

  it('applies candidate, archived and none at once', async () => {
    const { mv } = await trainedModel(f.registry);
    const { modelVersion, transition } = await request(mv.id, Stage.CANDIDATE);
    expect(modelVersion!.stage).toBe(Stage.CANDIDATE);
    expect(transition).toMatchObject({
      fromStage: Stage.NONE,
      toStage: Stage.CANDIDATE,
      state: TS.APPLIED,
      requestedBy: 'ann',
      cause: 'request',
    });
    await request(mv.id, Stage.ARCHIVED);
    expect(await stageChanges()).toEqual([
      [1n, 'NONE', 'CANDIDATE', 'ann'],
      [1n, 'CANDIDATE', 'ARCHIVED', 'ann'],
    ]);
    const again = await rejection(request(mv.id, Stage.ARCHIVED));
    expect(again.message).toContain('already ARCHIVED');
    const bad = await rejection(request(mv.id, Stage.UNSPECIFIED));
    expect(bad.kind).toBe('invalid-argument');
    expect(bad.message).toContain('stage is required');
  });

  it('puts production behind a review: pending, superseded by a newer request, approved', async () => {
    const { mv } = await trainedModel(f.registry);
    const first = await request(mv.id, Stage.PRODUCTION);
    expect(first.transition!.state).toBe(TS.PENDING);
    expect(first.modelVersion).toMatchObject({ stage: Stage.NONE, pendingStage: Stage.PRODUCTION });
    const second = await request(mv.id, Stage.PRODUCTION, 'carl');
    const approved = await review(mv.id, true);
    expect(approved.modelVersion).toMatchObject({
      stage: Stage.PRODUCTION,
      pendingStage: Stage.UNSPECIFIED,
      aliases: ['production'],
    });
    expect(approved.transition).toMatchObject({
      id: second.transition!.id,
      state: TS.APPROVED,
      reviewer: 'bob',
      requestedBy: 'carl',
    });
    const history = await f.registry.models.listTransitions(
      create(registryv1.ListStageTransitionsRequestSchema, { modelVersionId: mv.id }),
    );
    expect(history.map((t) => [t.id, TS[t.state]])).toEqual([
      [first.transition!.id, 'SUPERSEDED'],
      [second.transition!.id, 'APPROVED'],
    ]);
    expect(await stageChanges()).toEqual([[1n, 'NONE', 'PRODUCTION', 'bob']]);
    expect((await f.registry.models.get('jane-twin@production')).id).toBe(mv.id);
  });

  it('archives the previous production version when another is approved', async () => {
    const { mv: v1 } = await trainedModel(f.registry);
    const { mv: v2 } = await another(2);
    await promote(v1.id);
    await promote(v2.id);
    expect((await f.registry.models.get(v1.id)).stage).toBe(Stage.ARCHIVED);
    expect((await f.registry.models.get(v1.id)).aliases).toEqual([]);
    expect((await f.registry.models.get('jane-twin@production')).id).toBe(v2.id);
    expect(await stageChanges()).toEqual([
      [1n, 'NONE', 'PRODUCTION', 'bob'],
      [1n, 'PRODUCTION', 'ARCHIVED', 'bob'],
      [2n, 'NONE', 'PRODUCTION', 'bob'],
    ]);
    const byName = await f.registry.models.listTransitions(
      create(registryv1.ListStageTransitionsRequestSchema, { name: 'jane-twin' }),
    );
    expect(byName.map((t) => [t.modelVersionId, TS[t.state], t.cause])).toEqual([
      [v1.id, 'APPROVED', 'request'],
      [v2.id, 'APPROVED', 'request'],
      [v1.id, 'APPLIED', 'demoted'],
    ]);
    const production = await f.registry.models.list(
      { name: 'jane-twin', stage: Stage.PRODUCTION, authorId: '' },
      { size: 10, after: '' },
    );
    expect(production.versions.map((v) => v.id)).toEqual([v2.id]);
  });

  it('rejects without changing the stage, and refuses a review with nothing pending', async () => {
    const { mv } = await trainedModel(f.registry);
    await request(mv.id, Stage.PRODUCTION);
    const rejected = await review(mv.id, false);
    expect(rejected.transition!.state).toBe(TS.REJECTED);
    expect(rejected.modelVersion).toMatchObject({ stage: Stage.NONE, pendingStage: Stage.UNSPECIFIED });
    const err = await rejection(review(mv.id, true));
    expect(err.kind).toBe('failed-precondition');
    expect(err.message).toContain('no transition waiting for review');
    expect(await stageChanges()).toEqual([]);
  });

  it('never lets a tainted version into production', async () => {
    const { mv } = await trainedModel(f.registry);
    await request(mv.id, Stage.PRODUCTION);
    await f.registry.models.taint('jane-twin', [mv.id], 'document doc_1 was deleted');
    // The taint rejected the pending request; a new one is refused.
    expect((await rejection(review(mv.id, true))).kind).toBe('failed-precondition');
    const err = await rejection(request(mv.id, Stage.PRODUCTION));
    expect(err.kind).toBe('failed-precondition');
    expect(err.message).toContain('is tainted (document doc_1 was deleted)');
  });

  it('rolls production back to the previous approved, untainted version', async () => {
    const { mv: v1 } = await trainedModel(f.registry);
    const { mv: v2 } = await another(2);
    const { mv: v3 } = await another(3);
    await promote(v1.id);
    await promote(v2.id);
    await promote(v3.id);
    await f.registry.models.taint('jane-twin', [v2.id], 'bad data');
    const rollback = create(registryv1.RollbackProductionRequestSchema, {
      name: 'jane-twin',
      reviewer: 'bob',
    });
    const back = await f.registry.models.rollback(rollback);
    expect(back.modelVersion).toMatchObject({ id: v1.id, stage: Stage.PRODUCTION, aliases: ['production'] });
    expect(back.previous).toMatchObject({ id: v3.id, stage: Stage.ARCHIVED });
    expect((await stageChanges()).slice(-2)).toEqual([
      [3n, 'PRODUCTION', 'ARCHIVED', 'bob'],
      [1n, 'ARCHIVED', 'PRODUCTION', 'bob'],
    ]);
    const transitions = await f.registry.models.listTransitions(
      create(registryv1.ListStageTransitionsRequestSchema, { name: 'jane-twin' }),
    );
    expect(
      transitions
        .filter((t) => t.cause === 'rollback')
        .map((t) => [t.modelVersionId, Stage[t.toStage], TS[t.state]]),
    ).toEqual(
      expect.arrayContaining([
        [v3.id, 'ARCHIVED', 'APPLIED'],
        [v1.id, 'PRODUCTION', 'APPLIED'],
      ]),
    );
    // v3 was rolled back and v2 is tainted: nothing earlier is left.
    const err = await rejection(f.registry.models.rollback(rollback));
    expect(err.kind).toBe('failed-precondition');
    expect(err.message).toContain('no earlier approved, untainted version');
    expect(
      (
        await rejection(
          f.registry.models.rollback(create(registryv1.RollbackProductionRequestSchema, { name: 'nope' })),
        )
      ).kind,
    ).toBe('not-found');
  });

  it('moves an alias between versions and resolves "<name>@<alias>"', async () => {
    const { mv: v1 } = await trainedModel(f.registry);
    const { mv: v2 } = await another(2);
    const alias = (id: string, a: string) =>
      f.registry.models.setAlias(
        create(registryv1.SetModelAliasRequestSchema, { modelVersionId: id, alias: a }),
      );
    expect((await alias(v1.id, 'champion')).aliases).toEqual(['champion']);
    expect((await alias(v2.id, 'champion')).aliases).toEqual(['champion']);
    expect((await f.registry.models.get(v1.id)).aliases).toEqual([]);
    expect((await f.registry.models.get('jane-twin@champion')).id).toBe(v2.id);
    const reserved = await rejection(alias(v1.id, 'production'));
    expect(reserved.kind).toBe('invalid-argument');
    expect(reserved.message).toContain('request a transition to STAGE_PRODUCTION');
    expect((await rejection(alias(v1.id, 'no spaces'))).kind).toBe('invalid-argument');
    expect((await rejection(f.registry.models.get('jane-twin@nothing'))).message).toContain(
      'has no alias "nothing"',
    );
    expect((await rejection(f.registry.models.get('jane-twin@production'))).message).toContain(
      'no version of model "jane-twin" is in production',
    );
    // Requests accept the alias form too.
    expect((await request('jane-twin@champion', Stage.CANDIDATE)).modelVersion!.id).toBe(v2.id);
  });

  it('registers a version that failed a gate as REJECTED, with its report, and never moves it', async () => {
    const reason = 'gate perplexity failed: perplexity 19.2 vs base 18.4';
    const { mv: accepted } = await trainedModel(f.registry);
    const { mv } = await trainedModel(f.registry, {
      contentHash: sha256('examples 2'),
      registration: { evaluation: failedEvaluation(), rejectionReason: reason },
    });
    expect(mv).toMatchObject({ stage: Stage.REJECTED, rejectionReason: reason, aliases: [] });
    expect(mv.evaluation).toEqual(failedEvaluation());
    expect(await f.registry.models.get(mv.id)).toEqual(mv);
    const registered = (await f.events())
      .filter((e) => e.event.case === 'modelVersionRegistered')
      .map((e) => (e.event.value as registryeventsv1.ModelVersionRegistered).modelVersion!);
    expect(registered.map((m) => [m.id, Stage[m.stage], m.rejectionReason])).toEqual([
      [accepted.id, 'NONE', ''],
      [mv.id, 'REJECTED', reason],
    ]);
    expect(await stageChanges()).toEqual([[2n, 'NONE', 'REJECTED', 'registry']]);
    const history = await f.registry.models.listTransitions(
      create(registryv1.ListStageTransitionsRequestSchema, { modelVersionId: mv.id }),
    );
    expect(history).toMatchObject([
      { fromStage: Stage.NONE, toStage: Stage.REJECTED, state: TS.APPLIED, cause: 'evaluation' },
    ]);
    expect(history[0]!.requestComment).toBe(reason);

    for (const to of [Stage.PRODUCTION, Stage.CANDIDATE, Stage.ARCHIVED, Stage.NONE]) {
      const err = await rejection(request(mv.id, to));
      expect(err.kind).toBe('failed-precondition');
      expect(err.message).toContain(`was rejected (${reason})`);
    }
    const asked = await rejection(request(accepted.id, Stage.REJECTED));
    expect(asked.kind).toBe('invalid-argument');
    expect(asked.message).toContain('STAGE_REJECTED cannot be requested');

    const list = (stage: registryv1.Stage) =>
      f.registry.models.list({ name: '', stage, authorId: '' }, { size: 10, after: '' });
    expect((await list(Stage.REJECTED)).versions.map((v) => v.id)).toEqual([mv.id]);
    expect((await list(Stage.NONE)).versions.map((v) => v.id)).toEqual([accepted.id]);
    // Nothing was approved, so a rollback has nothing to put back: a rejected version is never a target.
    expect(
      (
        await rejection(
          f.registry.models.rollback(
            create(registryv1.RollbackProductionRequestSchema, { name: 'jane-twin' }),
          ),
        )
      ).kind,
    ).toBe('failed-precondition');
  });

  it('keeps the evaluation of a version that passed, and refuses a report that says what to fix', async () => {
    const passed = create(registryv1.EvaluationReportSchema, {
      scores: failedEvaluation().scores,
      wallSeconds: 3,
      gates: [{ name: 'perplexity', passed: true, detail: '34% lower, need >= 5%' }],
      judgeModel: 'judge-model',
      judgeTemplateSha256: sha256('template'),
      passed: true,
    });
    const { mv } = await trainedModel(f.registry, { registration: { evaluation: passed } });
    expect(mv.stage).toBe(Stage.NONE);
    expect((await f.registry.models.get(mv.id)).evaluation).toEqual(passed);

    const register = (
      registration: NonNullable<Parameters<typeof trainedModel>[1]>['registration'],
      n: number,
    ) => rejection(trainedModel(f.registry, { contentHash: sha256(`examples ${n}`), registration }));
    const noReason = await register({ evaluation: failedEvaluation() }, 3);
    expect(noReason.kind).toBe('invalid-argument');
    expect(noReason.message).toContain('set rejection_reason');
    const badRole = await register(
      { evaluation: { passed: true, scores: [{ role: 'judge', perplexity: 1 }] }, rejectionReason: '' },
      4,
    );
    expect(badRole.message).toContain('evaluation.scores[0].role must be one of candidate, base, production');
    const nan = await register(
      { evaluation: { passed: true, scores: [{ role: 'base', perplexity: NaN }] } },
      5,
    );
    expect(nan.message).toContain('evaluation.scores[0].perplexity must be a finite number');
    const gate = await register({ evaluation: { passed: true, gates: [{ name: ' ', passed: true }] } }, 6);
    expect(gate.message).toContain('evaluation.gates[0].name is required');
  });

  it('keeps the history and lookups when the process dies after the write (the relay finishes them)', async () => {
    const { mv } = await trainedModel(f.registry);
    // Simulate a crash after the compare-and-set: the derived records and the event are not written yet.
    const record = (await f.registry.models.records.get('jane-twin'))!;
    const before = (await f.events()).length;
    await f.registry.models.records.put({
      ...record,
      rev: record.rev + 1,
      versions: record.versions.map((v) => ({ ...v, stage: 'candidate' as const })),
      outbox: [
        {
          id: 'crashed',
          key: mv.id,
          event: new Uint8Array(),
          at: 1,
          effects: {
            versions: [mv.id],
            seq: record.rev + 1,
            transitions: [
              {
                id: 'st_crashed',
                modelVersionId: mv.id,
                modelName: 'jane-twin',
                fromStage: 'none',
                toStage: 'candidate',
                state: 'applied',
                requestedBy: 'ann',
                requestComment: '',
                reviewer: '',
                reviewComment: '',
                requestTime: 1,
                reviewTime: 1,
                cause: 'request',
              },
            ],
          },
        },
      ],
      outboxPending: true,
    });
    expect(await f.registry.flushOutbox()).toBe(1);
    expect((await f.registry.models.index.get(mv.id))?.stage).toBe('candidate');
    expect((await f.registry.models.transitions.get('st_crashed'))?.state).toBe('applied');
    expect((await f.registry.models.records.get('jane-twin'))?.outboxPending).toBe(false);
    expect((await f.events()).length).toBe(before);
    expect(await f.registry.flushOutbox()).toBe(0);
  });
});
