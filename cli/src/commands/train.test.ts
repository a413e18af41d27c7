// `llmtwin train`'s pure parts: the command line → StartTrainingRequest (and what it refuses), the progress
// line, and the JSON and text it prints for a run and its evaluated model version.
import { describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { registryv1, trainerv1 } from '@llmtwin/contracts';
import { InvalidArgumentError } from 'commander';
import { learningRate, loraRank, positiveInteger, trainingRequest, UsageError } from './train.js';
import {
  duration,
  evaluationJson,
  metricSeries,
  modelVersionJson,
  progressLine,
  renderEvaluation,
  runJson,
  sparkline,
  stageSummary,
} from './training-format.js';

// Colours off, so assertions read plain text.
process.env['NO_COLOR'] = '1';
const o = { url: 'http://127.0.0.1:1', json: true };

describe('llmtwin train arguments', () => {
  it('maps the options onto StartTraining, leaving unset ones to the preset', () => {
    expect(trainingRequest({ ...o, dataset: 'dsv_1' })).toEqual({
      datasetVersionId: 'dsv_1',
      preferenceDatasetVersionId: '',
      preset: '',
      baseModel: '',
      maxSteps: 0n,
      dpoSteps: 0n,
      learningRate: 0,
      loraRank: 0,
      seed: 0n,
      modelName: '',
      experiment: '',
      mergeWeights: false,
    });
    expect(
      trainingRequest({
        ...o,
        dataset: 'dsv_1',
        preference: 'dsv_2',
        preset: 'cpu-tiny',
        base: 'HuggingFaceTB/SmolLM2-135M-Instruct',
        steps: 6,
        dpoSteps: 2,
        lr: 2e-4,
        rank: 4,
        seed: 7,
        name: 'jane-twin',
        experiment: 'jane-lr',
        merge: true,
      }),
    ).toEqual({
      datasetVersionId: 'dsv_1',
      preferenceDatasetVersionId: 'dsv_2',
      preset: 'cpu-tiny',
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      maxSteps: 6n,
      dpoSteps: 2n,
      learningRate: 2e-4,
      loraRank: 4,
      seed: 7n,
      modelName: 'jane-twin',
      experiment: 'jane-lr',
      mergeWeights: true,
    });
  });

  it('resumes a run with its own settings only', () => {
    expect(trainingRequest({ ...o, resume: 'run_1' })).toEqual({ resumeRunId: 'run_1' });
    expect(() => trainingRequest({ ...o, resume: 'run_1', dataset: 'dsv_1', steps: 3 })).toThrow(
      new UsageError('--resume continues run run_1 with its own settings: leave out --dataset, --steps'),
    );
  });

  it('says what is missing or wrong', () => {
    expect(() => trainingRequest(o)).toThrow(
      /--dataset <id> \(llmtwin datasets list\), or --resume <run id>/,
    );
    expect(() => trainingRequest({ ...o, dataset: 'dsv_1', dpoSteps: 2 })).toThrow(
      '--dpo-steps needs a preference dataset version: --preference <id>',
    );
    expect(positiveInteger('30')).toBe(30);
    for (const bad of ['0', '-1', '2.5', 'x', ''])
      expect(() => positiveInteger(bad)).toThrow(InvalidArgumentError);
    expect(learningRate('2e-4')).toBe(0.0002);
    for (const bad of ['0', '1', '-1e-4', 'fast'])
      expect(() => learningRate(bad)).toThrow('a number between 0 and 1, e.g. 2e-4');
    expect(loraRank('16')).toBe(16);
    expect(() => loraRank('4096')).toThrow('a LoRA rank from 1 to 1024');
  });
});

const job = (fields: MessageInitShape<typeof trainerv1.JobSchema>) =>
  create(trainerv1.JobSchema, {
    id: 'job_1',
    kind: trainerv1.JobKind.TRAIN,
    state: trainerv1.JobState.RUNNING,
    ...fields,
  });

describe('llmtwin train progress', () => {
  it('shows phase, steps, loss and time left', () => {
    expect(
      progressLine(
        job({ phase: 'sft', done: 12n, total: 30n, metrics: { loss: 2.31456 }, etaSeconds: 65 }),
        10,
      ),
    ).toBe('sft       ████░░░░░░  12/30  loss 2.315  eta 1m05s');
    // Before the steps, the job's message says what it is doing.
    expect(progressLine(job({ phase: 'loading', message: 'loading the base model' }), 10)).toBe(
      'loading   loading the base model',
    );
    expect(progressLine(job({ state: trainerv1.JobState.QUEUED }))).toBe('queued  ');
    expect([duration(0), duration(42.4), duration(3725), duration(NaN)]).toEqual(['', '42s', '1h02m', '']);
  });
});

const point = (key: string, step: number, value: number) =>
  create(registryv1.MetricPointSchema, { key, step: BigInt(step), value });

const report = (production: boolean) =>
  create(registryv1.EvaluationReportSchema, {
    scores: [
      { role: 'candidate', model: 'mv_2', perplexity: 12.1, styleDistance: 0.31, examples: 5n },
      { role: 'base', model: 'SmolLM2-135M-Instruct', perplexity: 18.4, styleDistance: 0.4, examples: 5n },
      ...(production
        ? [{ role: 'production', model: 'mv_1', perplexity: 11.9, styleDistance: -1, examples: 5n }]
        : []),
    ],
    gates: [
      {
        name: 'perplexity-vs-base',
        passed: true,
        detail: 'perplexity 12.1 vs base 18.4: 34% lower, need >= 5%',
      },
      ...(production
        ? [
            {
              name: 'no-regression',
              passed: false,
              detail: 'perplexity 12.1 vs production 11.9: 1.7% higher',
            },
          ]
        : []),
    ],
    wallSeconds: 42,
    passed: !production,
  });

describe('llmtwin train output', () => {
  it('prints every metric point as series and the model version with its evaluation (--json)', () => {
    const run = create(registryv1.RunSchema, { id: 'run_1', state: registryv1.RunState.SUCCEEDED });
    const history = [point('loss', 2, 2.5), point('learning_rate', 1, 2e-4), point('loss', 1, 3)];
    expect(runJson(run, history)).toEqual({
      id: 'run_1',
      state: 'succeeded',
      metrics: {
        loss: [
          { step: 1, value: 3 },
          { step: 2, value: 2.5 },
        ],
        learning_rate: [{ step: 1, value: 2e-4 }],
      },
    });
    const candidate = create(registryv1.ModelVersionSchema, {
      id: 'mv_2',
      name: 'jane-twin',
      version: 2n,
      stage: registryv1.Stage.CANDIDATE,
      pendingStage: registryv1.Stage.PRODUCTION,
      evaluation: report(false),
    });
    expect(modelVersionJson(candidate)).toEqual({
      id: 'mv_2',
      stage: 'candidate',
      pendingStage: 'production',
      rejectionReason: null,
      evaluation: {
        candidate: {
          model: 'mv_2',
          examples: 5,
          perplexity: 12.1,
          styleDistance: 0.31,
          judgeAccuracy: null,
          judgeStyle: null,
          judgeAccuracyRag: null,
          judgeStyleRag: null,
        },
        base: expect.objectContaining({ model: 'SmolLM2-135M-Instruct', perplexity: 18.4 }),
        gates: [
          {
            name: 'perplexity-vs-base',
            passed: true,
            detail: 'perplexity 12.1 vs base 18.4: 34% lower, need >= 5%',
          },
        ],
        passed: true,
        judgeModel: null,
        judgeTemplateSha256: null,
        wallSeconds: 42,
      },
    });
    // Production only when there was one; "not measured" is null, not -1.
    expect(evaluationJson(report(false))).not.toHaveProperty('production');
    expect(evaluationJson(report(true))!.production).toMatchObject({ model: 'mv_1', styleDistance: null });
    expect(modelVersionJson(create(registryv1.ModelVersionSchema, { id: 'mv_3' }))).toEqual({
      id: 'mv_3',
      stage: null,
      pendingStage: null,
      rejectionReason: null,
      evaluation: null,
    });
  });

  it('names the stage and what to do next', () => {
    const base = { id: 'mv_2', name: 'jane-twin', version: 2n };
    expect(
      stageSummary(
        create(registryv1.ModelVersionSchema, {
          ...base,
          stage: registryv1.Stage.CANDIDATE,
          pendingStage: registryv1.Stage.PRODUCTION,
        }),
      ),
    ).toBe(
      '✔ mv_2 (jane-twin v2) is a candidate waiting for approval into production: llmtwin models approve mv_2',
    );
    expect(
      stageSummary(
        create(registryv1.ModelVersionSchema, {
          ...base,
          stage: registryv1.Stage.REJECTED,
          rejectionReason: 'no-regression: perplexity 1.7% higher than production',
        }),
      ),
    ).toBe('✖ mv_2 (jane-twin v2) rejected: no-regression: perplexity 1.7% higher than production');
  });

  it('prints the evaluation as a table of roles and the gates with their details', () => {
    expect(renderEvaluation(report(true)).split('\n')).toEqual([
      '  evaluation failed, in 42s',
      '              model                  perplexity  style dist  examples',
      '  candidate   mv_2                   12.10       0.310       5',
      '  base        SmolLM2-135M-Instruct  18.40       0.400       5',
      '  production  mv_1                   11.90       -           5',
      '  ✔ perplexity-vs-base  perplexity 12.1 vs base 18.4: 34% lower, need >= 5%',
      '  ✖ no-regression  perplexity 12.1 vs production 11.9: 1.7% higher',
    ]);
    expect(renderEvaluation(undefined)).toBe('  no evaluation recorded');
  });

  it('draws a loss curve with its first and last values', () => {
    const points = [5, 4, 3, 2, 1].map((value, i) => ({ step: i + 1, value }));
    expect(sparkline(points)).toBe('5 █▆▅▃▁ 1  (steps 1-5)');
    expect(sparkline(points, 2)).toBe('5 █▁ 1  (steps 1-5)');
    expect(sparkline([])).toBe('');
    expect(metricSeries([])).toEqual({});
  });
});
