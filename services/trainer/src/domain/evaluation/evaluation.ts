// The evaluation step of a training run (docs/training.md, "Evaluation"): the candidate adapter, the base model
// and the author's production adapter (when there is one) are measured on the dataset version's test split —
// perplexity of the author's held-out text, the stylometric distance of their greedy answers to it, and an
// LLM judge's grades of those answers against the author's own, without and with retrieved passages — and
// the gates decide whether the candidate may be proposed for production.
import { create } from '@bufbuild/protobuf';
import { registryv1 } from '@llmtwin/contracts';
import { DomainError, failedPrecondition } from '@llmtwin/runtime/errors';
import type { EvaluationInput, Evaluator, HeldOutPrompt } from '../evaluator.port.js';
import type { GeneratorLlm } from '../generator-llm.port.js';
import { evaluateGates, type GateThresholds, type RoleScores } from './gates.js';
import { Judge, judgeTemplateSha256, type Judgement } from './judge.js';
import type {
  AnswerGenerator,
  GenerationPrompt,
  ModelRole,
  ModelsUnderTest,
  PassageRetriever,
  PerplexityRunner,
  RetrievedPassage,
} from './model-runner.port.js';
import { styleDistance } from './stylometry.js';

export interface EvaluationSettings {
  /** Held-out prompts answered per model (the first ones of the test split). */
  maxPrompts: number;
  /** Greedy tokens per answer. */
  maxNewTokens: number;
  /** Tokens per held-out text scored for perplexity (longer texts are cut). */
  maxSeqLength: number;
  /** Passages retrieved per prompt for the with-RAG answers. */
  ragPassages: number;
  gates: GateThresholds;
}

export const DEFAULT_EVALUATION: Omit<EvaluationSettings, 'gates'> = {
  maxPrompts: 8,
  maxNewTokens: 64,
  maxSeqLength: 256,
  ragPassages: 3,
};

export interface EvaluationLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface EvaluatorDeps {
  perplexity: PerplexityRunner;
  answers: AnswerGenerator;
  /** The router's retrieval; none = no with-RAG answers (their judge scores stay 0, the report says so). */
  retriever?: PassageRetriever;
  /** The judge model (temperature 0); none = no judge (judge scores 0, judge_model empty). */
  judge?: GeneratorLlm;
  settings: EvaluationSettings;
  log?: EvaluationLog;
  /** Milliseconds, for wall_seconds. */
  now?: () => number;
}

const ROLES: readonly ModelRole[] = ['candidate', 'base', 'production'];
const RAG_SUFFIX = '#rag';

/**
 * The user turn with the author's passages before the question, in the router's passage format
 * (`[n] title (url)` then the text; inference-router domain/retrieve.ts formatContext), so that with-RAG
 * answers see the context the way served answers do.
 */
export function withPassages(messages: HeldOutPrompt['messages'], passages: readonly RetrievedPassage[]) {
  const context = passages.map((p, i) => `[${i + 1}] ${p.title} (${p.url})\n${p.text}`).join('\n\n');
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  return messages.map((m, i) =>
    i === lastUser && passages.length > 0
      ? { role: m.role, content: `Passages from my own writing:\n${context}\n\nQuestion: ${m.content}` }
      : { ...m },
  );
}

const question = (p: HeldOutPrompt) => p.messages.findLast((m) => m.role === 'user')?.content ?? '';

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new DomainError('cancelled', 'the evaluation was cancelled');
}

