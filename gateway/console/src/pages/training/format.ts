// How the training side reads in the console: the same words and numbers as the CLI (cli/src/commands/
// training-format.ts, registry.ts), as pure functions of the contract messages.
import { registryv1, trainerv1 } from '@llmtwin/contracts/web';

export interface SeriesPoint {
  step: number;
  value: number;
}

/** A value as it reads in a table: integers as they are, others with at most 4 significant digits. */
export const metricValue = (v: number) =>
  Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));

const lower = (s: string | undefined) => (s ?? '').toLowerCase().replace(/_/g, ' ');

/** A stage as a word ("candidate", "production"); empty for none given. */
export const stageWord = (s: registryv1.Stage) =>
  s === registryv1.Stage.UNSPECIFIED ? '' : lower(registryv1.Stage[s]);
export const runStateWord = (s: registryv1.RunState) => lower(registryv1.RunState[s]);
export const methodWord = (m: registryv1.TrainingMethod) =>
  m === registryv1.TrainingMethod.UNSPECIFIED ? '—' : (registryv1.TrainingMethod[m] ?? '—');
export const datasetKindWord = (k: registryv1.DatasetKind) =>
  k === registryv1.DatasetKind.UNSPECIFIED ? '—' : lower(registryv1.DatasetKind[k]);
export const transitionStateWord = (s: registryv1.TransitionState) => lower(registryv1.TransitionState[s]);
export const jobKindWord = (k: trainerv1.JobKind) =>
  k === trainerv1.JobKind.BUILD_DATASET ? 'dataset build' : k === trainerv1.JobKind.TRAIN ? 'training' : '—';
export const jobStateWord = (s: trainerv1.JobState) => lower(trainerv1.JobState[s]);

/** Every recorded point grouped by metric key, each series ordered by step. */
export function metricSeries(history: readonly registryv1.MetricPoint[]): Map<string, SeriesPoint[]> {
  const series = new Map<string, SeriesPoint[]>();
  for (const p of history) {
    const list = series.get(p.key) ?? [];
    list.push({ step: Number(p.step), value: p.value });
    series.set(p.key, list);
  }
  for (const points of series.values()) points.sort((a, b) => a.step - b.step);
  return series;
}

/** The curves worth drawing: loss series first ("loss", then "eval_loss", "dpo/loss", ...), then the rest. */
export function chartOrder(keys: string[]): string[] {
  const rank = (k: string) => (k === 'loss' ? 0 : /loss/i.test(k) ? 1 : 2);
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** "train 90 · test 10". */
export const splitsText = (dv: registryv1.DatasetVersion) =>
  dv.splits.map((s) => `${s.name} ${Number(s.examples)}`).join(' · ') || '—';

export const totalExamples = (dv: registryv1.DatasetVersion) =>
  dv.splits.reduce((n, s) => n + Number(s.examples), 0);

export const modelLabel = (m: registryv1.ModelVersion) => `${m.name} v${m.version}`;

/** A param's value as JSON (a Struct value); "—" when the run has none. */
export function paramText(run: registryv1.Run, key: string): string {
  const v = run.params?.[key];
  return v === undefined ? '—' : JSON.stringify(v);
}

/** Scores of one role of an evaluation report, with the contract's "not measured" sentinels as "—". */
export function scoreText(
  e: registryv1.EvaluationReport | undefined,
  role: string,
  field: 'perplexity' | 'styleDistance' | 'judgeAccuracy' | 'judgeStyle',
): string {
  const s = e?.scores.find((x) => x.role === role);
  if (!s) return '—';
  const v = s[field];
  const measured = field === 'styleDistance' ? v >= 0 : v > 0;
  return measured ? metricValue(v) : '—';
}

const T = registryv1.ArtifactType;
export const artifactKindWord: Record<number, string> = {
  [T.SOURCE]: 'source',
  [T.RAW_DOCUMENT]: 'raw document',
  [T.CLEANED_DOCUMENT]: 'cleaned document',
  [T.DATASET_VERSION]: 'dataset',
  [T.RUN]: 'run',
  [T.MODEL_VERSION]: 'model',
};
