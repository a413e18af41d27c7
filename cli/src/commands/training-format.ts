// How training results read: the progress line of a running job, a run's metric series, a model version's
// stage and its evaluation report, as text and as the JSON `llmtwin train --json` and `llmtwin runs show`
// print. Pure functions of the contract messages, so that the commands and their tests share them.
import { registryv1, trainerv1 } from '@llmtwin/contracts';
import { bad, bold, dim, ok } from '../output.js';

/** A stage as a word ("candidate", "rejected"); null for none/unspecified. */
export function stageWord(s: registryv1.Stage): string | null {
  return s === registryv1.Stage.UNSPECIFIED ? null : registryv1.Stage[s]!.toLowerCase();
}

export const runStateWord = (s: registryv1.RunState) => registryv1.RunState[s]!.toLowerCase();

export interface MetricPointJson {
  step: number;
  value: number;
}

/** Every recorded point grouped by metric key, each series ordered by step. */
export function metricSeries(history: readonly registryv1.MetricPoint[]): Record<string, MetricPointJson[]> {
  const series: Record<string, MetricPointJson[]> = {};
  for (const p of history) (series[p.key] ??= []).push({ step: Number(p.step), value: p.value });
  for (const points of Object.values(series)) points.sort((a, b) => a.step - b.step);
  return series;
}

export interface ScoresJson {
  model: string;
  examples: number;
  perplexity: number | null;
  styleDistance: number | null;
  judgeAccuracy: number | null;
  judgeStyle: number | null;
  judgeAccuracyRag: number | null;
  judgeStyleRag: number | null;
}

/**
 * One model's scores with the contract's "not measured" sentinels (perplexity 0, style distance -1, judge 0)
 * as null, so that a script never mistakes them for results.
 */
export function scoresJson(s: registryv1.ModelScores): ScoresJson {
  const judged = (v: number) => (v > 0 ? v : null);
  return {
    model: s.model,
    examples: Number(s.examples),
    perplexity: s.perplexity > 0 ? s.perplexity : null,
    styleDistance: s.styleDistance >= 0 ? s.styleDistance : null,
    judgeAccuracy: judged(s.judgeAccuracy),
    judgeStyle: judged(s.judgeStyle),
    judgeAccuracyRag: judged(s.judgeAccuracyRag),
    judgeStyleRag: judged(s.judgeStyleRag),
  };
}

export interface EvaluationJson {
  candidate: ScoresJson | null;
  base: ScoresJson | null;
  production?: ScoresJson;
  gates: { name: string; passed: boolean; detail: string }[];
  passed: boolean;
  judgeModel: string | null;
  judgeTemplateSha256: string | null;
  wallSeconds: number;
}

/** The report keyed by role; production only when there was a production version to compare with. */
export function evaluationJson(e: registryv1.EvaluationReport | undefined): EvaluationJson | null {
  if (!e) return null;
  const role = (r: string) => e.scores.find((s) => s.role === r);
  const production = role('production');
  return {
    candidate: role('candidate') ? scoresJson(role('candidate')!) : null,
    base: role('base') ? scoresJson(role('base')!) : null,
    ...(production ? { production: scoresJson(production) } : {}),
    gates: e.gates.map((g) => ({ name: g.name, passed: g.passed, detail: g.detail })),
    passed: e.passed,
    judgeModel: e.judgeModel || null,
    judgeTemplateSha256: e.judgeTemplateSha256 || null,
    wallSeconds: e.wallSeconds,
  };
}

export interface ModelVersionJson {
  id: string;
  stage: string | null;
  pendingStage: string | null;
  rejectionReason: string | null;
  evaluation: EvaluationJson | null;
}

export function modelVersionJson(m: registryv1.ModelVersion): ModelVersionJson {
  return {
    id: m.id,
    stage: stageWord(m.stage),
    pendingStage: stageWord(m.pendingStage),
    rejectionReason: m.rejectionReason || null,
    evaluation: evaluationJson(m.evaluation),
  };
}

export interface RunJson {
  id: string;
  state: string;
  metrics: Record<string, MetricPointJson[]>;
}

export function runJson(run: registryv1.Run, history: readonly registryv1.MetricPoint[]): RunJson {
  return { id: run.id, state: runStateWord(run.state), metrics: metricSeries(history) };
}

// ---- text -------------------------------------------------------------------------------------------

const fixed = (v: number | null, digits: number) => (v === null ? '-' : v.toFixed(digits));

