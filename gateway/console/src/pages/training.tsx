// Training page (admin keys): dataset versions, runs with their loss curves, runs compared side by side with
// their evaluations, model versions with the production review (approve / reject) and rollback, the lineage
// of a model version, and the trainer's jobs. Everything is read from the registry and the trainer through the
// gateway, as `llmtwin runs|models|lineage|datasets|train` shows it.
import './training.css';
import { useMemo, useState } from 'preact/hooks';
import { registryv1, trainerv1 } from '@llmtwin/contracts/web';
import { api } from '../api';
import type { PageProps } from '../types';
import {
  ConfirmDialog,
  ErrorNote,
  Field,
  Loading,
  OkNote,
  PageHeader,
  Section,
  TableWrap,
  formatTime,
  useLoad,
} from '../ui';
import { MetricChart } from './training/chart';
import {
  chartOrder,
  datasetKindWord,
  jobKindWord,
  jobStateWord,
  methodWord,
  metricSeries,
  metricValue,
  modelLabel,
  paramText,
  runStateWord,
  scoreText,
  splitsText,
  stageWord,
  totalExamples,
  transitionStateWord,
} from './training/format';
import { LineageTree } from './training/lineage';

const PAGE = { pageSize: 200 };
const Stage = registryv1.Stage;

export function TrainingPage({ caller }: PageProps) {
  if (!caller.admin) {
    return (
      <>
        <PageHeader title="Training" />
        <p class="error" role="alert">
          The training side is for admin keys only: sign in with an admin key.
        </p>
      </>
    );
  }
  return <Training />;
}

function Training() {
  const datasets = useLoad(
    async (signal) => (await api.registry.listDatasetVersions({ page: PAGE }, { signal })).datasetVersions,
    [],
  );
  const runs = useLoad(async (signal) => (await api.registry.listRuns({ page: PAGE }, { signal })).runs, []);
  const models = useLoad(async (signal) => {
    const { modelVersions } = await api.registry.listModelVersions({ page: PAGE }, { signal });
    const names = [...new Set(modelVersions.map((m) => m.name))];
    const histories = await Promise.all(
      names.map((name) => api.registry.listStageTransitions({ name }, { signal })),
    );
    const transitions = new Map<string, registryv1.StageTransition[]>();
    for (const t of histories.flatMap((h) => h.transitions))
      transitions.set(t.modelVersionId, [...(transitions.get(t.modelVersionId) ?? []), t]);
    return { versions: modelVersions, names, transitions };
  }, []);
  const jobs = useLoad(async (signal) => (await api.trainer.listJobs({}, { signal })).jobs, [], 15_000);

  const datasetLabels = useMemo(
    () => new Map((datasets.data ?? []).map((d) => [d.id, `${d.dataset} v${Number(d.version)}`])),
    [datasets.data],
  );
  const versionsByRun = useMemo(() => {
    const map = new Map<string, registryv1.ModelVersion[]>();
    for (const m of models.data?.versions ?? []) map.set(m.runId, [...(map.get(m.runId) ?? []), m]);
    return map;
  }, [models.data]);

  const [lineageOf, setLineageOf] = useState('');
  const showLineage = (id: string) => {
    setLineageOf(id);
    const select = document.getElementById('lineage-model');
    select?.scrollIntoView({ block: 'center' });
    select?.focus();
  };

  // Jobs poll on their own; the button speaks for what it reloads.
  const refreshing = datasets.loading || runs.loading || models.loading;
  const refresh = () => {
    void datasets.reload();
    void runs.reload();
    void models.reload();
    void jobs.reload();
  };

  return (
    <div class="training">
      <PageHeader title="Training">
        <button type="button" onClick={refresh} disabled={refreshing}>
          {refreshing ? 'Refreshing…' : 'Refresh'}
        </button>
      </PageHeader>
      <DatasetsSection load={datasets} />
      <RunsSection load={runs} datasetLabels={datasetLabels} versionsByRun={versionsByRun} />
      <ModelsSection load={models} onLineage={showLineage} />
      <LineageSection versions={models.data?.versions} chosen={lineageOf} onChoose={setLineageOf} />
      <JobsSection load={jobs} />
    </div>
  );
}

interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
}

/** The error of a list, or its loading note, or the list. */
function ListState<T>({
  load,
  what,
  empty,
  children,
}: {
  load: Loaded<T[]>;
  what: string;
  empty: string;
  children: (items: T[]) => preact.JSX.Element;
}) {
  if (load.data === undefined) {
    return load.error ? <ErrorNote error={load.error} /> : <Loading what={what} />;
  }
  return (
    <>
      <ErrorNote error={load.error} />
      {load.data.length === 0 ? <p class="muted">{empty}</p> : children(load.data)}
    </>
  );
}

// ---- dataset versions ---------------------------------------------------------------------------------

function DatasetsSection({ load }: { load: Loaded<registryv1.DatasetVersion[]> }) {
  return (
    <Section title="Dataset versions" id="datasets">
      <ListState
        load={load}
        what="dataset versions"
        empty="No dataset versions yet: build one with `llmtwin datasets build` (or BuildDataset)."
      >
        {(items) => (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Dataset</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Author</th>
                  <th scope="col">Size</th>
                  <th scope="col">Created</th>
                  <th scope="col">Lineage</th>
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <strong>
                        {d.dataset} v{Number(d.version)}
                      </strong>
                      <br />
                      <code class="id">{d.id}</code>
                      {d.tainted ? (
                        <p class="error">Tainted: {d.taintReason || 'a source document was deleted'}</p>
                      ) : null}
                    </td>
                    <td>
                      {datasetKindWord(d.kind)}
                      {d.schemaVersion ? <div class="muted">{d.schemaVersion}</div> : null}
                    </td>
                    <td class="id">{d.authorId}</td>
                    <td>
                      {totalExamples(d)} examples
                      <div class="muted">{splitsText(d)}</div>
                      {d.generator?.kind ? (
                        <div class="muted">
                          generator {d.generator.kind}
                          {d.generator.modelId ? ` (${d.generator.modelId})` : ''}
                        </div>
                      ) : null}
                    </td>
                    <td>{formatTime(d.createTime)}</td>
                    <td>
                      <details>
                        <summary>
                          {d.sources.length} source document{d.sources.length === 1 ? '' : 's'}
                        </summary>
                        <ul class="sources">
                          {d.sources.map((s) => (
                            <li key={`${s.documentId}@${s.version}`}>
                              {s.title || s.canonicalUrl || s.documentId}{' '}
                              <code class="id">
                                {s.documentId}@{Number(s.version)}
                              </code>
                              {s.canonicalUrl && s.title ? (
                                <div class="muted id">{s.canonicalUrl}</div>
                              ) : null}
                            </li>
                          ))}
                        </ul>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </ListState>
    </Section>
  );
}

// ---- runs ---------------------------------------------------------------------------------------------

function RunsSection({
  load,
  datasetLabels,
  versionsByRun,
}: {
  load: Loaded<registryv1.Run[]>;
  datasetLabels: Map<string, string>;
  versionsByRun: Map<string, registryv1.ModelVersion[]>;
}) {
  const [selected, setSelected] = useState<string[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [comparison, setComparison] = useState<registryv1.CompareRunsResponse | null>(null);
  const [compareError, setCompareError] = useState<unknown>(undefined);
  const [comparing, setComparing] = useState(false);

  const toggle = (id: string, on: boolean) =>
    setSelected((s) => (on ? [...s.filter((x) => x !== id), id] : s.filter((x) => x !== id)));
  const compare = async () => {
    setComparing(true);
    setCompareError(undefined);
    try {
      setComparison(await api.registry.compareRuns({ runIds: selected }));
    } catch (err) {
      setComparison(null);
      setCompareError(err);
    } finally {
      setComparing(false);
    }
  };

  return (
    <>
      <Section title="Runs" id="runs">
        <ListState load={load} what="runs" empty="No training runs yet: start one with `llmtwin train`.">
          {(items) => (
            <>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Compare</th>
                      <th scope="col">Run</th>
                      <th scope="col">Status</th>
                      <th scope="col">Method</th>
                      <th scope="col">Base model</th>
                      <th scope="col">Dataset</th>
                      <th scope="col">Metrics</th>
                      <th scope="col">Loss curve</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((r) => (
                      <tr key={r.id}>
                        <td>
                          <input
                            type="checkbox"
                            aria-label={`Compare ${r.id}`}
                            checked={selected.includes(r.id)}
                            onChange={(e) => toggle(r.id, (e.target as HTMLInputElement).checked)}
                          />
                        </td>
                        <td>
                          <code class="id">{r.id}</code>
                          <div class="muted">{r.experiment}</div>
                          <div class="muted">{formatTime(r.createTime)}</div>
                        </td>
                        <td>
                          <RunStateBadge state={r.state} />
                          {r.error ? <p class="error">{r.error}</p> : null}
                        </td>
                        <td>{methodWord(r.method)}</td>
                        <td class="id">{r.baseModel || '—'}</td>
                        <td>
                          {datasetLabels.get(r.datasetVersionId) ?? ''}
                          <div>
                            <code class="id">{r.datasetVersionId}</code>
                          </div>
                        </td>
                        <td>
                          <MetricList metrics={r.metrics} />
                        </td>
                        <td>
                          <button
                            type="button"
                            aria-expanded={open === r.id}
                            aria-controls="run-details"
                            onClick={() => setOpen(open === r.id ? null : r.id)}
                          >
                            {open === r.id ? 'Hide' : 'Show'}
                            <span class="visually-hidden"> loss curve of {r.id}</span>
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div class="row compare-row">
                <button
                  type="button"
                  class="primary"
                  disabled={selected.length < 2 || comparing}
                  aria-describedby={compareError ? 'compare-hint compare-error' : 'compare-hint'}
                  onClick={() => void compare()}
                >
                  {comparing ? 'Comparing…' : `Compare selected runs (${selected.length})`}
                </button>
                <span class="muted" id="compare-hint">
                  Select two or more runs to see their parameters, metrics and evaluations side by side.
                </span>
              </div>
              <ErrorNote error={compareError} id="compare-error" />
            </>
          )}
        </ListState>
        {open ? <RunDetails id={open} /> : null}
      </Section>
      {comparison ? <Comparison res={comparison} versionsByRun={versionsByRun} /> : null}
    </>
  );
}

function RunStateBadge({ state }: { state: registryv1.RunState }) {
  const tone =
    state === registryv1.RunState.SUCCEEDED
      ? 'ok'
      : state === registryv1.RunState.FAILED
        ? 'error'
        : state === registryv1.RunState.CANCELLED
          ? 'muted'
          : 'warn';
  return <span class={`badge ${tone}`}>{runStateWord(state)}</span>;
}

function MetricList({ metrics }: { metrics: Record<string, number> }) {
  const entries = Object.entries(metrics).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="metrics">
      {entries.map(([k, v]) => (
        <li key={k}>
          <span class="id">{k}</span> {metricValue(v)}
        </li>
      ))}
    </ul>
  );
}

function RunDetails({ id }: { id: string }) {
  const run = useLoad((signal) => api.registry.getRun({ id }, { signal }), [id]);
  const series = useMemo(() => (run.data ? metricSeries(run.data.history) : null), [run.data]);
  // A curve needs two points; a metric recorded once (e.g. the final eval_loss) reads as a number.
  const keys = series ? chartOrder([...series.keys()]) : [];
  const curves = keys.filter((k) => series!.get(k)!.length > 1);
  const single = keys.filter((k) => series!.get(k)!.length === 1);
  return (
    <div class="run-details" id="run-details">
      <h3>
        Run <code class="id">{id}</code>
      </h3>
      {!run.data ? (
        run.error ? (
          <ErrorNote error={run.error} />
        ) : (
          <Loading what="the run's metric history" />
        )
      ) : (
        <>
          <RunFacts run={run.data.run!} />
          {series && series.size > 0 ? (
            <>
              <div class="charts">
                {curves.slice(0, 6).map((k, i) => (
                  <MetricChart key={k} id={`chart-${id}-${i}`} metric={k} points={series.get(k)!} />
                ))}
              </div>
              {single.length > 0 ? (
                <p class="muted">
                  Recorded once:{' '}
                  {single
                    .map(
                      (k) =>
                        `${k} ${metricValue(series.get(k)![0]!.value)} at step ${series.get(k)![0]!.step}`,
                    )
                    .join(', ')}
                </p>
              ) : null}
            </>
          ) : (
            <p class="muted">No metric points recorded for this run.</p>
          )}
        </>
      )}
    </div>
  );
}

function RunFacts({ run }: { run: registryv1.Run }) {
  const params = run.params ? Object.entries(run.params) : [];
  const hw = run.hardware;
  return (
    <dl class="facts">
      <dt>Started</dt>
      <dd>{formatTime(run.startTime)}</dd>
      <dt>Ended</dt>
      <dd>{formatTime(run.endTime)}</dd>
      {hw ? (
        <>
          <dt>Hardware</dt>
          <dd>
            {[hw.accelerator, hw.deviceName, hw.deviceCount ? `×${hw.deviceCount}` : '']
              .filter(Boolean)
              .join(' ') || '—'}
          </dd>
        </>
      ) : null}
      <dt>Parameters</dt>
      <dd class="id">
        {params.length ? params.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ') : '—'}
      </dd>
      {run.artifacts.length ? (
        <>
          <dt>Artifacts</dt>
          <dd class="id">{run.artifacts.map((a) => a.name || a.uri).join(', ')}</dd>
        </>
      ) : null}
    </dl>
  );
}

function Comparison({
  res,
  versionsByRun,
}: {
  res: registryv1.CompareRunsResponse;
  versionsByRun: Map<string, registryv1.ModelVersion[]>;
}) {
  // The evaluation of each run is that of the newest model version registered from it.
  const models = res.runs.map((r) => versionsByRun.get(r.id)?.[0]);
  const evalKeys = [...new Set(models.flatMap((m) => Object.keys(m?.evalMetrics ?? {})))].sort();
  const rows: [string, (r: registryv1.Run, i: number) => string][] = [
    ['Experiment', (r) => r.experiment],
    ['Status', (r) => runStateWord(r.state)],
    ['Method', (r) => methodWord(r.method)],
    ['Base model', (r) => r.baseModel || '—'],
    ['Dataset', (r) => r.datasetVersionId],
    ...res.differingParams.map((k): [string, (r: registryv1.Run) => string] => [
      `param ${k}`,
      (r) => paramText(r, k),
    ]),
    ...res.metricKeys.map((k): [string, (r: registryv1.Run) => string] => [
      k,
      (r) => (k in r.metrics ? metricValue(r.metrics[k]!) : '—'),
    ]),
    ['Model version', (_r, i) => (models[i] ? `${modelLabel(models[i])} (${models[i].id})` : '—')],
    ...evalKeys.map((k): [string, (r: registryv1.Run, i: number) => string] => [
      `eval ${k}`,
      (_r, i) => {
        const v = models[i]?.evalMetrics[k];
        return v === undefined ? '—' : metricValue(v);
      },
    ]),
    ['Perplexity (candidate)', (_r, i) => scoreText(models[i]?.evaluation, 'candidate', 'perplexity')],
    ['Perplexity (base)', (_r, i) => scoreText(models[i]?.evaluation, 'base', 'perplexity')],
    ['Style distance (candidate)', (_r, i) => scoreText(models[i]?.evaluation, 'candidate', 'styleDistance')],
    ['Judge accuracy (candidate)', (_r, i) => scoreText(models[i]?.evaluation, 'candidate', 'judgeAccuracy')],
    [
      'Evaluation gates',
      (_r, i) => {
        const e = models[i]?.evaluation;
        if (!e) return '—';
        const gates = e.gates.map((g) => `${g.name} ${g.passed ? 'passed' : 'failed'}`).join(', ');
        return `${e.passed ? 'passed' : 'failed'}${gates ? `: ${gates}` : ''}`;
      },
    ],
  ];
  return (
    <Section title="Runs compared" id="comparison">
      <p class="muted">
        Parameters that differ, every metric's latest value, and the evaluation of the model version
        registered from each run.
      </p>
      {/* Text only: the scrolled wrapper takes focus itself, so the keyboard can scroll it. */}
      <TableWrap role="group" label="Runs compared, one column per run">
        <table class="comparison">
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">What</span>
              </th>
              {res.runs.map((r) => (
                <th scope="col" key={r.id}>
                  <code class="id">{r.id}</code>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(([label, cell]) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                {res.runs.map((r, i) => (
                  <td key={r.id} class="id">
                    {cell(r, i)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </Section>
  );
}

// ---- model versions -----------------------------------------------------------------------------------

interface ModelsData {
  versions: registryv1.ModelVersion[];
  names: string[];
  transitions: Map<string, registryv1.StageTransition[]>;
}

interface Pending {
  key: string;
  title: string;
  body: string;
  confirmLabel: string;
  run: () => Promise<string>;
}

function ModelsSection({ load, onLineage }: { load: Loaded<ModelsData>; onLineage: (id: string) => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [confirm, setConfirm] = useState<Pending | null>(null);

  const act = async (key: string, run: () => Promise<string>) => {
    setBusy(key);
    setErrors((e) => ({ ...e, [key]: undefined }));
    setNotes((n) => ({ ...n, [key]: '' }));
    try {
      const note = await run();
      // The note comes with the new state, not before it.
      await load.reload();
      setNotes((n) => ({ ...n, [key]: note }));
    } catch (err) {
      setErrors((e) => ({ ...e, [key]: err }));
    } finally {
      setBusy(null);
    }
  };

  const data = load.data;
  const production = (name: string) =>
    data?.versions.find((m) => m.name === name && m.stage === Stage.PRODUCTION);

  const review = (m: registryv1.ModelVersion, approve: boolean) => async () => {
    const res = await api.registry.reviewStageTransition({ modelVersionId: m.id, approve });
    const after = res.modelVersion!;
    return approve
      ? `Approved: ${modelLabel(after)} is now ${stageWord(after.stage)}.`
      : `Rejected: ${modelLabel(after)} stays ${stageWord(after.stage) || 'where it was'}.`;
  };
  const rollback = (name: string) => async () => {
    const res = await api.registry.rollbackProduction({ name });
    const now = res.modelVersion!;
    return `Rolled back: ${modelLabel(now)} is in production${res.previous ? `, ${modelLabel(res.previous)} archived` : ''}.`;
  };

  return (
    <Section title="Model versions" id="models">
      {data === undefined ? (
        load.error ? (
          <ErrorNote error={load.error} />
        ) : (
          <Loading what="model versions" />
        )
      ) : (
        <>
          <ErrorNote error={load.error} />
          {data.versions.length === 0 ? (
            <p class="muted">No model versions yet: a training run registers one after its evaluation.</p>
          ) : (
            <>
              <h3>Production</h3>
              <ul class="production">
                {data.names.map((name) => {
                  const key = `rollback-${name}`;
                  const current = production(name);
                  return (
                    <li key={name}>
                      <span>
                        <strong class="id">{name}</strong>:{' '}
                        {current ? `${modelLabel(current)} in production` : 'no version in production'}
                      </span>
                      <button
                        type="button"
                        class="danger"
                        disabled={busy !== null}
                        aria-describedby={errors[key] ? `${key}-error` : undefined}
                        onClick={() =>
                          setConfirm({
                            key,
                            title: `Roll back ${name}?`,
                            body: `${current ? `${modelLabel(current)} leaves production (archived) and` : 'The'} the previous approved, untainted version of ${name} goes back into production; the router serves it at once.`,
                            confirmLabel: 'Roll back',
                            run: rollback(name),
                          })
                        }
                      >
                        {busy === key ? 'Rolling back…' : 'Roll back'}
                        <span class="visually-hidden"> production of {name}</span>
                      </button>
                      <ErrorNote error={errors[key]} id={`${key}-error`} />
                      <OkNote message={notes[key]} />
                    </li>
                  );
                })}
              </ul>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Stage</th>
                      <th scope="col">Aliases</th>
                      <th scope="col">Run</th>
                      <th scope="col">Evaluation</th>
                      <th scope="col">Review</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.versions.map((m) => {
                      const key = `review-${m.id}`;
                      const history = data.transitions.get(m.id) ?? [];
                      const pending = history.find((t) => t.state === registryv1.TransitionState.PENDING);
                      return (
                        <tr key={m.id}>
                          <td>
                            <strong>{modelLabel(m)}</strong>
                            <br />
                            <code class="id">{m.id}</code>
                            {m.tainted ? <p class="error">Tainted: {m.taintReason}</p> : null}
                            <div>
                              <button type="button" class="lineage-button" onClick={() => onLineage(m.id)}>
                                Lineage<span class="visually-hidden"> of {modelLabel(m)}</span>
                              </button>
                            </div>
                          </td>
                          <td>
                            <StageBadge stage={m.stage} />
                            {m.pendingStage !== Stage.UNSPECIFIED ? (
                              <div>
                                <span class="badge warn">{stageWord(m.pendingStage)} pending review</span>
                              </div>
                            ) : null}
                            {m.rejectionReason ? <p class="error">{m.rejectionReason}</p> : null}
                            <History transitions={history} />
                          </td>
                          <td class="id">
                            {m.aliases.length ? m.aliases.map((a) => `@${a}`).join(' ') : '—'}
                          </td>
                          <td>
                            <code class="id">{m.runId}</code>
                            <div class="muted id">{m.baseModel}</div>
                          </td>
                          <td>
                            <MetricList metrics={m.evalMetrics} />
                            {m.evaluation ? (
                              <div class={m.evaluation.passed ? 'ok' : 'error'}>
                                evaluation {m.evaluation.passed ? 'passed' : 'failed'}
                              </div>
                            ) : null}
                          </td>
                          <td>
                            {m.pendingStage !== Stage.UNSPECIFIED ? (
                              <>
                                {pending ? (
                                  <p class="muted">
                                    {stageWord(pending.toStage)} requested by{' '}
                                    {pending.requestedBy || 'someone'} {formatTime(pending.requestTime)}
                                    {pending.requestComment ? `: “${pending.requestComment}”` : ''}
                                  </p>
                                ) : null}
                                <div class="actions">
                                  <button
                                    type="button"
                                    class="primary"
                                    disabled={busy !== null}
                                    aria-describedby={errors[key] ? `${key}-error` : undefined}
                                    onClick={() =>
                                      setConfirm({
                                        key,
                                        title: `Approve ${modelLabel(m)} into ${stageWord(m.pendingStage)}?`,
                                        body: `${modelLabel(m)} goes into ${stageWord(m.pendingStage)}${
                                          m.pendingStage === Stage.PRODUCTION && production(m.name)
                                            ? `, replacing ${modelLabel(production(m.name)!)} (archived)`
                                            : ''
                                        }; the router serves it at once.`,
                                        confirmLabel: 'Approve',
                                        run: review(m, true),
                                      })
                                    }
                                  >
                                    {busy === key ? 'Working…' : 'Approve'}
                                    <span class="visually-hidden"> {modelLabel(m)}</span>
                                  </button>
                                  <button
                                    type="button"
                                    class="danger"
                                    disabled={busy !== null}
                                    aria-describedby={errors[key] ? `${key}-error` : undefined}
                                    onClick={() => void act(key, review(m, false))}
                                  >
                                    Reject<span class="visually-hidden"> {modelLabel(m)}</span>
                                  </button>
                                </div>
                              </>
                            ) : (
                              <span class="muted">Nothing waiting for review</span>
                            )}
                            <ErrorNote error={errors[key]} id={`${key}-error`} />
                            <OkNote message={notes[key]} />
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </>
      )}
      <ConfirmDialog
        open={confirm !== null}
        title={confirm?.title ?? ''}
        confirmLabel={confirm?.confirmLabel ?? 'Confirm'}
        onCancel={() => setConfirm(null)}
        onConfirm={() => {
          const c = confirm;
          setConfirm(null);
          if (c) void act(c.key, c.run);
        }}
      >
        <p>{confirm?.body}</p>
      </ConfirmDialog>
    </Section>
  );
}

function StageBadge({ stage }: { stage: registryv1.Stage }) {
  const word = stageWord(stage) || 'none';
  const tone =
    stage === Stage.PRODUCTION
      ? 'ok'
      : stage === Stage.REJECTED
        ? 'error'
        : stage === Stage.CANDIDATE
          ? 'warn'
          : '';
  return <span class={`badge ${tone}`}>{word}</span>;
}

function History({ transitions }: { transitions: registryv1.StageTransition[] }) {
  if (transitions.length === 0) return null;
  return (
    <details class="history">
      <summary>Stage history ({transitions.length})</summary>
      <ol>
        {transitions.map((t) => (
          <li key={t.id}>
            {formatTime(t.requestTime)}: {stageWord(t.fromStage) || 'none'} → {stageWord(t.toStage)},{' '}
            {transitionStateWord(t.state)} ({t.cause}){t.requestedBy ? `, asked by ${t.requestedBy}` : ''}
            {t.reviewer ? `, reviewed by ${t.reviewer}` : ''}
            {t.reviewComment ? `: “${t.reviewComment}”` : ''}
          </li>
        ))}
      </ol>
    </details>
  );
}

// ---- lineage ------------------------------------------------------------------------------------------

function LineageSection({
  versions,
  chosen,
  onChoose,
}: {
  versions: registryv1.ModelVersion[] | undefined;
  chosen: string;
  onChoose: (id: string) => void;
}) {
  const id = chosen || versions?.[0]?.id || '';
  const lineage = useLoad(
    async (signal) =>
      id
        ? api.registry.getLineage(
            {
              type: registryv1.ArtifactType.MODEL_VERSION,
              id,
              direction: registryv1.LineageDirection.UPSTREAM,
            },
            { signal },
          )
        : null,
    [id],
  );
  const version = versions?.find((m) => m.id === id);
  return (
    <Section title="Lineage" id="lineage">
      {!versions || versions.length === 0 ? (
        <p class="muted">The lineage of a model version shows here once one is registered.</p>
      ) : (
        <>
          <Field
            label="Model version"
            id="lineage-model"
            hint="What it was made from: run, dataset version, documents and their sources."
            error={lineage.error}
          >
            {(p) => (
              <select {...p} value={id} onChange={(e) => onChoose((e.target as HTMLSelectElement).value)}>
                {versions.map((m) => (
                  <option value={m.id} key={m.id}>
                    {modelLabel(m)} ({m.id})
                  </option>
                ))}
              </select>
            )}
          </Field>
          {lineage.data ? (
            <LineageTree lineage={lineage.data} label={`Lineage of ${version ? modelLabel(version) : id}`} />
          ) : lineage.loading ? (
            <Loading what="the lineage" />
          ) : null}
        </>
      )}
    </Section>
  );
}

// ---- trainer jobs -------------------------------------------------------------------------------------

function JobsSection({ load }: { load: Loaded<trainerv1.Job[]> }) {
  return (
    <Section title="Trainer jobs" id="jobs">
      <ListState load={load} what="trainer jobs" empty="No dataset builds or training jobs yet.">
        {(items) => (
          <TableWrap role="group" label="Trainer jobs table">
            <table>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Kind</th>
                  <th scope="col">State</th>
                  <th scope="col">Author</th>
                  <th scope="col">Progress</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {items.map((j) => {
                  const total = Number(j.total);
                  const loss = j.metrics['loss'];
                  return (
                    <tr key={j.id}>
                      <td>
                        <code class="id">{j.id}</code>
                        <div class="muted">{formatTime(j.createTime)}</div>
                      </td>
                      <td>
                        {jobKindWord(j.kind)}
                        {j.trigger ? <div class="muted">{j.trigger}</div> : null}
                      </td>
                      <td>{jobStateWord(j.state)}</td>
                      <td class="id">{j.authorId}</td>
                      <td>
                        {[
                          j.phase,
                          total > 0 ? `${Number(j.done)}/${total}` : '',
                          loss !== undefined ? `loss ${metricValue(loss)}` : '',
                        ]
                          .filter(Boolean)
                          .join(' · ') || '—'}
                        {j.message ? (
                          <div class={j.state === trainerv1.JobState.FAILED ? 'error' : 'muted'}>
                            {j.message}
                          </div>
                        ) : null}
                      </td>
                      <td class="id">
                        {[j.datasetVersionId, j.runId, j.modelVersionId].filter(Boolean).join(' → ') || '—'}
                        {j.reused ? <div class="muted">same content: reused</div> : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        )}
      </ListState>
    </Section>
  );
}
