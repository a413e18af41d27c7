import { describe, expect, it } from '@jest/globals';
import type { ManagedProcess } from './managed-process.js';
import { waitUntil } from './readiness.js';

/** The parts of a ManagedProcess that waitUntil reads, with a switch for "it died". */
function fakeProcess(): { proc: ManagedProcess; die: () => void; killed: () => boolean } {
  let running = true;
  let killed = false;
  const proc = {
    get running() {
      return running;
    },
    exit: { code: 1, signal: null },
    spec: { logFile: '/tmp/server.log' },
    logTail: () => 'FATAL: address already in use',
    kill: async () => {
      killed = true;
      running = false;
    },
  } as unknown as ManagedProcess;
  return { proc, die: () => (running = false), killed: () => killed };
}

describe('waitUntil', () => {
  it('returns once the check passes', async () => {
    let calls = 0;
    await waitUntil(async () => ++calls === 3, { what: 'kafka', timeoutMs: 10_000, intervalMs: 1 });
    expect(calls).toBe(3);
  });

  it('fails at once, with the log, when the server exits while waiting', async () => {
    const { proc, die } = fakeProcess();
    let calls = 0;
    const waiting = waitUntil(
      async () => {
        calls += 1;
        if (calls === 2) die();
        return false;
      },
      { what: 'weaviate', timeoutMs: 600_000, intervalMs: 1, process: proc },
    );
    await expect(waiting).rejects.toThrow(
      'weaviate: the server exited (code 1, signal -) before it was ready. Log /tmp/server.log:\nFATAL: address already in use',
    );
    expect(calls).toBe(2);
  });

  it('past the deadline, kills the server and reports the last error and the log', async () => {
    const { proc, killed } = fakeProcess();
    const waiting = waitUntil(
      async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:8080');
      },
      { what: 'weaviate', timeoutMs: 20, intervalMs: 1, process: proc },
    );
    await expect(waiting).rejects.toThrow(
      'weaviate: not ready after 20 ms. Last error: connect ECONNREFUSED 127.0.0.1:8080. Log /tmp/server.log:\nFATAL',
    );
    expect(killed()).toBe(true);
  });
});
