// `llmtwin train`: a fine-tuning run on a dataset version (LoRA SFT, then DPO on a preference version), as a
// trainer job through the gateway, followed with a progress bar until the evaluated model version is
// registered; Ctrl-C cancels the job. On an embedded twin on this machine, the training job's Python
// environment is prepared first when it is missing (scripts/prepare-trainer.mjs).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { InvalidArgumentError, type Command } from 'commander';
import { gatewayv1, registryv1, trainerv1 } from '@llmtwin/contracts';
import { gatewayClient } from '../client.js';
import { bad, dim, messageJson, ok, printJson } from '../output.js';
import { remote, type RemoteOptions } from './ingest.js';
import {
  metricValue,
  modelVersionJson,
  progressLine,
  renderEvaluation,
  runJson,
  runStateWord,
  stageSummary,
} from './training-format.js';

export interface TrainOptions extends RemoteOptions {
  dataset?: string;
  preference?: string;
  preset?: string;
  base?: string;
  steps?: number;
  dpoSteps?: number;
  lr?: number;
  rank?: number;
  seed?: number;
  name?: string;
  experiment?: string;
  merge?: boolean;
  resume?: string;
  /** False: fail instead of preparing the embedded twin's Python environment. Default true. */
  prepare?: boolean;
  /** How often the job is read (default 1 s). */
  pollMs?: number;
}

/** A mistake in the command line: exit code 2, like commander's own. */
export class UsageError extends Error {}

// ---- argument parsing (commander) -------------------------------------------------------------------

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

export function learningRate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n >= 1)
    throw new InvalidArgumentError('a number between 0 and 1, e.g. 2e-4');
  return n;
}

export function loraRank(value: string): number {
  const n = positiveInteger(value);
  if (n > 1024) throw new InvalidArgumentError('a LoRA rank from 1 to 1024 (8-64 is usual)');
  return n;
}

/** Options that a resumed run takes from the run it continues. */
const settingsOfARun = [
  ['dataset', '--dataset'],
  ['preference', '--preference'],
  ['preset', '--preset'],
  ['base', '--base'],
  ['steps', '--steps'],
  ['dpoSteps', '--dpo-steps'],
  ['lr', '--lr'],
  ['rank', '--rank'],
  ['seed', '--seed'],
  ['name', '--name'],
  ['experiment', '--experiment'],
] as const;

/**
 * The StartTraining request for the command line. A new run needs --dataset; --resume continues a run with
 * that run's own settings, so giving others with it is a mistake rather than something silently ignored.
 */
export function trainingRequest(
  o: TrainOptions,
): MessageInitShape<typeof trainerv1.StartTrainingRequestSchema> {
  if (o.resume) {
    const given = settingsOfARun.filter(([k]) => o[k] !== undefined && o[k] !== '').map(([, flag]) => flag);
    if (given.length > 0 || o.merge)
      throw new UsageError(
        `--resume continues run ${o.resume} with its own settings: leave out ${[...given, ...(o.merge ? ['--merge'] : [])].join(', ')}`,
      );
    return { resumeRunId: o.resume };
  }
  if (!o.dataset)
    throw new UsageError(
      'give the instruct dataset version to train on: --dataset <id> (llmtwin datasets list), or --resume <run id>',
    );
  if (o.dpoSteps !== undefined && !o.preference)
    throw new UsageError('--dpo-steps needs a preference dataset version: --preference <id>');
  return {
    datasetVersionId: o.dataset,
    preferenceDatasetVersionId: o.preference ?? '',
    preset: o.preset ?? '',
    baseModel: o.base ?? '',
    maxSteps: BigInt(o.steps ?? 0),
    dpoSteps: BigInt(o.dpoSteps ?? 0),
    learningRate: o.lr ?? 0,
    loraRank: o.rank ?? 0,
    seed: BigInt(o.seed ?? 0),
    modelName: o.name ?? '',
    experiment: o.experiment ?? '',
    mergeWeights: o.merge ?? false,
  };
}

// ---- the embedded twin's Python environment ---------------------------------------------------------

/** scripts/prepare-trainer.mjs of the checkout this CLI runs from (cli/src or cli/dist → ../../scripts). */
export const prepareScript = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../scripts/prepare-trainer.mjs',
);

