import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { baseConfigSchema, loadConfig } from './config.js';
import { runService, Shutdown, ShutdownOrder, type ProcessLike } from './lifecycle.js';
import { createLogger } from './logger.js';

const silent = createLogger('lifecycle-test', { level: 'silent' });

function fakeProcess() {
  const emitter = new EventEmitter();
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  const codes: number[] = [];
  const proc: ProcessLike & { emit(event: string, ...args: unknown[]): boolean } = {
    on: (event, listener) => emitter.on(event, listener),
    off: (event, listener) => emitter.off(event, listener),
    emit: (event, ...args) => emitter.emit(event, ...args),
    exit: (code) => {
      codes.push(code);
      resolveExit(code);
    },
  };
  return { proc, exited, codes, listeners: (event: string) => emitter.listenerCount(event) };
}

function config(overrides: Record<string, string> = {}) {
  return loadConfig(baseConfigSchema, { SHUTDOWN_TIMEOUT_MS: '5000', ...overrides });
}

describe('Shutdown', () => {
  it('runs steps by order, equal orders together, and each only once', async () => {
    const log: string[] = [];
    const shutdown = new Shutdown(silent)
      .add('adapters', () => void log.push('adapters'), ShutdownOrder.adapters)
      .add('health', () => void log.push('health'), ShutdownOrder.health)
      .add(
        'consumer-a',
        async () => {
          log.push('consumer-a:start');
          await Promise.resolve();
          log.push('consumer-a:end');
        },
        ShutdownOrder.consumers,
      )
      .add('consumer-b', () => void log.push('consumer-b'), ShutdownOrder.consumers)
      .add('server', () => void log.push('server'), ShutdownOrder.server);
    await Promise.all([shutdown.run(), shutdown.run()]);
    expect(log).toEqual(['health', 'server', 'consumer-a:start', 'consumer-b', 'consumer-a:end', 'adapters']);
    expect(() => shutdown.add('late', () => undefined)).toThrow('shutdown has begun');
  });

  it('keeps going after a failed step and reports it at the end', async () => {
    const log: string[] = [];
    const shutdown = new Shutdown(silent)
      .add('consumers', () => Promise.reject(new Error('commit failed')), ShutdownOrder.consumers)
      .add('adapters', () => void log.push('adapters'), ShutdownOrder.adapters);
    await expect(shutdown.run()).rejects.toThrow('1 shutdown step(s) failed');
    expect(log).toEqual(['adapters']);
  });
});

describe('runService', () => {
  it('shuts down in order on SIGTERM and exits 0', async () => {
    const { proc, exited, listeners } = fakeProcess();
    const log: string[] = [];
    let signal: AbortSignal | undefined;
    await runService({
      name: 'lifecycle-test',
      config: config(),
      env: {},
      logger: silent,
      process: proc,
      async start(ctx) {
        signal = ctx.signal;
        ctx.shutdown
          .add('health', () => void log.push('health'), ShutdownOrder.health)
          .add('server', () => void log.push('server'), ShutdownOrder.server)
          .add('consumers', () => void log.push('consumers'), ShutdownOrder.consumers);
        return { stop: async () => void log.push('stop') };
      },
    });
    expect(signal?.aborted).toBe(false);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(0);
    expect(signal?.aborted).toBe(true);
    expect(log).toEqual(['stop', 'health', 'server', 'consumers']);
    expect(listeners('SIGTERM')).toBe(0);
  });

  it('exits 1 at once on a second signal', async () => {
    const { proc, exited } = fakeProcess();
    await runService({
      name: 'lifecycle-test',
      config: config(),
      env: {},
      logger: silent,
      process: proc,
      async start(ctx) {
        ctx.shutdown.add('stuck', () => new Promise<void>(() => undefined));
      },
    });
    proc.emit('SIGTERM', 'SIGTERM');
    proc.emit('SIGINT', 'SIGINT');
    expect(await exited).toBe(1);
  });

  it('exits 1 when the shutdown outlives SHUTDOWN_TIMEOUT_MS', async () => {
    const { proc, exited } = fakeProcess();
    await runService({
      name: 'lifecycle-test',
      config: config({ SHUTDOWN_TIMEOUT_MS: '10' }),
      env: {},
      logger: silent,
      process: proc,
      async start(ctx) {
        ctx.shutdown.add('stuck', () => new Promise<void>(() => undefined));
      },
    });
    proc.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(1);
  });

  it('exits 1 when start fails, after running what was registered', async () => {
    const { proc, exited } = fakeProcess();
    const log: string[] = [];
    await runService({
      name: 'lifecycle-test',
      config: config(),
      env: {},
      logger: silent,
      process: proc,
      async start(ctx) {
        ctx.shutdown.add('adapters', () => void log.push('adapters'));
        throw new Error('mongo unreachable');
      },
    });
    expect(await exited).toBe(1);
    expect(log).toEqual(['adapters']);
  });

  it('exits 1 on a configuration error without starting', async () => {
    const { proc, exited } = fakeProcess();
    let started = false;
    await runService({
      name: 'lifecycle-test',
      config: () => loadConfig(baseConfigSchema, { PORT: 'eighty' }),
      logger: silent,
      process: proc,
      async start() {
        started = true;
      },
    });
    expect(await exited).toBe(1);
    expect(started).toBe(false);
  });
});