/** "1h02m", "3m05s", "42s"; empty when unknown. */
export function duration(seconds: number): string {
  if (!(seconds > 0) || !Number.isFinite(seconds)) return '';
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${s}s`;
}

/** A value as it reads in a table: integers as they are, others with 4 significant digits. */
export const metricValue = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

/**
 * One line for a running training job: phase, a bar over the steps, step/total, the latest loss and the
 * estimated time left. Before the steps start (queued, loading) the job's own message stands in for the bar.
 */
export function progressLine(job: trainerv1.Job, barWidth = 24): string {
  const phase = job.phase || (job.state === trainerv1.JobState.QUEUED ? 'queued' : 'starting');
  const total = Number(job.total);
  const done = Number(job.done);
  const parts = [phase.padEnd(8)];
  if (total > 0) {
    const filled = Math.max(0, Math.min(barWidth, Math.round((done / total) * barWidth)));
    parts.push(`${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`, `${done}/${total}`);
  }
  const loss = job.metrics['loss'];
  if (loss !== undefined) parts.push(`loss ${metricValue(loss)}`);
  const eta = duration(job.etaSeconds);
  if (eta) parts.push(`eta ${eta}`);
  if (total === 0 && job.message) parts.push(dim(job.message));
  return parts.join('  ');
}

/** What the stage means for the user, and what to do next. */
export function stageSummary(m: registryv1.ModelVersion): string {
  const name = `${m.name} v${m.version}`;
  if (m.stage === registryv1.Stage.REJECTED)
    return bad(`${bold(m.id)} (${name}) rejected: ${m.rejectionReason || 'an evaluation gate failed'}`);
  if (m.pendingStage === registryv1.Stage.PRODUCTION)
    return ok(
      `${bold(m.id)} (${name}) is a ${stageWord(m.stage) ?? 'new version'} waiting for approval into production: llmtwin models approve ${m.id}`,
    );
  return ok(`${bold(m.id)} (${name}) is ${stageWord(m.stage) ?? 'registered'}`);
}

/**
 * The evaluation as a table, one row per role (candidate, base, production), then each gate with its detail.
 */
export function renderEvaluation(e: registryv1.EvaluationReport | undefined): string {
  if (!e) return dim('  no evaluation recorded');
  const json = evaluationJson(e)!;
  const roles = (['candidate', 'base', 'production'] as const).filter((r) => json[r]);
  const judged = roles.some((r) => json[r]!.judgeAccuracy !== null || json[r]!.judgeStyle !== null);
  const header = ['', 'model', 'perplexity', 'style dist', 'examples'];
  if (judged) header.push('judge acc', 'judge style', 'rag acc', 'rag style');
  const rows = [header];
  for (const r of roles) {
    const s = json[r]!;
    const row = [r, s.model, fixed(s.perplexity, 2), fixed(s.styleDistance, 3), String(s.examples)];
    if (judged)
      row.push(
        fixed(s.judgeAccuracy, 2),
        fixed(s.judgeStyle, 2),
        fixed(s.judgeAccuracyRag, 2),
        fixed(s.judgeStyleRag, 2),
      );
    rows.push(row);
  }
  const widths = header.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => `  ${row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}`.trimEnd());
  for (const g of json.gates) lines.push(`  ${g.passed ? ok(g.name) : bad(g.name)}  ${g.detail}`);
  const about = [
    `evaluation ${json.passed ? 'passed' : 'failed'}`,
    json.wallSeconds > 0 ? `in ${duration(json.wallSeconds) || '<1s'}` : '',
    json.judgeModel ? `judge ${json.judgeModel}` : '',
  ].filter(Boolean);
  return [dim(`  ${about.join(', ')}`), ...lines].join('\n');
}

/**
 * A loss curve in one line of block characters (eight heights, scaled between the series' min and max),
 * with its first and last values; long series are averaged into `width` buckets.
 */
export function sparkline(points: readonly MetricPointJson[], width = 40): string {
  if (points.length === 0) return '';
  const buckets: number[] = [];
  const n = Math.min(width, points.length);
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * points.length) / n);
    const to = Math.floor(((i + 1) * points.length) / n);
    const slice = points.slice(from, to);
    buckets.push(slice.reduce((sum, p) => sum + p.value, 0) / slice.length);
  }
  const min = Math.min(...buckets);
  const max = Math.max(...buckets);
  const blocks = '▁▂▃▄▅▆▇█';
  const bars = buckets
    .map((v) => blocks[max === min ? 3 : Math.round(((v - min) / (max - min)) * (blocks.length - 1))])
    .join('');
  const first = points[0]!;
  const last = points[points.length - 1]!;
  return `${metricValue(first.value)} ${bars} ${metricValue(last.value)}  (steps ${first.step}-${last.step})`;
}
