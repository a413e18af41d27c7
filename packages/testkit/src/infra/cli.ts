/**
 * `node --import tsx packages/testkit/src/infra/cli.ts <command>`
 *   prepare   download/build what the local backends and the llama.cpp model server need (CI runs this as
 *             `npm run infra:prepare`)
 *   up        start the backends, print their variables, stop them on Ctrl-C
 *   serve     used by the jest global setup (IPC); not for people
 * `up` and `serve` start every backend, or only those LLMTWIN_TEST_ONLY names (e.g. `s3proxy`).
 */
import { defaultInfraLog, seconds } from './backend.js';
import { resolveBackendMode } from './backend-mode.js';
import {
  prepareLocalBackends,
  selectedBackendNames,
  startSelectedBackends,
  type SelectedBackends,
} from './backends.js';
import { prepareChromium } from './chromium.js';
import { prepareLlamaCppServer } from './llama-cpp.js';
import { cacheDir } from './paths.js';
import type { ParentToServe, ServeToParent } from './serve-protocol.js';

const log = defaultInfraLog;

async function prepare(): Promise<void> {
  const started = Date.now();
  const { mode, reason } = await resolveBackendMode();
  if (mode === 'testcontainers') {
    log(`backends: testcontainers (${reason}); their images are pulled on first use`);
  } else {
    log(`preparing local backends in ${cacheDir()} (${reason})`);
    await prepareLocalBackends(log);
  }
  // The model server the router's integration tests start is a local process either way.
  const llamaStarted = Date.now();
  const llama = await prepareLlamaCppServer(log);
  const how = llama.built ? `prepared in ${seconds(Date.now() - llamaStarted)}` : 'already in the cache';
  log(`llama-cpp-python ${llama.version}: ${how} (${llama.venv})`);
  // The browser the web console's end-to-end tests drive.
  prepareChromium(log);
  log(`prepare done in ${seconds(Date.now() - started)}`);
}

async function up(): Promise<void> {
  const backends = await startSelectedBackends(selectedBackendNames(), log);
  for (const [key, value] of Object.entries(backends.env)) process.stdout.write(`export ${key}='${value}'\n`);
  log('running; Ctrl-C stops them');
  // Keeps the process alive until a signal: the servers' child handles are unref'd on purpose.
  const keepAlive = setInterval(() => undefined, 60_000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  await backends.dispose();
}

async function serve(): Promise<void> {
  const send = (message: ServeToParent): void => {
    process.send?.(message);
  };
  if (process.send === undefined)
    throw new Error('serve is started by the jest global setup, with an IPC channel');
  let backends: SelectedBackends | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await backends?.dispose();
    if (process.connected) process.disconnect();
    process.exit();
  };
  process.on('message', (message: ParentToServe) => {
    if (message.type === 'stop') void stop();
  });
  // The parent is gone (finished without teardown, crashed or killed): nothing will ever use the servers.
  process.on('disconnect', () => void stop());
  try {
    backends = await startSelectedBackends(selectedBackendNames(), log);
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    process.exitCode = 1;
    if (process.connected) process.disconnect();
    return;
  }
  if (stopping) {
    await backends.dispose();
    return;
  }
  send({ type: 'ready', env: backends.env });
}

const commands: Record<string, () => Promise<void>> = { prepare, up, serve };
const name = process.argv[2] ?? '';
const command = commands[name];
if (command === undefined) {
  process.stderr.write(`usage: cli.ts ${Object.keys(commands).join('|')}\n`);
  process.exit(2);
}
command().catch((error: unknown) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
