// `llmtwin datasets`: build an instruct or preference dataset version from an author's cleaned snapshot (a
// trainer job, followed with a progress line; Ctrl-C cancels it), list and show versions from the registry.
// Everything goes through the gateway.
import { InvalidArgumentError, type Command } from 'commander';
import { registryv1, trainerv1 } from '@llmtwin/contracts';
import { gatewayClient } from '../client.js';
import { bad, bold, dim, messageJson, ok, printJson } from '../output.js';
import { remote, type RemoteOptions } from './ingest.js';

const trainer = (o: RemoteOptions) => gatewayClient(trainerv1.TrainerService, o.url, o.apiKey);
const registry = (o: RemoteOptions) => gatewayClient(registryv1.RegistryService, o.url, o.apiKey);

const kindName = (k: registryv1.DatasetKind) =>
  k === registryv1.DatasetKind.PREFERENCE
    ? 'preference'
    : k === registryv1.DatasetKind.INSTRUCT
      ? 'instruct'
      : '';

/** The version as the registry has it, with the kind as a word and the splits as name → examples. */
export function datasetJson(v: registryv1.DatasetVersion): Record<string, unknown> {
  return {
    ...(messageJson(registryv1.DatasetVersionSchema, v) as Record<string, unknown>),
    kind: kindName(v.kind),
    splits: Object.fromEntries(v.splits.map((s) => [s.name, Number(s.examples)])),
    artifacts: Object.fromEntries(v.splits.map((s) => [s.name, s.artifact?.uri ?? ''])),
  };
}

function printVersion(v: registryv1.DatasetVersion): void {
  const splits = v.splits.map((s) => `${s.examples} ${s.name}`).join(', ');
  const s = v.stats;
  console.log(
    `${bold(v.id)}  ${v.dataset} v${v.version}  ${kindName(v.kind)}  ${splits}${v.tainted ? bad(' tainted') : ''}`,
  );
  console.log(
    dim(`  schema ${v.schemaVersion}, content ${v.contentHash.slice(0, 16)}…, ${v.sources.length} documents`),
  );
  if (v.generator) {
    console.log(
      dim(
        `  generator ${v.generator.kind} ${v.generator.modelId} (${v.generator.promptTemplateVersion}), seed ${v.generator.seed}`,
      ),
    );
  }
  if (s) {
    console.log(
      dim(
        `  ${s.passagesConsidered} passages considered: ${s.exactDuplicatesRemoved} exact and ${s.nearDuplicatesRemoved} near duplicates, ` +
          `${s.tooShortRemoved} too short, ${s.tooLongRemoved} too long, ${s.languageRemoved} other language removed; ` +
          `${s.emailsScrubbed} e-mails and ${s.phoneNumbersScrubbed} phone numbers scrubbed; ` +
          `${s.generationFailures} generation failures, ${s.feedbackPairs} pairs from answer edits`,
      ),
    );
    console.log(
      dim(
        `  tokens per example (${s.tokenizer}): mean ${s.tokensPerExampleMean.toFixed(0)}, p50 ${s.tokensPerExampleP50}, p95 ${s.tokensPerExampleP95}, max ${s.tokensPerExampleMax}`,
      ),
    );
  }
  for (const split of v.splits) console.log(dim(`  ${split.name}: ${split.artifact?.uri ?? ''}`));
}

const finished = new Set([
  trainerv1.JobState.SUCCEEDED,
  trainerv1.JobState.FAILED,
  trainerv1.JobState.CANCELLED,
]);

export const datasetsBuild = (
  o: RemoteOptions & {
    author: string;
    kind?: string;
    generator?: string;
    testFraction?: number;
    seed?: number;
    splitBy?: string;
  },
) =>
  remote(o, async () => {
    if (o.kind && o.kind !== 'instruct' && o.kind !== 'preference') {
      throw new Error('--kind is instruct or preference');
    }
    const t = trainer(o);
    const res = await t.buildDataset({
      authorId: o.author,
      kind: o.kind === 'preference' ? registryv1.DatasetKind.PREFERENCE : registryv1.DatasetKind.INSTRUCT,
      generatorModel: o.generator ?? '',
      testFraction: o.testFraction ?? 0,
      seed: BigInt(o.seed ?? 0),
      splitBy: o.splitBy ?? '',
    });
    let job = res.job!;
    // Ctrl-C cancels the job (nothing is recorded) rather than leaving it running unseen.
    let cancelling: Promise<unknown> | undefined;
    const onInterrupt = () => {
      if (!o.json) process.stderr.write(`\n${dim(`cancelling job ${job.id}…`)}\n`);
      cancelling ??= t.cancelJob({ id: job.id }).catch(() => undefined);
    };
    process.on('SIGINT', onInterrupt);
    const tty = process.stderr.isTTY && !o.json;
    try {
      while (!finished.has(job.state)) {
        await new Promise((r) => setTimeout(r, 300));
        job = (await t.getJob({ id: job.id })).job!;
        if (tty) {
          const progress = job.total > 0n ? `passages ${job.done}/${job.total}` : '';
          process.stderr.write(`\r\x1b[K${progress} ${dim(job.message)}`);
        }
      }
      await cancelling;
    } finally {
      process.off('SIGINT', onInterrupt);
      if (tty) process.stderr.write('\n');
    }
    if (job.state !== trainerv1.JobState.SUCCEEDED) {
      const what = job.state === trainerv1.JobState.CANCELLED ? 'cancelled' : 'failed';
      if (o.json) printJson({ job: messageJson(trainerv1.JobSchema, job), error: `${what}: ${job.message}` });
      else console.error(bad(`dataset job ${job.id} ${what}: ${job.message}`));
      return job.state === trainerv1.JobState.CANCELLED ? 130 : 1;
    }
    const version = (await registry(o).getDatasetVersion({ id: job.datasetVersionId })).datasetVersion!;
    if (o.json) {
      printJson({ datasetVersion: datasetJson(version), job: messageJson(trainerv1.JobSchema, job) });
    } else {
      console.log(
        ok(job.reused ? `the same dataset was recorded before: ${version.id}` : `recorded ${version.id}`),
      );
      printVersion(version);
    }
    return 0;
  });

