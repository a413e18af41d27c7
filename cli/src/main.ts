// The llmtwin command line: `llmtwin up` runs the twin in embedded mode; the other commands talk to a
// running twin through its gateway (LLMTWIN_URL, default http://127.0.0.1:8080).
import { Command, InvalidArgumentError } from 'commander';
import {
  authorCreate,
  crawl,
  importArchive,
  sourceAdd,
  sourceList,
  sourcePause,
  sourceRemove,
  type ScheduleOptions,
} from './commands/ingest.js';
import { statusCommand } from './commands/status.js';
import { addDatasetCommands } from './commands/datasets.js';
import { addRegistryCommands } from './commands/registry.js';
import { addTrainCommand } from './commands/train.js';
import { keysCreate, keysList, keysRevoke } from './commands/keys.js';
import { defaultDataDir, resolveApiKey } from './api-key.js';
import { bad, printJson } from './output.js';

// `up`, `extract` and the pipeline commands load the services and the event bus: only when used, so that
// the other commands start quickly.
const pipeline = () => import('./commands/pipeline.js');

const VERSION = '0.1.0';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port is an integer 0-65535');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number of seconds, 0 or more');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

const program = new Command()
  .name('llmtwin')
  .description('LLM Twin: an LLM that writes like you, grounded in your own articles, posts and code.')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('up')
  .description('start every service and the gateway in this process (embedded mode)')
  .option('--data-dir <dir>', 'where the twin keeps its data', process.env['LLMTWIN_DATA_DIR'] ?? '.llmtwin')
  .option('--port <port>', 'gateway port', port, Number(process.env['PORT'] ?? 8080))
  .option('--host <host>', 'gateway address', process.env['HOST'] ?? '127.0.0.1')
  .option('--json', 'print machine-readable output', false)
  .option('--no-demo', 'do not load the demo author into an installation that has no sources')
  .action(async (opts: { dataDir: string; port: number; host: string; json: boolean; demo: boolean }) => {
    try {
      const { upCommand } = await import('./commands/up.js');
      await upCommand({ ...opts, version: VERSION, logLevel: process.env['LOG_LEVEL'] ?? 'warn' });
    } catch (err) {
      // A start-up problem (a port in use, a missing model) is one clear line, not a stack trace.
      const message = err instanceof Error ? err.message : String(err);
      if (opts.json) printJson({ status: 'failed', error: message });
      else console.error(bad(`LLM Twin could not start: ${message}`));
      process.exit(1);
    }
  });

const gatewayUrl = () => process.env['LLMTWIN_URL'] ?? 'http://127.0.0.1:8080';
type Remote = { url: string; json: boolean; apiKey?: string; dataDir: string };
/** Every command that talks to the gateway sends an API key: --api-key, LLMTWIN_API_KEY or admin.key. */
const remoteOptions = (c: Command) =>
  c
    .option('--url <url>', 'gateway URL', gatewayUrl())
    .option('--api-key <key>', 'API key (default: LLMTWIN_API_KEY, else <data dir>/admin.key)')
    .option('--data-dir <dir>', "the embedded twin's data folder, for its admin.key", defaultDataDir())
    .option('--json', 'print machine-readable output', false);
/** The options a command function takes: the key resolved, the CLI-only ones dropped. */
const withKey = <T extends Remote>({ dataDir, apiKey, ...rest }: T) => {
  const key = resolveApiKey({ dataDir, ...(apiKey ? { apiKey } : {}) });
  return { ...rest, ...(key ? { apiKey: key } : {}) };
};

remoteOptions(program.command('status').description('show the health of every service and backend')).action(
  async (opts: Remote) => {
    process.exitCode = await statusCommand(withKey(opts));
  },
);

const author = program.command('author').description('authors whose writing the twin learns from');
remoteOptions(
  author.command('create <name>').description('create an author').option('--id <id>', 'stable id'),
).action(async (name: string, opts: Remote & { id?: string }) => {
  process.exitCode = await authorCreate({ ...withKey(opts), name, ...(opts.id ? { id: opts.id } : {}) });
});

const source = program
  .command('source')
  .description("an author's profiles, feeds, publications and repositories");
