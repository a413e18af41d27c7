// A model version's evaluation report as stored: checked once at registration, kept as plain fields (the
// warehouse stores JSON-like records), returned as registryv1.EvaluationReport. The registry does not judge
// the scores; the training job's gates did. It only refuses a report that says it failed without a reason,
// which would leave a failed candidate promotable.
import { create } from '@bufbuild/protobuf';
import { registryv1 } from '@llmtwin/contracts';
import { invalidArgument } from '@llmtwin/runtime/errors';
import { checkSha256 } from './common.js';

export const SCORE_ROLES = ['candidate', 'base', 'production'] as const;

export type ScoresRecord = {
  role: string;
  model: string;
  perplexity: number;
  styleDistance: number;
  judgeAccuracy: number;
  judgeStyle: number;
  judgeAccuracyRag: number;
  judgeStyleRag: number;
  examples: number;
};

export type GateRecord = { name: string; passed: boolean; detail: string };

export type EvaluationRecord = {
  scores: ScoresRecord[];
  gates: GateRecord[];
  judgeModel: string;
  judgeTemplateSha256: string;
  wallSeconds: number;
  passed: boolean;
};

function finite(value: number, field: string, min: number, what: string): number {
  if (!Number.isFinite(value) || value < min)
    throw invalidArgument(`${field} must be a finite number >= ${min} (${what})`, [
      { field, message: Number.isFinite(value) ? `below ${min}` : 'not a finite number' },
    ]);
  return value;
}

/** The report of a RegisterModelVersionRequest, checked; undefined when the request has none. */
export function checkEvaluation(
  report: registryv1.EvaluationReport | undefined,
  rejectionReason: string,
): EvaluationRecord | undefined {
  if (!report) return undefined;
  const roles = new Set<string>();
  const scores = report.scores.map((s, i): ScoresRecord => {
    const field = `evaluation.scores[${i}]`;
    if (!(SCORE_ROLES as readonly string[]).includes(s.role))
      throw invalidArgument(`${field}.role must be one of ${SCORE_ROLES.join(', ')}, not "${s.role}"`, [
        { field: `${field}.role`, message: s.role ? 'unknown role' : 'required' },
      ]);
    if (roles.has(s.role))
      throw invalidArgument(`evaluation.scores holds role "${s.role}" twice: one entry per role`, [
        { field: `${field}.role`, message: 'duplicate' },
      ]);
    roles.add(s.role);
    if (s.examples < 0n)
      throw invalidArgument(`${field}.examples must not be negative`, [
        { field: `${field}.examples`, message: '>= 0' },
      ]);
    return {
      role: s.role,
      model: s.model,
      perplexity: finite(s.perplexity, `${field}.perplexity`, 0, '0 = not measured'),
      styleDistance: finite(s.styleDistance, `${field}.style_distance`, -1, '-1 = not measured'),
      judgeAccuracy: finite(s.judgeAccuracy, `${field}.judge_accuracy`, 0, '0 = not judged'),
      judgeStyle: finite(s.judgeStyle, `${field}.judge_style`, 0, '0 = not judged'),
      judgeAccuracyRag: finite(s.judgeAccuracyRag, `${field}.judge_accuracy_rag`, 0, '0 = not judged'),
      judgeStyleRag: finite(s.judgeStyleRag, `${field}.judge_style_rag`, 0, '0 = not judged'),
      examples: Number(s.examples),
    };
  });
  const gates = report.gates.map((g, i): GateRecord => {
    if (!g.name.trim())
      throw invalidArgument(`evaluation.gates[${i}].name is required: which gate it is`, [
        { field: `evaluation.gates[${i}].name`, message: 'required' },
      ]);
    return { name: g.name, passed: g.passed, detail: g.detail };
  });
  if (!report.passed && !rejectionReason.trim())
    throw invalidArgument(
      'evaluation.passed is false: set rejection_reason (the gate that failed) so the version is registered as STAGE_REJECTED',
      [{ field: 'rejection_reason', message: 'required when the evaluation did not pass' }],
    );
  return {
    scores,
    gates,
    judgeModel: report.judgeModel,
    judgeTemplateSha256: checkSha256(report.judgeTemplateSha256, 'evaluation.judge_template_sha256', false),
    wallSeconds: finite(report.wallSeconds, 'evaluation.wall_seconds', 0, 'how long it took'),
    passed: report.passed,
  };
}

export const evaluationProto = (e: EvaluationRecord): registryv1.EvaluationReport =>
  create(registryv1.EvaluationReportSchema, {
    ...e,
    scores: e.scores.map((s) => ({ ...s, examples: BigInt(s.examples) })),
  });
