import { describe, expect, it } from '@jest/globals';
import type { LlmBackend } from '../llm.port.js';
import { HealthChecker, type HealthTarget } from './health-checker.js';

function target(endpoint: string, health: (signal: AbortSignal) => Promise<void>): HealthTarget {
  return { backend: { endpoint, health } as unknown as LlmBackend, healthy: true, draining: false };
}

describe('HealthChecker', () => {
  it('reports only changes, with the error that made a backend unhealthy', async () => {
    let up = false;
    const t = target('a', () => (up ? Promise.resolve() : Promise.reject(new Error('503'))));
    const changes: [string, boolean, unknown][] = [];
    const checker = new HealthChecker(
      () => [t],
      { healthIntervalMs: 1_000, healthTimeoutMs: 1_000 },
      (x, healthy, error) => changes.push([x.backend.endpoint, healthy, error]),
    );
    await checker.checkAll();
    await checker.checkAll();
    up = true;
    await checker.checkAll();
    expect(changes).toEqual([
      ['a', false, new Error('503')],
      ['a', true, undefined],
    ]);
    expect(t.healthy).toBe(true);
  });

  it('fails a check that runs past the timeout and aborts it', async () => {
    let signal: AbortSignal | undefined;
    const t = target('a', (s) => {
      signal = s;
      return new Promise(() => undefined);
    });
    const checker = new HealthChecker(
      () => [t],
      { healthIntervalMs: 1_000, healthTimeoutMs: 5 },
      () => {},
    );
    await checker.checkAll();
    expect(t.healthy).toBe(false);
    expect(signal?.reason).toMatchObject({ kind: 'timeout' });
  });

  it('leaves a draining backend as it was', async () => {
    const t = { ...target('a', () => Promise.reject(new Error('down'))), draining: true };
    const checker = new HealthChecker(
      () => [t],
      { healthIntervalMs: 1_000, healthTimeoutMs: 1_000 },
      () => {
        throw new Error('not expected');
      },
    );
    await checker.checkAll();
    expect(t.healthy).toBe(true);
  });

  it('keeps one loop after stop() and start() during a round', async () => {
    let calls = 0;
    let release: (() => void) | undefined;
    const t = target('a', () => {
      calls++;
      return calls === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    });
    const checker = new HealthChecker(
      () => [t],
      { healthIntervalMs: 10, healthTimeoutMs: 1_000 },
      () => {},
    );
    checker.start();
    const stopped = checker.stop();
    checker.start();
    release?.();
    await stopped;
    await new Promise((resolve) => setTimeout(resolve, 55));
    await checker.stop();
    // One loop: about one check per 10 ms after the first round, not two.
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThan(9);
  });
});
