// Report assembly over fakes of the model runtime, the retriever and the judge model (the pure logic only;
// the real Python runtime runs in adapters/python-evaluation.e2e.test.ts, a real judge in
// adapters/evaluation-judge.e2e.test.ts).
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from '@jest/globals';
import { registryv1 } from '@llmtwin/contracts';
import { isDomainError } from '@llmtwin/runtime/errors';
import type { EvaluationInput } from '../evaluator.port.js';
import type { CompletionRequest, GeneratorLlm } from '../generator-llm.port.js';
import {
  createEvaluator,
  DEFAULT_EVALUATION,
  rejectionReason,
  withPassages,
  type EvaluatorDeps,
} from './evaluation.js';
import { DEFAULT_GATES } from './gates.js';
import { judgeTemplateSha256 } from './judge.js';
import type {
  AnswerGenerator,
  GenerationPrompt,
  ModelRole,
  ModelsUnderTest,
  PassageRetriever,
  PerplexityRunner,
} from './model-runner.port.js';

const authorText = 'Ship small. Measure it. Then fix what broke!';

/** Fake runtime: fixed perplexities; the candidate and production answer in the author's manner. */
class FakeRuntime implements PerplexityRunner, AnswerGenerator {
  asked: { models: ModelsUnderTest; prompts: readonly GenerationPrompt[] } | undefined;
  constructor(private readonly ppl: Partial<Record<ModelRole, number>>) {}
  perplexity(models: ModelsUnderTest) {
    const roles: ModelRole[] = [
      'base',
      'candidate',
      ...(models.adapters.production ? (['production'] as const) : []),
    ];
    return Promise.resolve(
      Object.fromEntries(roles.map((r) => [r, { perplexity: this.ppl[r] ?? 10, tokens: 100 }])),
    );
  }
  generate(models: ModelsUnderTest, prompts: readonly GenerationPrompt[]) {
    this.asked = { models, prompts };
    const roles: ModelRole[] = [
      'base',
      'candidate',
      ...(models.adapters.production ? (['production'] as const) : []),
    ];
    return Promise.resolve(
      roles.flatMap((role) =>
        prompts.map((p) => ({
          role,
          id: p.id,
          text:
            role === 'base'
              ? 'As an AI language model, I would suggest that one carefully considers the various options available.'
              : p.id.endsWith('#rag')
                ? 'Ship it small, as I wrote [1]. Fix what broke!'
                : 'Ship it small. Measure. Fix what broke!',
        })),
      ),
    );
  }
}

/** Fake judge model: grades read from the answer text; malformed replies to the adapters' with-RAG answers. */
class FakeJudgeLlm implements GeneratorLlm {
  readonly model = 'fake-judge';
  calls = 0;
  complete(request: CompletionRequest): Promise<string> {
    this.calls++;
    const user = request.messages[1]!.content; // the graded answer, also on a retry
    if (user.includes('As an AI')) return Promise.resolve('{"accuracy": 1, "style": 1}');
    return Promise.resolve(user.includes('[1]') ? 'garbage' : '{"accuracy": 3, "style": 2}');
  }
}

const fakeRetriever: PassageRetriever = {
  retrieve: (query) =>
    Promise.resolve([{ title: 'On shipping', url: 'https://ex.com/a', text: `About ${query}` }]),
};

const input = (over: Partial<EvaluationInput> = {}): EvaluationInput => ({
  authorId: 'jane',
  datasetVersion: create(registryv1.DatasetVersionSchema, { id: 'dsv_1' }),
  workDir: '/tmp/unused',
  heldOut: {
    texts: [authorText, 'Tests first. Code second.'],
    prompts: ['p1', 'p2', 'p3'].map((id) => ({
      id,
      messages: [
        { role: 'system' as const, content: 'You are Jane.' },
        { role: 'user' as const, content: `Question ${id}?` },
      ],
      reference: authorText,
    })),
  },
  baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
  candidate: { adapterDir: '/a/candidate', modelVersionLabel: 'jane-twin v3' },
  signal: new AbortController().signal,
  ...over,
});

let clock = 0;
const deps = (runtime: FakeRuntime, over: Partial<EvaluatorDeps> = {}): EvaluatorDeps => ({
  perplexity: runtime,
  answers: runtime,
  settings: { ...DEFAULT_EVALUATION, maxPrompts: 2, gates: { ...DEFAULT_GATES, minPerplexityGain: 0.05 } },
  now: () => (clock += 1500),
  ...over,
});