const loopback = (url: string) => {
  try {
    return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
};

/**
 * Prepares the training job's Python environment when the twin is an embedded one on this machine (its
 * trainer runs the job here, from the same cache) and the environment is missing. A distributed trainer has
 * its own (the image installs it); LLMTWIN_TRAINER_PYTHON names an interpreter the user prepared.
 * Progress goes to stderr, so that --json output stays one object on stdout.
 */
export async function ensureTrainerPython(o: TrainOptions): Promise<void> {
  if (process.env['LLMTWIN_TRAINER_PYTHON'] || !loopback(o.url)) return;
  const status = await gatewayClient(gatewayv1.StatusService, o.url, o.apiKey)
    .getStatus({}, { timeoutMs: 10_000 })
    .catch(() => undefined);
  if (status?.mode !== 'embedded') return;
  const fix = 'run npm run trainer:prepare in the LLM Twin checkout (or set LLMTWIN_TRAINER_PYTHON)';
  // The trainer's own rule (LLMTWIN_CACHE_DIR; the folder follows the lock file; prepared = the venv and its
  // marker are there), loaded only here so that the other commands start without the trainer package.
  const { locateTrainerPython } = await import('@llmtwin/trainer');
  const py = locateTrainerPython();
  if (py.prepared) return;
  if (!existsSync(prepareScript))
    throw new UsageError(
      `the training environment is not prepared (${py.venv}): ${prepareScript} is missing; ${fix}`,
    );
  const venv = py.venv;
  if (o.prepare === false) throw new UsageError(`the training environment is not prepared (${venv}); ${fix}`);
  process.stderr.write(
    `${dim(`preparing the training environment in ${venv}: the first time downloads about 3.5 GB of Python packages (torch, transformers, peft, trl)…`)}\n`,
  );
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [prepareScript], {
      stdio: ['ignore', process.stderr, process.stderr],
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new UsageError(`preparing the training environment failed (exit ${code}); ${fix}`);
}

// ---- the command ------------------------------------------------------------------------------------

const finished = new Set([
  trainerv1.JobState.SUCCEEDED,
  trainerv1.JobState.FAILED,
  trainerv1.JobState.CANCELLED,
]);

/**
 * The job as it is now. A run lasts minutes to hours: one failed read (the twin busy, a connection reset) is
 * no reason to stop following it, so reads that fail for want of a connection are retried for about a minute
 * before the command gives up (the job itself goes on either way).
 */
async function readJob(
  t: Client<typeof trainerv1.TrainerService>,
  last: trainerv1.Job,
): Promise<trainerv1.Job> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await t.getJob({ id: last.id })).job!;
    } catch (err) {
      const transient =
        err instanceof ConnectError &&
        [Code.Unavailable, Code.DeadlineExceeded, Code.Unknown].includes(err.code);
      if (!transient || attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

export const train = (o: TrainOptions) =>
  remote(o, async () => {
    const request = trainingRequest(o);
    await ensureTrainerPython(o);
    const t = gatewayClient(trainerv1.TrainerService, o.url, o.apiKey);
    const registry = gatewayClient(registryv1.RegistryService, o.url, o.apiKey);
    // Ctrl-C cancels the job (the trainer stops the Python job, which saves a checkpoint for --resume) and
    // waits for it to end; a second Ctrl-C stops waiting. The handler is in place before the job is started
    // and its id printed, so a Ctrl-C at any moment from then on cancels rather than kills the command.
    let job: trainerv1.Job | undefined;
    let interrupted = false;
    let cancelling: Promise<unknown> | undefined;
    const cancel = (id: string) => {
      if (!o.json) process.stderr.write(`\n${dim(`cancelling job ${id}… (Ctrl-C again to stop waiting)`)}\n`);
      cancelling = t.cancelJob({ id }).catch(() => undefined);
    };
    const onInterrupt = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      if (job) cancel(job.id); // else once StartTraining answers
    };
    process.on('SIGINT', onInterrupt);
    const tty = process.stderr.isTTY && !o.json;
    try {
      job = (await t.startTraining(request)).job!;
    } catch (err) {
      process.off('SIGINT', onInterrupt);
      throw err;
    }
    if (interrupted) cancel(job.id);
    if (!o.json)
      process.stderr.write(
        `${dim(`training job ${job.id}: run ${job.runId || '-'}, preset ${job.preset || 'default'}, base ${job.baseModel || 'preset default'} (Ctrl-C cancels)`)}\n`,
      );
    let lastPhase = '';
    try {
      while (!finished.has(job.state)) {
        await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
        job = await readJob(t, job);
        if (tty) process.stderr.write(`\r\x1b[K${progressLine(job)}`);
        else if (!o.json && job.phase && job.phase !== lastPhase)
          process.stderr.write(`${dim(`phase ${job.phase}`)}\n`);
        lastPhase = job.phase || lastPhase;
      }
      await cancelling;
    } finally {
      process.off('SIGINT', onInterrupt);
      if (tty) process.stderr.write('\n');
    }

    const read = job.runId ? await registry.getRun({ id: job.runId }).catch(() => undefined) : undefined;
    const run = read?.run ? runJson(read.run, read.history) : null;
    const jobJson = messageJson(trainerv1.JobSchema, job);
    if (job.state !== trainerv1.JobState.SUCCEEDED) {
      const what = job.state === trainerv1.JobState.CANCELLED ? 'cancelled' : 'failed';
      if (o.json) printJson({ run, modelVersion: null, job: jobJson, error: `${what}: ${job.message}` });
      else {
        console.error(bad(`training job ${job.id} ${what}: ${job.message}`));
        if (job.runId)
          console.error(dim(`  continue it from its last checkpoint: llmtwin train --resume ${job.runId}`));
      }
      return interrupted || job.state === trainerv1.JobState.CANCELLED ? 130 : 1;
    }
    const mv = job.modelVersionId
      ? (await registry.getModelVersion({ id: job.modelVersionId })).modelVersion
      : undefined;
    if (o.json) {
      printJson({ run, modelVersion: mv ? modelVersionJson(mv) : null, job: jobJson });
      return 0;
    }
    if (read?.run) console.log(ok(runLine(read.run, run!.metrics['loss'])));
    if (mv) {
      console.log(stageSummary(mv));
      console.log(renderEvaluation(mv.evaluation));
    } else console.log(dim('no model version was registered'));
    return 0;
  });

/** "run run_… succeeded: 30 steps, loss 2.31 → 1.82". */
function runLine(run: registryv1.Run, loss: { step: number; value: number }[] | undefined): string {
  const curve =
    loss && loss.length > 0
      ? `: ${loss[loss.length - 1]!.step} steps, loss ${metricValue(loss[0]!.value)} → ${metricValue(loss[loss.length - 1]!.value)}`
      : '';
  return `run ${run.id} ${runStateWord(run.state)}${curve}`;
}

// ---- command wiring ---------------------------------------------------------------------------------

type Remote = { url: string; json: boolean; apiKey?: string; dataDir: string };
type WithKey = <T extends Remote>(o: T) => Omit<T, 'dataDir' | 'apiKey'> & { apiKey?: string };

/** `llmtwin train`, with the CLI's remote options. */
export function addTrainCommand(
  program: Command,
  remoteOptions: (c: Command) => Command,
  withKey: WithKey,
): void {
  remoteOptions(
    program
      .command('train')
      .description(
        'fine-tune a LoRA adapter on a dataset version, evaluate it and register a model version (Ctrl-C cancels)',
      )
      .option('--dataset <id>', 'the instruct dataset version to train on (llmtwin datasets list)')
      .option('--preference <id>', 'a preference dataset version of the same author: DPO after SFT')
      .option(
        '--preset <name>',
        'cpu-tiny, gpu-1b-3b, gpu-7b-8b, gpu-14b, gpu-30b or gpu-70b (docs/training.md)',
      )
      .option('--base <model>', "base model: a Hugging Face id or a local path (default: the preset's)")
      .option('--steps <n>', "SFT steps (default: the preset's)", positiveInteger)
      .option('--dpo-steps <n>', 'DPO steps, with --preference', positiveInteger)
      .option('--lr <x>', 'learning rate, e.g. 2e-4', learningRate)
      .option('--rank <r>', 'LoRA rank', loraRank)
      .option('--seed <n>', 'seed of the run', positiveInteger)
      .option('--name <model>', 'model name to register the version under (default <author>-twin)')
      .option('--experiment <name>', 'experiment the run is filed under (default: the model name)')
      .option('--merge', 'also store the base model with the adapter merged in')
      .option('--resume <run id>', 'continue a failed or cancelled run from its last checkpoint')
      .option('--no-prepare', "fail instead of preparing the embedded twin's Python environment"),
  ).action(async (opts: Remote & Omit<TrainOptions, 'url' | 'json' | 'apiKey'>) => {
    process.exitCode = await train(withKey(opts));
  });
}