remoteOptions(
  source
    .command('add <url>')
    .description('register a source to crawl, and say how much of it a crawl can reach')
    .requiredOption('--author <id>', 'the author it belongs to')
    .option('--every <seconds>', 'crawl every N seconds, at least 60 (0: only on demand)', seconds, 0)
    .option(
      '--cron <expression>',
      'crawl on a cron schedule instead, e.g. "0 3 * * *" (minute hour day month weekday)',
    )
    .option('--tz <zone>', 'IANA time zone the cron expression is read in, e.g. Europe/Berlin (default UTC)')
    .option(
      '--jitter <seconds>',
      'move each due time by up to N seconds, so sources do not all fire at once',
      seconds,
    )
    .option(
      '--full-every <seconds>',
      'seconds between scheduled full crawls, which find deleted posts (default: weekly; 0: only on demand)',
      seconds,
    )
    .option('--ref <ref>', 'git branch, tag or commit (repositories)')
    .addHelpText(
      'after',
      '\nScheduled crawls fetch only what is new since the last one; a full crawl (weekly, or `llmtwin crawl\n' +
        '--full <source id>`) reads everything and finds deletions. Medium feeds and LinkedIn public pages list\n' +
        "only part of an author's posts: import the platform's export (`llmtwin import`) for the rest.",
    ),
).action(async (url: string, opts: Remote & ScheduleOptions & { author: string; ref?: string }) => {
  process.exitCode = await sourceAdd({ ...withKey(opts), sourceUrl: url });
});
remoteOptions(
  source
    .command('list')
    .description('list sources: schedule and next run, last success, last error, documents and coverage')
    .option('--author <id>', 'only this author'),
).action(async (opts: Remote & { author?: string }) => {
  process.exitCode = await sourceList(withKey(opts));
});
remoteOptions(source.command('pause <id>').description("stop a source's scheduled crawls")).action(
  async (id: string, opts: Remote) => {
    process.exitCode = await sourcePause({ ...withKey(opts), id, paused: true });
  },
);
remoteOptions(
  source.command('resume <id>').description('schedule a paused source again from its next due time'),
).action(async (id: string, opts: Remote) => {
  process.exitCode = await sourcePause({ ...withKey(opts), id, paused: false });
});
remoteOptions(
  source
    .command('remove <id>')
    .description('remove a source')
    .option('--purge', 'also delete the documents collected from it', false),
).action(async (id: string, opts: Remote & { purge: boolean }) => {
  process.exitCode = await sourceRemove({ ...withKey(opts), id });
});

remoteOptions(
  program
    .command('crawl <url-or-source-id>')
    .description('crawl a source, or one URL for an author, now')
    .option('--author <id>', 'the author (when crawling a URL)')
    .option('--full', 'read the whole listing and find deleted posts, not only what is new', false)
    .option('--no-wait', 'return once the job is queued'),
).action(async (target: string, opts: Remote & { author?: string; wait: boolean; full: boolean }) => {
  process.exitCode = await crawl({ ...withKey(opts), target });
});

remoteOptions(
  program
    .command('import <archive>')
    .description(
      'import a Medium, Substack or LinkedIn data-export archive (.zip) or a saved-pages zip: the file is ' +
        'streamed to the gateway (POST /v1/archives) with a progress bar, so its size does not matter to the ' +
        'CLI; the twin refuses archives over its limits with the setting that raises each ' +
        '(LLMTWIN_INGEST_ARCHIVE_MAX_BYTES, LLMTWIN_INGEST_ARCHIVE_MAX_ENTRIES, ' +
        'LLMTWIN_INGEST_ARCHIVE_MAX_UNCOMPRESSED_BYTES) and deletes every ' +
        'archive once imported or refused',
    )
    .requiredOption('--author <id>', 'the author it belongs to')
    .option('--no-wait', 'return once the job is queued'),
).action(async (file: string, opts: Remote & { author: string; wait: boolean }) => {
  process.exitCode = await importArchive({ ...withKey(opts), file });
});

program
  .command('extract <saved-page>')
  .description("show the document a saved page gives, with the crawlers' parsing and no network")
  .requiredOption('--url <url>', 'the URL the page was saved from')
  .option('--json', 'print machine-readable output', false)
  .action(async (file: string, opts: { url: string; json: boolean }) => {
    const { extractCommand } = await import('./commands/extract.js');
    process.exitCode = await extractCommand({ file, url: opts.url, json: opts.json });
  });