describe('createEvaluator', () => {
  it('scores base and candidate, passes the gates, and leaves judge and RAG unmeasured when not wired', async () => {
    const runtime = new FakeRuntime({ base: 20, candidate: 12 });
    const report = await createEvaluator(deps(runtime)).evaluate(input());
    expect(report.scores.map((s) => [s.role, s.model, s.perplexity, s.examples])).toEqual([
      ['candidate', 'jane-twin v3', 12, 2n],
      ['base', 'HuggingFaceTB/SmolLM2-135M-Instruct', 20, 2n],
    ]);
    const [candidate, base] = report.scores;
    expect(candidate!.styleDistance).toBeLessThan(base!.styleDistance);
    expect(candidate!.judgeAccuracy).toBe(0);
    expect(report.judgeModel).toBe('');
    expect(report.judgeTemplateSha256).toBe('');
    expect(report.wallSeconds).toBe(1.5);
    expect(report.passed).toBe(true);
    expect(report.gates.find((g) => g.name === 'judge-vs-production')!.detail).toMatch(/no judge configured/);
    // Capped to maxPrompts, no with-RAG prompts without a retriever.
    expect(runtime.asked!.prompts.map((p) => p.id)).toEqual(['p1', 'p2']);
  });

  it('judges answers with and without RAG per role, counting malformed judge replies as unscored', async () => {
    const runtime = new FakeRuntime({ base: 20, candidate: 12, production: 13 });
    const judge = new FakeJudgeLlm();
    const report = await createEvaluator(deps(runtime, { judge, retriever: fakeRetriever })).evaluate(
      input({ production: { adapterDir: '/a/prod', modelVersionId: 'mv_prod' } }),
    );
    expect(report.scores.map((s) => s.role)).toEqual(['candidate', 'base', 'production']);
    expect(report.scores[2]!.model).toBe('mv_prod');
    const [candidate, base] = report.scores;
    expect([candidate!.judgeAccuracy, candidate!.judgeStyle]).toEqual([3, 2]);
    expect([base!.judgeAccuracy, base!.judgeStyle, base!.judgeAccuracyRag]).toEqual([1, 1, 1]);
    // The fake judge replies "garbage" for with-RAG answers of the adapters: unscored twice each, then 0.
    expect([candidate!.judgeAccuracyRag, candidate!.judgeStyleRag]).toEqual([0, 0]);
    // 3 roles × 2 prompts × (plain, RAG), plus one retry for each garbled reply (2 adapters × 2 prompts).
    expect(judge.calls).toBe(3 * 2 * 2 + 2 * 2);
    expect(report.judgeModel).toBe('fake-judge');
    expect(report.judgeTemplateSha256).toBe(await judgeTemplateSha256());
    expect(runtime.asked!.prompts.map((p) => p.id)).toEqual(['p1', 'p2', 'p1#rag', 'p2#rag']);
    expect(runtime.asked!.models.adapters).toEqual({ candidate: '/a/candidate', production: '/a/prod' });
    expect(report.passed).toBe(true);
  });

  it('fails the report, with a readable reason, when the candidate is no better than base', async () => {
    const report = await createEvaluator(deps(new FakeRuntime({ base: 10, candidate: 10.2 }))).evaluate(
      input(),
    );
    expect(report.passed).toBe(false);
    expect(rejectionReason(report)).toBe(
      'perplexity-vs-base: perplexity 10.2 vs base 10.0: 2.0% higher, need ≥ 5.0% lower',
    );
  });

  it('refuses a dataset version without held-out text', async () => {
    const err = await createEvaluator(deps(new FakeRuntime({})))
      .evaluate(input({ heldOut: { texts: [' '], prompts: [] } }))
      .catch((e: unknown) => e);
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect((err as Error).message).toMatch(/dsv_1 has no held-out text/);
  });

  it('stops with cancelled when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await createEvaluator(deps(new FakeRuntime({ base: 20, candidate: 12 })))
      .evaluate(input({ signal: controller.signal }))
      .catch((e: unknown) => e);
    expect(isDomainError(err, 'cancelled')).toBe(true);
  });
});

describe('createEvaluator, cancelled while judging', () => {
  it('stops at the next answer instead of judging the rest', async () => {
    const controller = new AbortController();
    let calls = 0;
    // Fault injection: the run is cancelled while the judge answers its first call.
    const judge: GeneratorLlm = {
      model: 'cancelling-judge',
      complete: () => {
        calls++;
        controller.abort();
        return Promise.resolve('{"accuracy": 2, "style": 2}');
      },
    };
    const err = await createEvaluator(deps(new FakeRuntime({ base: 20, candidate: 12 }), { judge }))
      .evaluate(input({ signal: controller.signal }))
      .catch((e: unknown) => e);
    expect(isDomainError(err, 'cancelled')).toBe(true);
    expect(calls).toBe(1);
  });
});

describe('withPassages', () => {
  it('puts the passages, numbered as the router numbers them, before the question in the last user turn', () => {
    const messages = withPassages(
      [
        { role: 'system', content: 'You are Jane.' },
        { role: 'user', content: 'Why ship small?' },
      ],
      [
        { title: 'A', url: 'https://ex.com/a', text: 'one' },
        { title: 'B', url: 'https://ex.com/b', text: 'two' },
      ],
    );
    expect(messages).toEqual([
      { role: 'system', content: 'You are Jane.' },
      {
        role: 'user',
        content:
          'Passages from my own writing:\n[1] A (https://ex.com/a)\none\n\n[2] B (https://ex.com/b)\ntwo\n\nQuestion: Why ship small?',
      },
    ]);
  });
});
