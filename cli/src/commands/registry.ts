// Registry commands through the gateway: runs (list, show, compare), model versions (list, show, stage
// requests and reviews, rollback, aliases) and lineage printed as a tree.
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { InvalidArgumentError, type Command } from 'commander';
import { registryv1 } from '@llmtwin/contracts';
import { userInfo } from 'node:os';
import { gatewayClient } from '../client.js';
import { bad, bold, dim, messageJson, ok, printJson } from '../output.js';
import { remote, type RemoteOptions } from './ingest.js';
import {
  metricSeries,
  modelVersionJson,
  renderEvaluation,
  sparkline,
  stageSummary,
} from './training-format.js';

const client = (o: RemoteOptions) => gatewayClient(registryv1.RegistryService, o.url, o.apiKey);

/** Who asks or reviews, recorded on the transition: --as, else LLMTWIN_USER, else the login name. */
export function actor(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env['LLMTWIN_USER']) return process.env['LLMTWIN_USER'];
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

const when = (t: Parameters<typeof timestampDate>[0] | undefined) =>
  t ? timestampDate(t).toISOString().replace('T', ' ').slice(0, 19) : '-';
const stage = (s: registryv1.Stage) => (s ? registryv1.Stage[s]!.toLowerCase() : '-');
const runState = (s: registryv1.RunState) => registryv1.RunState[s]!.toLowerCase();
const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
const tainted = (yes: boolean, reason: string) => (yes ? bad(`tainted: ${reason}`) : '');

export const stageNames: Record<string, registryv1.Stage> = {
  none: registryv1.Stage.NONE,
  candidate: registryv1.Stage.CANDIDATE,
  production: registryv1.Stage.PRODUCTION,
  archived: registryv1.Stage.ARCHIVED,
};
/** What `models list --stage` filters on: the stages above, and rejected (set only by a failed gate). */
const listStageNames: Record<string, registryv1.Stage> = {
  ...stageNames,
  rejected: registryv1.Stage.REJECTED,
};

// ---- runs -------------------------------------------------------------------------------------------

export const runsList = (o: RemoteOptions & { experiment?: string; dataset?: string; author?: string }) =>
  remote(o, async () => {
    const res = await client(o).listRuns({
      experiment: o.experiment ?? '',
      datasetVersionId: o.dataset ?? '',
      authorId: o.author ?? '',
      page: { pageSize: 100 },
    });
    if (o.json) {
      printJson(messageJson(registryv1.ListRunsResponseSchema, res));
      return 0;
    }
    if (res.runs.length === 0) console.log(dim('no runs yet'));
    for (const r of res.runs) {
      const metrics = Object.entries(r.metrics)
        .slice(0, 3)
        .map(([k, v]) => `${k}=${num(v)}`)
        .join(' ');
      console.log(
        `${r.id}  ${runState(r.state).padEnd(9)} ${r.experiment.padEnd(20)} ${registryv1.TrainingMethod[r.method]}  ${dim(r.datasetVersionId)}  ${metrics}`,
      );
    }
    return 0;
  });

/** The model versions registered from a run (normally one), found through the run's author. */
async function versionsOfRun(c: ReturnType<typeof client>, run: registryv1.Run) {
  const found: registryv1.ModelVersion[] = [];
  let pageToken = '';
  do {
    const res = await c.listModelVersions({ authorId: run.authorId, page: { pageSize: 500, pageToken } });
    found.push(...res.modelVersions.filter((m) => m.runId === run.id));
    pageToken = res.page?.nextPageToken ?? '';
  } while (pageToken);
  return found;
}