const dataDirOption = (c: Command) =>
  c
    .option(
      '--bus <url>',
      'event bus URL (default: LLMTWIN_EVENT_BUS_URL, or the embedded log in the data folder)',
    )
    .option(
      '--data-dir <dir>',
      "the embedded twin's data folder",
      process.env['LLMTWIN_DATA_DIR'] ?? '.llmtwin',
    )
    .option('--json', 'print machine-readable output', false);
const dlq = program.command('dlq').description('events that failed processing after every retry');
dataDirOption(dlq.command('list <topic>').description('list the dead letters of a topic')).action(
  async (topic: string, opts: { bus?: string; dataDir: string; json: boolean }) => {
    process.exitCode = await (await pipeline()).dlqList({ ...opts, topic });
  },
);
dataDirOption(
  dlq
    .command('replay <topic>')
    .description('put the dead letters of a topic back on it (once fixed)')
    .option('--group <group>', 'only those one consumer group gave up on'),
).action(async (topic: string, opts: { bus?: string; dataDir: string; json: boolean; group?: string }) => {
  process.exitCode = await (await pipeline()).dlqReplay({ ...opts, topic });
});
remoteOptions(
  program
    .command('reprocess')
    .description('rebuild the cleaned snapshot from the warehouse')
    .option('--author <id>', 'only this author'),
).action(async (opts: Remote & { author?: string }) => {
  process.exitCode = await (await pipeline()).reprocess(withKey(opts));
});
remoteOptions(
  program
    .command('reindex')
    .description('re-embed everything into a new collection, swapped in when complete')
    .option('--no-wait', 'return once started'),
).action(async (opts: Remote & { wait: boolean }) => {
  process.exitCode = await (await pipeline()).reindex(withKey(opts));
});

const keys = program.command('keys').description('API keys for the gateway (needs an admin key)');
remoteOptions(
  keys
    .command('create')
    .description('create an API key: for one author, or an admin key')
    .option('--author <id>', 'the author the key acts for (its data only)')
    .option('--admin', 'an admin key: every author, key management, pipeline operations', false)
    .option('--name <name>', 'a label, to recognise the key later')
    .option('--rate-limit <n>', 'requests per minute (default: the gateway default)', positiveInt),
).action(async (opts: Remote & { author?: string; admin: boolean; name?: string; rateLimit?: number }) => {
  process.exitCode = await keysCreate(withKey(opts));
});
remoteOptions(keys.command('list').description('list API keys (never their secrets)')).action(
  async (opts: Remote) => {
    process.exitCode = await keysList(withKey(opts));
  },
);
remoteOptions(keys.command('revoke <id>').description('revoke an API key (effective within seconds)')).action(
  async (id: string, opts: Remote) => {
    process.exitCode = await keysRevoke({ ...withKey(opts), id });
  },
);

remoteOptions(
  program
    .command('ask <question>')
    .description("ask the twin: streams the answer in the author's voice, then its sources")
    .option('--author <id>', 'whose twin answers (an author key answers for its own author)', 'demo')
    .option('--model <id>', 'model to answer with (default: the router default)')
    .option('--top-k <n>', 'passages to retrieve', positiveInt)
    .option('--max-tokens <n>', 'longest answer, in tokens', positiveInt),
).action(
  async (
    question: string,
    opts: Remote & { author: string; model?: string; topK?: number; maxTokens?: number },
  ) => {
    const { askCommand } = await import('./commands/ask.js');
    process.exitCode = await askCommand({ ...withKey(opts), question });
  },
);
remoteOptions(
  program
    .command('demo')
    .description('load the demo author: sample pages bundled with LLM Twin, with their credits'),
).action(async (opts: Remote) => {
  const { demoCommand } = await import('./commands/ask.js');
  process.exitCode = await demoCommand(withKey(opts));
});

addRegistryCommands(program, remoteOptions, withKey);
addDatasetCommands(program, remoteOptions, withKey);
addTrainCommand(program, remoteOptions, withKey);

await program.parseAsync(process.argv);