export const datasetsList = (o: RemoteOptions & { author?: string }) =>
  remote(o, async () => {
    const versions: registryv1.DatasetVersion[] = [];
    let pageToken = '';
    do {
      const res = await registry(o).listDatasetVersions({
        authorId: o.author ?? '',
        page: { pageSize: 500, pageToken },
      });
      versions.push(...res.datasetVersions);
      pageToken = res.page?.nextPageToken ?? '';
    } while (pageToken);
    if (o.json) {
      printJson({ datasetVersions: versions.map(datasetJson) });
      return 0;
    }
    if (versions.length === 0)
      console.log(dim('no dataset versions yet: llmtwin datasets build --author <id>'));
    for (const v of versions) {
      const splits = v.splits.map((s) => `${s.examples} ${s.name}`).join(', ');
      console.log(
        `${v.id}  ${v.dataset} v${v.version}  ${kindName(v.kind).padEnd(10)} ${splits}${v.tainted ? bad(' tainted') : ''}`,
      );
    }
    return 0;
  });

export const datasetsShow = (o: RemoteOptions & { id: string }) =>
  remote(o, async () => {
    const version = (await registry(o).getDatasetVersion({ id: o.id })).datasetVersion!;
    if (o.json) printJson({ datasetVersion: datasetJson(version) });
    else printVersion(version);
    return 0;
  });

// ---- command wiring ---------------------------------------------------------------------------------

type Remote = { url: string; json: boolean; apiKey?: string; dataDir: string };
type WithKey = <T extends Remote>(o: T) => Omit<T, 'dataDir' | 'apiKey'> & { apiKey?: string };

function numberIn(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`a number from ${min} to ${max}`);
    return n;
  };
}

/** `llmtwin datasets build|list|show`, with the CLI's remote options. */
export function addDatasetCommands(
  program: Command,
  remoteOptions: (c: Command) => Command,
  withKey: WithKey,
): void {
  const datasets = program
    .command('datasets')
    .description("fine-tuning datasets built from an author's writing");
  remoteOptions(
    datasets
      .command('build')
      .description('build a dataset version from the cleaned snapshot (Ctrl-C cancels the job)')
      .requiredOption('--author <id>', 'whose writing')
      .option('--kind <kind>', 'instruct (SFT) or preference (DPO)', 'instruct')
      .option('--generator <model>', 'what writes the instructions: extractive, or a model the router serves')
      .option(
        '--test-fraction <f>',
        'share of documents held out for evaluation (default 0.1)',
        numberIn(0.01, 0.9),
      )
      .option('--seed <n>', 'seed of the split and the generator', numberIn(0, Number.MAX_SAFE_INTEGER))
      .option('--split-by <how>', 'document (a seeded hash) or time (the newest documents to test)'),
  ).action(
    async (
      opts: Remote & {
        author: string;
        kind: string;
        generator?: string;
        testFraction?: number;
        seed?: number;
        splitBy?: string;
      },
    ) => {
      process.exitCode = await datasetsBuild(withKey(opts));
    },
  );
  remoteOptions(
    datasets.command('list').description('list dataset versions').option('--author <id>', 'only this author'),
  ).action(async (opts: Remote & { author?: string }) => {
    process.exitCode = await datasetsList(withKey(opts));
  });
  remoteOptions(
    datasets.command('show <id>').description('a dataset version: splits, generator, hygiene, artifacts'),
  ).action(async (id: string, opts: Remote) => {
    process.exitCode = await datasetsShow({ ...withKey(opts), id });
  });
}