export const runsShow = (o: RemoteOptions & { id: string }) =>
  remote(o, async () => {
    const c = client(o);
    const res = await c.getRun({ id: o.id });
    const r = res.run!;
    const versions = await versionsOfRun(c, r);
    const series = metricSeries(res.history);
    if (o.json) {
      // The registry's run and every point, the points again as one series per metric, and the model
      // versions registered from the run with their stage and evaluation.
      printJson({
        ...(messageJson(registryv1.GetRunResponseSchema, res) as Record<string, unknown>),
        series,
        modelVersions: versions.map(modelVersionJson),
      });
      return 0;
    }
    console.log(`${bold(r.id)}  ${runState(r.state)}  ${r.experiment}`);
    console.log(`  method      ${registryv1.TrainingMethod[r.method]} on ${r.baseModel}`);
    console.log(`  dataset     ${r.datasetVersionId}  (author ${r.authorId})`);
    console.log(
      `  created     ${when(r.createTime)}  started ${when(r.startTime)}  ended ${when(r.endTime)}`,
    );
    if (r.hardware)
      console.log(
        `  hardware    ${[
          r.hardware.accelerator,
          r.hardware.deviceName,
          r.hardware.deviceCount ? `×${r.hardware.deviceCount}` : '',
          r.hardware.cpuCount ? `(${r.hardware.cpuCount} CPUs)` : '',
        ]
          .filter(Boolean)
          .join(' ')}`,
      );
    if (r.error) console.log(`  error       ${bad(r.error)}`);
    console.log(`  params      ${JSON.stringify(r.params ?? {})}`);
    for (const [k, v] of Object.entries(r.metrics)) console.log(`  ${k.padEnd(24)} ${num(v)}`);
    if (series['loss']) console.log(`  loss curve  ${sparkline(series['loss'])}`);
    for (const a of r.artifacts) console.log(`  artifact    ${a.name}  ${dim(a.uri)}`);
    console.log(dim(`  ${res.history.length} metric points recorded (--json lists them)`));
    for (const m of versions) {
      console.log(stageSummary(m));
      console.log(renderEvaluation(m.evaluation));
    }
    return 0;
  });

export const runsCompare = (o: RemoteOptions & { ids: string[] }) =>
  remote(o, async () => {
    const res = await client(o).compareRuns({ runIds: o.ids });
    if (o.json) {
      printJson(messageJson(registryv1.CompareRunsResponseSchema, res));
      return 0;
    }
    console.log(renderComparison(res));
    return 0;
  });

