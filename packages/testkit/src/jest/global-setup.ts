/**
 * Starts the real backends for the `integration` jest project and exports their URLs and versions as
 * LLMTWIN_TEST_* variables (workers inherit them).
 *
 * Jest loads this file as CommonJS without its moduleNameMapper, so it cannot import the harness (ESM
 * TypeScript with `.js` specifiers) directly; it runs `infra/cli.ts serve` under tsx instead and talks to it
 * over IPC. Only type imports cross that line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

import type { ServeToParent } from '../infra/serve-protocol.js';

interface ProjectConfig {
  readonly rootDir: string;
}

declare global {
  // Shared with global-teardown.ts, which jest runs in the same process.
  var __llmtwinBackends: ChildProcess | undefined;
}

export default async function globalSetup(
  _globalConfig: unknown,
  projectConfig: ProjectConfig,
): Promise<void> {
  const rootDir = projectConfig.rootDir;
  const cli = path.join(rootDir, 'packages', 'testkit', 'src', 'infra', 'cli.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve'], {
    cwd: rootDir,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const env = await new Promise<Readonly<Record<string, string>>>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(
        new Error(`the test backends process exited (code ${code}, signal ${signal}) before they were ready`),
      ),
    );
    child.on('message', (message: ServeToParent) => {
      if (message.type === 'ready') resolve(message.env);
      else reject(new Error(`the test backends did not start: ${message.message}`));
    });
  });
  child.removeAllListeners('exit');
  for (const [key, value] of Object.entries(env)) process.env[key] = value;
  // The servers' process must not hold jest open; teardown (or its own IPC disconnect) ends it.
  child.unref();
  child.channel?.unref();
  globalThis.__llmtwinBackends = child;
}
