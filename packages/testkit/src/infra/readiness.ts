import { poll, PollTimeoutError } from '../poll.js';
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
  const proc = options.process;
  const exited = new AbortController();
  try {
    await poll(
      () => {
        if (proc !== undefined && !proc.running) {
          const exit = proc.exit;
          exited.abort(
            new Error(
              `${options.what}: the server exited (code ${exit?.code ?? '?'}, signal ${exit?.signal ?? '-'}) before it was ready. ` +
                `Log ${proc.spec.logFile}:\n${proc.logTail()}`,
            ),
          );
          return false;
        }
        return check();
      },
      {
        what: options.what,
        timeoutMs: options.timeoutMs,
        intervalMs: options.intervalMs ?? 200,
        signal: exited.signal,
      },
    );
  } catch (error) {
    if (!(error instanceof PollTimeoutError)) throw error;
    // A server that never became ready is of no use and would hold its ports against a retry.
    await proc?.kill();
    const last = error.lastError;
    const reason = last instanceof Error ? ` Last error: ${last.message}.` : '';
    const tail = proc === undefined ? '' : ` Log ${proc.spec.logFile}:\n${proc.logTail()}`;
    throw new Error(`${options.what}: not ready after ${options.timeoutMs} ms.${reason}${tail}`, {
      cause: error,
    });
  }
}