export function createEvaluator(deps: EvaluatorDeps): Evaluator {
  const now = deps.now ?? (() => Date.now());
  const judge = deps.judge ? new Judge(deps.judge) : undefined;
  const { settings } = deps;

  return {
    async evaluate(input: EvaluationInput): Promise<registryv1.EvaluationReport> {
      const started = now();
      const { signal } = input;
      const texts = input.heldOut.texts.filter((t) => t.trim().length > 0);
      if (texts.length === 0) {
        throw failedPrecondition(
          `dataset version ${input.datasetVersion.id} has no held-out text (its test split is empty): ` +
            'build the dataset with a test split to evaluate a model trained on it',
        );
      }
      const models: ModelsUnderTest = {
        baseModel: input.baseModel,
        ...(input.baseGguf ? { baseGguf: input.baseGguf } : {}),
        adapters: {
          candidate: input.candidate.adapterDir,
          ...(input.production ? { production: input.production.adapterDir } : {}),
        },
      };
      const roles = ROLES.filter((r) => r !== 'production' || input.production);

      const perplexity = await deps.perplexity.perplexity(models, texts, {
        workDir: input.workDir,
        signal,
        maxSeqLength: settings.maxSeqLength,
      });
      for (const role of roles) {
        if (!perplexity[role])
          throw new DomainError('internal', `the perplexity run measured no ${role} model`);
      }
      throwIfAborted(signal);

      const prompts = input.heldOut.prompts.slice(0, settings.maxPrompts);
      const asked: GenerationPrompt[] = prompts.map((p) => ({ id: p.id, messages: p.messages }));
      if (deps.retriever) {
        for (const p of prompts) {
          const passages = await deps.retriever.retrieve(question(p), input.authorId, signal);
          asked.push({
            id: p.id + RAG_SUFFIX,
            messages: withPassages(p.messages, passages.slice(0, settings.ragPassages)),
          });
        }
      }
      const answers =
        asked.length === 0
          ? []
          : await deps.answers.generate(models, asked, {
              workDir: input.workDir,
              signal,
              maxNewTokens: settings.maxNewTokens,
            });
      throwIfAborted(signal);
      const answer = new Map(answers.map((a) => [`${a.role}\u0000${a.id}`, a.text]));
      const answerOf = (role: ModelRole, id: string) => answer.get(`${role}\u0000${id}`);

      const scores = new Map<ModelRole, RoleScores & { examples: number }>();
      let unscored = 0;
      for (const role of roles) {
        const plain = prompts.map((p) => answerOf(role, p.id)).filter((a) => a !== undefined);
        // Only the answers without passages: with-RAG answers quote the author's own text, which would make
        // any model look like them.
        const style = plain.length === 0 ? -1 : styleDistance(plain, texts).distance;
        const grades: Record<'plain' | 'rag', Judgement[]> = { plain: [], rag: [] };
        if (judge) {
          for (const p of prompts) {
            for (const kind of deps.retriever ? (['plain', 'rag'] as const) : (['plain'] as const)) {
              const text = answerOf(role, kind === 'rag' ? p.id + RAG_SUFFIX : p.id);
              if (text === undefined) continue;
              throwIfAborted(signal);
              const outcome = await judge.score(
                { question: question(p), reference: p.reference, answer: text },
                signal,
              );
              if (outcome.judgement) grades[kind].push(outcome.judgement);
              else {
                unscored++;
                deps.log?.warn(
                  { role, prompt: p.id, rag: kind === 'rag', problem: outcome.problem },
                  'answer unscored',
                );
              }
            }
          }
        }
        scores.set(role, {
          perplexity: perplexity[role]!.perplexity,
          styleDistance: style,
          judgeAccuracy: mean(grades.plain.map((g) => g.accuracy)),
          judgeStyle: mean(grades.plain.map((g) => g.style)),
          judgeAccuracyRag: mean(grades.rag.map((g) => g.accuracy)),
          judgeStyleRag: mean(grades.rag.map((g) => g.style)),
          examples: plain.length,
        });
      }

      const gates = evaluateGates(
        {
          candidate: scores.get('candidate')!,
          base: scores.get('base')!,
          production: scores.get('production'),
        },
        settings.gates,
        { judgeModel: judge?.model ?? '', rag: deps.retriever !== undefined },
      );
      const modelOf: Record<ModelRole, string> = {
        candidate: input.candidate.modelVersionLabel,
        base: input.baseModel,
        production: input.production?.modelVersionId ?? '',
      };
      const report = create(registryv1.EvaluationReportSchema, {
        scores: roles.map((role) => {
          const s = scores.get(role)!;
          return {
            role,
            model: modelOf[role],
            perplexity: s.perplexity,
            styleDistance: s.styleDistance,
            judgeAccuracy: s.judgeAccuracy,
            judgeStyle: s.judgeStyle,
            judgeAccuracyRag: s.judgeAccuracyRag,
            judgeStyleRag: s.judgeStyleRag,
            examples: BigInt(s.examples),
          };
        }),
        gates,
        judgeModel: judge?.model ?? '',
        judgeTemplateSha256: judge ? await judgeTemplateSha256() : '',
        wallSeconds: (now() - started) / 1000,
        passed: gates.every((g) => g.passed),
      });
      deps.log?.info(
        { passed: report.passed, failed: gates.filter((g) => !g.passed).map((g) => g.name), unscored },
        'evaluation done',
      );
      return report;
    },
  };
}

/** "name: detail" of each failed gate, for a rejected version's rejection_reason. */
export function rejectionReason(report: registryv1.EvaluationReport): string {
  return report.gates
    .filter((g) => !g.passed)
    .map((g) => `${g.name}: ${g.detail}`)
    .join('; ');
}