/** Params that differ, then every metric: one row each, one column per run. */
export function renderComparison(res: registryv1.CompareRunsResponse): string {
  const rows: string[][] = [['', ...res.runs.map((r) => r.id)]];
  for (const key of res.differingParams)
    rows.push([key, ...res.runs.map((r) => JSON.stringify((r.params ?? {})[key] ?? null))]);
  for (const key of res.metricKeys)
    rows.push([key, ...res.runs.map((r) => (key in r.metrics ? num(r.metrics[key]!) : '-'))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

// ---- models -----------------------------------------------------------------------------------------

function modelLine(m: registryv1.ModelVersion): string {
  const pending = m.pendingStage ? dim(` (${stage(m.pendingStage)} pending review)`) : '';
  const aliases = m.aliases.length ? ` @${m.aliases.join(' @')}` : '';
  const rejected = m.rejectionReason ? bad(m.rejectionReason) + '  ' : '';
  return `${bold(`${m.name} v${m.version}`)}  ${m.id}  ${stage(m.stage)}${pending}${aliases}  ${rejected}${tainted(m.tainted, m.taintReason)}`.trimEnd();
}

export const modelsList = (o: RemoteOptions & { name?: string; stage?: string; author?: string }) =>
  remote(o, async () => {
    const res = await client(o).listModelVersions({
      name: o.name ?? '',
      stage: o.stage ? listStageNames[o.stage]! : registryv1.Stage.UNSPECIFIED,
      authorId: o.author ?? '',
      page: { pageSize: 100 },
    });
    if (o.json) {
      printJson(messageJson(registryv1.ListModelVersionsResponseSchema, res));
      return 0;
    }
    if (res.modelVersions.length === 0) console.log(dim('no model versions yet'));
    for (const m of res.modelVersions) console.log(modelLine(m));
    return 0;
  });

export const modelsShow = (o: RemoteOptions & { id: string }) =>
  remote(o, async () => {
    const c = client(o);
    const { modelVersion: m } = await c.getModelVersion({ id: o.id });
    const { transitions } = await c.listStageTransitions({ modelVersionId: m!.id });
    if (o.json) {
      printJson({
        modelVersion: messageJson(registryv1.ModelVersionSchema, m!),
        transitions: transitions.map((t) => messageJson(registryv1.StageTransitionSchema, t)),
      });
      return 0;
    }
    console.log(modelLine(m!));
    console.log(`  run         ${m!.runId}  dataset ${m!.datasetVersionId}  author ${m!.authorId}`);
    console.log(
      `  base model  ${m!.baseModel}  serving id ${m!.servingModelId || m!.name}  ${registryv1.WeightsKind[m!.weightsKind]}`,
    );
    for (const [k, v] of Object.entries(m!.evalMetrics)) console.log(`  ${k.padEnd(24)} ${num(v)}`);
    for (const a of m!.artifacts) console.log(`  artifact    ${a.name}  ${dim(a.uri)}`);
    if (m!.evaluation) console.log(renderEvaluation(m!.evaluation));
    if (transitions.length) console.log('  transitions');
    for (const t of transitions) {
      const who = t.reviewer ? `${t.requestedBy || '?'} → ${t.reviewer}` : t.requestedBy || '?';
      console.log(
        `    ${when(t.requestTime)}  ${stage(t.fromStage)} → ${stage(t.toStage)}  ${registryv1.TransitionState[t.state]!.toLowerCase()}  ${t.cause}  ${dim(who)}`,
      );
    }
    return 0;
  });

export const modelsRequest = (
  o: RemoteOptions & { id: string; stage: string; comment?: string; as?: string },
) =>
  remote(o, async () => {
    const res = await client(o).requestStageTransition({
      modelVersionId: o.id,
      stage: stageNames[o.stage]!,
      comment: o.comment ?? '',
      requestedBy: actor(o.as),
    });
    if (o.json) printJson(messageJson(registryv1.RequestStageTransitionResponseSchema, res));
    else if (res.transition?.state === registryv1.TransitionState.PENDING)
      console.log(
        ok(
          `${o.stage} requested for ${modelLine(res.modelVersion!)}: waiting for a review (llmtwin models approve ${res.modelVersion!.id})`,
        ),
      );
    else console.log(ok(`now ${modelLine(res.modelVersion!)}`));
    return 0;
  });

export const modelsReview = (
  o: RemoteOptions & { id: string; approve: boolean; comment?: string; as?: string },
) =>
  remote(o, async () => {
    const res = await client(o).reviewStageTransition({
      modelVersionId: o.id,
      approve: o.approve,
      reviewer: actor(o.as),
      comment: o.comment ?? '',
    });
    if (o.json) printJson(messageJson(registryv1.ReviewStageTransitionResponseSchema, res));
    else console.log(ok(`${o.approve ? 'approved' : 'rejected'}: ${modelLine(res.modelVersion!)}`));
    return 0;
  });

export const modelsRollback = (o: RemoteOptions & { name: string; comment?: string; as?: string }) =>
  remote(o, async () => {
    const res = await client(o).rollbackProduction({
      name: o.name,
      reviewer: actor(o.as),
      comment: o.comment ?? '',
    });
    if (o.json) printJson(messageJson(registryv1.RollbackProductionResponseSchema, res));
    else {
      console.log(ok(`in production: ${modelLine(res.modelVersion!)}`));
      if (res.previous)
        console.log(dim(`  taken out: ${res.previous.name} v${res.previous.version} (${res.previous.id})`));
    }
    return 0;
  });

export const modelsAlias = (o: RemoteOptions & { id: string; alias: string }) =>
  remote(o, async () => {
    const res = await client(o).setModelAlias({ modelVersionId: o.id, alias: o.alias });
    if (o.json) printJson(messageJson(registryv1.SetModelAliasResponseSchema, res));
    else console.log(ok(`${res.modelVersion!.name}@${o.alias} → ${modelLine(res.modelVersion!)}`));
    return 0;
  });

// ---- lineage ----------------------------------------------------------------------------------------

const T = registryv1.ArtifactType;
export const lineageTypes: Record<string, registryv1.ArtifactType> = {
  model: T.MODEL_VERSION,
  run: T.RUN,
  dataset: T.DATASET_VERSION,
  document: T.RAW_DOCUMENT,
  raw: T.RAW_DOCUMENT,
  cleaned: T.CLEANED_DOCUMENT,
  source: T.SOURCE,
};
const directions: Record<string, registryv1.LineageDirection> = {
  up: registryv1.LineageDirection.UPSTREAM,
  down: registryv1.LineageDirection.DOWNSTREAM,
  both: registryv1.LineageDirection.BOTH,
};

/** The artifact type an id names by its prefix ("<name>@<alias>" is a model version). */
export function inferLineageType(id: string): registryv1.ArtifactType | undefined {
  if (id.startsWith('mv_')) return T.MODEL_VERSION;
  if (id.startsWith('run_')) return T.RUN;
  if (id.startsWith('dsv_')) return T.DATASET_VERSION;
  if (id.startsWith('src_')) return T.SOURCE;
  if (id.startsWith('doc_')) return T.RAW_DOCUMENT;
  if (id.includes('@')) return T.MODEL_VERSION;
  return undefined;
}

const kindLabel: Record<number, string> = {
  [T.SOURCE]: 'source',
  [T.RAW_DOCUMENT]: 'raw',
  [T.CLEANED_DOCUMENT]: 'cleaned',
  [T.DATASET_VERSION]: 'dataset',
  [T.RUN]: 'run',
  [T.MODEL_VERSION]: 'model',
};

function nodeLine(n: registryv1.LineageNode): string {
  const hash = n.contentHash ? dim(`  sha256:${n.contentHash.slice(0, 12)}…`) : '';
  const taint = n.tainted ? '  ' + bad(`TAINTED: ${n.taintReason}`) : '';
  return `${n.label}  ${dim(`[${kindLabel[n.type] ?? '?'} ${n.id}]`)}${hash}${taint}`;
}

/**
 * The graph as indented trees from the root: upstream (what it was made from) and downstream (what was made
 * from it). A node reached twice on one path is not expanded again.
 */
export function renderLineage(
  res: registryv1.GetLineageResponse,
  direction: registryv1.LineageDirection,
): string {
  const key = (n: registryv1.LineageNode) => `${n.type}:${n.id}`;
  const parents = new Map<string, registryv1.LineageNode[]>();
  const children = new Map<string, registryv1.LineageNode[]>();
  for (const e of res.edges) {
    if (!e.from || !e.to) continue;
    children.set(key(e.from), [...(children.get(key(e.from)) ?? []), e.to]);
    parents.set(key(e.to), [...(parents.get(key(e.to)) ?? []), e.from]);
  }
  const lines: string[] = [];
  const walk = (
    next: Map<string, registryv1.LineageNode[]>,
    n: registryv1.LineageNode,
    prefix: string,
    path: Set<string>,
  ) => {
    const kids = (next.get(key(n)) ?? []).filter((k) => !path.has(key(k)));
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${nodeLine(k)}`);
      walk(next, k, prefix + (last ? '   ' : '│  '), new Set([...path, key(k)]));
    });
  };
  const root = res.root!;
  lines.push(nodeLine(root));
  const up = direction !== registryv1.LineageDirection.DOWNSTREAM && parents.has(key(root));
  const down = direction !== registryv1.LineageDirection.UPSTREAM && children.has(key(root));
  if (up) {
    if (down) lines.push(dim('made from:'));
    walk(parents, root, '', new Set([key(root)]));
  }
  if (down) {
    if (up) lines.push(dim('made into:'));
    walk(children, root, '', new Set([key(root)]));
  }
  if (!up && !down) lines.push(dim('  (nothing linked in this direction)'));
  return lines.join('\n');
}

export const lineage = (o: RemoteOptions & { id: string; type?: string; direction: string }) =>
  remote(o, async () => {
    const type = o.type ? lineageTypes[o.type] : inferLineageType(o.id);
    const direction = directions[o.direction];
    if (type === undefined || direction === undefined) {
      const message =
        type === undefined
          ? `cannot tell what ${o.id} is: pass --type ${Object.keys(lineageTypes).join('|')}`
          : `--direction is up, down or both`;
      if (o.json) printJson({ error: message });
      else console.error(bad(message));
      return 2;
    }
    const res = await client(o).getLineage({ type, id: o.id, direction });
    if (o.json) printJson(messageJson(registryv1.GetLineageResponseSchema, res));
    else console.log(renderLineage(res, direction));
    return 0;
  });

// ---- command wiring ---------------------------------------------------------------------------------

type Remote = { url: string; json: boolean; apiKey?: string; dataDir: string };
type WithKey = <T extends Remote>(o: T) => Omit<T, 'dataDir' | 'apiKey'> & { apiKey?: string };

function choice(name: string, allowed: readonly string[]) {
  return (value: string) => {
    if (!allowed.includes(value)) throw new InvalidArgumentError(`${name} is one of ${allowed.join(', ')}`);
    return value;
  };
}

/** `llmtwin runs …`, `llmtwin models …` and `llmtwin lineage …`, with the CLI's remote options. */
export function addRegistryCommands(
  program: Command,
  remoteOptions: (c: Command) => Command,
  withKey: WithKey,
): void {
  const as = (c: Command) =>
    c.option('--as <name>', 'who asks or reviews, as recorded (default: LLMTWIN_USER, else your login)');

  const runs = program.command('runs').description('training runs: parameters, metrics, artifacts');
  remoteOptions(
    runs
      .command('list')
      .description('list runs, newest first')
      .option('--experiment <name>', 'only this experiment')
      .option('--dataset <id>', 'only runs on this dataset version')
      .option('--author <id>', "only runs on this author's writing"),
  ).action(async (opts: Remote & { experiment?: string; dataset?: string; author?: string }) => {
    process.exitCode = await runsList(withKey(opts));
  });
  remoteOptions(
    runs.command('show <id>').description('a run: state, params, latest metrics, artifacts'),
  ).action(async (id: string, opts: Remote) => {
    process.exitCode = await runsShow({ ...withKey(opts), id });
  });
  remoteOptions(
    runs
      .command('compare <ids...>')
      .description('runs side by side: the params that differ and every metric'),
  ).action(async (ids: string[], opts: Remote) => {
    process.exitCode = await runsCompare({ ...withKey(opts), ids });
  });

  const models = program.command('models').description('model versions and their stages');
  remoteOptions(
    models
      .command('list')
      .description('list model versions, newest first')
      .option('--name <name>', 'only this model')
      .option(
        '--stage <stage>',
        'none, candidate, production, archived or rejected',
        choice('--stage', Object.keys(listStageNames)),
      )
      .option('--author <id>', "only this author's"),
  ).action(async (opts: Remote & { name?: string; stage?: string; author?: string }) => {
    process.exitCode = await modelsList(withKey(opts));
  });
  remoteOptions(
    models.command('show <id>').description('a model version (id or <name>@<alias>) and its stage history'),
  ).action(async (id: string, opts: Remote) => {
    process.exitCode = await modelsShow({ ...withKey(opts), id });
  });
  remoteOptions(
    as(
      models
        .command('request <id>')
        .description('move a version to a stage; production waits for an approved review')
        .requiredOption(
          '--stage <stage>',
          'candidate, production, archived or none',
          choice('--stage', Object.keys(stageNames)),
        )
        .option('--comment <text>', 'why'),
    ),
  ).action(async (id: string, opts: Remote & { stage: string; comment?: string; as?: string }) => {
    process.exitCode = await modelsRequest({ ...withKey(opts), id });
  });
  for (const [verb, approve] of [
    ['approve', true],
    ['reject', false],
  ] as const) {
    remoteOptions(
      as(
        models
          .command(`${verb} <id>`)
          .description(`${verb} the transition waiting for review (production)`)
          .option('--comment <text>', 'why'),
      ),
    ).action(async (id: string, opts: Remote & { comment?: string; as?: string }) => {
      process.exitCode = await modelsReview({ ...withKey(opts), id, approve });
    });
  }
  remoteOptions(
    as(
      models
        .command('rollback <name>')
        .description('put the previous approved, untainted version of a model back into production')
        .option('--comment <text>', 'why'),
    ),
  ).action(async (name: string, opts: Remote & { comment?: string; as?: string }) => {
    process.exitCode = await modelsRollback({ ...withKey(opts), name });
  });
  remoteOptions(
    models.command('alias <id> <alias>').description('point an alias (not "production") at a version'),
  ).action(async (id: string, alias: string, opts: Remote) => {
    process.exitCode = await modelsAlias({ ...withKey(opts), id, alias });
  });

  remoteOptions(
    program
      .command('lineage <id>')
      .description(
        'what an artifact was made from and what was made from it (model, run, dataset, document, source)',
      )
      .option(
        '--type <type>',
        Object.keys(lineageTypes).join('|') + ' (default: from the id)',
        choice('--type', Object.keys(lineageTypes)),
      )
      .option(
        '--direction <dir>',
        'up, down or both',
        choice('--direction', Object.keys(directions)),
        'both',
      ),
  ).action(async (id: string, opts: Remote & { type?: string; direction: string }) => {
    process.exitCode = await lineage({ ...withKey(opts), id });
  });
}
