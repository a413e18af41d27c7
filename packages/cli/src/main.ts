// The llmtwin command line: `llmtwin up` runs the twin in embedded mode; the other commands talk to a
// running twin through its gateway (LLMTWIN_URL, default http://127.0.0.1:8080).
import { Command, InvalidArgumentError } from 'commander';
import { statusCommand } from './commands/status.js';
import { upCommand } from './commands/up.js';

const VERSION = '0.1.0';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port is an integer 0-65535');
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
  .action(async (opts: { dataDir: string; port: number; host: string; json: boolean }) => {
    await upCommand({ ...opts, version: VERSION, logLevel: process.env['LOG_LEVEL'] ?? 'warn' });
  });

program
  .command('status')
  .description('show the health of every service and backend')
  .option('--url <url>', 'gateway URL', process.env['LLMTWIN_URL'] ?? 'http://127.0.0.1:8080')
  .option('--json', 'print machine-readable output', false)
  .action(async (opts: { url: string; json: boolean }) => {
    const apiKey = process.env['LLMTWIN_API_KEY'];
    process.exitCode = await statusCommand({ ...opts, ...(apiKey ? { apiKey } : {}) });
  });

await program.parseAsync(process.argv);
