import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { seconds, type InfraLog } from './backend.js';
import { cacheDir } from './paths.js';

export interface BuildCommand {
  /** What is being prepared, for messages: `kafka jars`, `weaviate v1.39.0`. */
  readonly what: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Name of the log file under <cache>/logs. */
  readonly logName: string;
  /** Shown when the command is not installed. */
  readonly installHint: string;
}

/**
 * Runs a download/build step with its output in a log file, printing a line now and then so a ten-minute
 * Weaviate build on a fresh CI machine does not look hung. Throws with the log's tail on failure.
 */
export async function runBuildCommand(step: BuildCommand, log: InfraLog): Promise<void> {
  const logDir = path.join(cacheDir(), 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, step.logName);
  const fd = openSync(logFile, 'w');
  const started = Date.now();
  const heartbeat = setInterval(
    () => log(`still preparing ${step.what} (${seconds(Date.now() - started)}; log: ${logFile})`),
    60_000,
  );
  try {
    const outcome = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      const child = spawn(step.command, [...step.args], {
        cwd: step.cwd,
        env: step.env ?? process.env,
        stdio: ['ignore', fd, fd],
      });
      child.once('error', (error) => resolve({ code: null, error }));
      child.once('exit', (code) => resolve({ code }));
    });
    if (outcome.error !== undefined) {
      const missing = (outcome.error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(
        missing
          ? `preparing ${step.what}: '${step.command}' is not installed. ${step.installHint}`
          : `preparing ${step.what}: ${outcome.error.message}`,
        { cause: outcome.error },
      );
    }
    if (outcome.code !== 0) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
      throw new Error(
        `preparing ${step.what}: '${step.command} ${step.args.join(' ')}' exited with ${outcome.code}. Log ${logFile}:\n${tail}`,
      );
    }
  } finally {
    clearInterval(heartbeat);
    closeSync(fd);
  }
}
