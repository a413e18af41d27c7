import { setTimeout as sleep } from 'node:timers/promises';

import type { ManagedProcess } from './managed-process.js';

export interface WaitOptions {
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** If this process exits while waiting, fail at once and show its log instead of waiting out the timeout. */
  readonly process?: ManagedProcess;
}

/** Polls `check` until it returns true; the last error it threw goes into the timeout message. */
export async function waitUntil(check: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const proc = options.process;
    if (proc !== undefined && !proc.running) {
      const exit = proc.exit;
      throw new Error(
        `${options.what}: the server exited (code ${exit?.code ?? '?'}, signal ${exit?.signal ?? '-'}) before it was ready. ` +
          `Log ${proc.spec.logFile}:\n${proc.logTail()}`,
      );
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      // A server that never became ready is of no use and would hold its ports against a retry.
      await proc?.kill();
      const reason = lastError instanceof Error ? ` Last error: ${lastError.message}.` : '';
      const tail = proc === undefined ? '' : ` Log ${proc.spec.logFile}:\n${proc.logTail()}`;
      throw new Error(`${options.what}: not ready after ${options.timeoutMs} ms.${reason}${tail}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}
