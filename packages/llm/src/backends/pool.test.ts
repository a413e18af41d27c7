import { describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/testkit/poll';
import {
  LlmError,
  type BackendKind,
  type ChatEvent,
  type ChatRequest,
  type LlmBackend,
} from '../llm.port.js';
import { BackendPool, type BackendPoolOptions, type PoolListener } from './pool.js';

// FAKES: in-memory backends whose every call the test scripts step by step (a delta, an error, the end),
// so that each case is decided by the order of events, never by how long something took.

type Item = ChatEvent | { error: unknown };

class FakeCall {
  private readonly items: Item[] = [];
  private wake: (() => void) | undefined;
  /** True once the pool let go of the stream (return() or the stream ended). */
  released = false;

  constructor(
    readonly request: ChatRequest,
    readonly signal: AbortSignal | undefined,
    private readonly ignoreAbort: boolean,
  ) {
    signal?.addEventListener('abort', () => this.wake?.());
  }

  delta(text: string): this {
    return this.push({ type: 'delta', text });
  }
  end(): this {
    return this.push({ type: 'end', finishReason: 'stop', promptTokens: 3, completionTokens: 2 });
  }
  fail(error: unknown): this {
    return this.push({ error });
  }
  answer(text: string): this {
    for (const word of text.split(' ')) this.delta(word);
    return this.end();
  }

  private push(item: Item): this {
    this.items.push(item);
    this.wake?.();
    return this;
  }

  async *stream(): AsyncGenerator<ChatEvent> {
    try {
      for (;;) {
        while (this.items.length === 0) {
          // A backend that honours its signal fails at once; one that ignores it keeps waiting, which is
          // what the pool must not be held up by.
          if (this.signal?.aborted && !this.ignoreAbort) throw this.signal.reason;
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
        const item = this.items.shift()!;
        if ('error' in item) throw item.error;
        yield item;
        if (item.type === 'end') return;
      }
    } finally {
      this.released = true;
    }
  }
}

class FakeBackend implements LlmBackend {
  readonly kind: BackendKind = 'openai';
  readonly calls: FakeCall[] = [];
  closed = false;
  ignoreAbort = false;
  /** Scripts each new call as it arrives; without one the test drives the call itself. */
  script: ((call: FakeCall) => void) | undefined;
  healthCalls = 0;
  healthImpl: (signal?: AbortSignal) => Promise<void> = () => Promise.resolve();

  constructor(
    readonly endpoint: string,
    readonly model = 'twin',
    readonly contextTokens?: number,
  ) {}

  chat(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatEvent> {
    const call = new FakeCall(request, signal, this.ignoreAbort);
    this.calls.push(call);
    this.script?.(call);
    return call.stream();
  }
  health(signal?: AbortSignal): Promise<void> {
    this.healthCalls++;
    return this.healthImpl(signal);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  get last(): FakeCall {
    const call = this.calls.at(-1);
    if (!call) throw new Error(`${this.endpoint} got no call`);
    return call;
  }
}

const answering = (endpoint: string, text = 'hello there'): FakeBackend => {
  const b = new FakeBackend(endpoint);
  b.script = (call) => call.answer(text);
  return b;
};

const request: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 16 };

interface Result {
  text: string;
  events: ChatEvent[];
  error: unknown;
}

/** Starts reading a request at once (the pool picks its backend on the first read) and collects it. */
function run(pool: BackendPool, signal?: AbortSignal): Promise<Result> {
  return (async () => {
    const events: ChatEvent[] = [];
    try {
      for await (const e of pool.chat(request, signal)) events.push(e);
      return { events, text: textOf(events), error: undefined };
    } catch (error) {
      return { events, text: textOf(events), error };
    }
  })();
}

const textOf = (events: ChatEvent[]): string =>
  events
    .filter((e): e is Extract<ChatEvent, { type: 'delta' }> => e.type === 'delta')
    .map((e) => e.text)
    .join(' ');

/** Lets pending promise callbacks and I/O run (no timing involved). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const unavailable = (msg = 'connection refused'): LlmError => new LlmError('unavailable', msg);

function recorder(): { listener: PoolListener; log: string[] } {
  const log: string[] = [];
  return {
    log,
    listener: {
      attemptFailed: (e) =>
        log.push(
          `failed ${e.endpoint} #${e.attempt} ${(e.error as LlmError).kind}${e.willRetry ? ' retry' : ''}`,
        ),
      retried: (e) => log.push(`retried ${e.from} -> ${e.to}`),
      circuitOpened: (e) => log.push(`open ${e.endpoint}`),
      circuitClosed: (e) => log.push(`closed ${e.endpoint}`),
      healthChanged: (e) => log.push(`${e.healthy ? 'healthy' : 'unhealthy'} ${e.endpoint}`),
      backendRemoved: (e) => log.push(`removed ${e.endpoint}${e.forced ? ' forced' : ''}`),
    },
  };
}

const pool = (backends: LlmBackend[], options: BackendPoolOptions = {}): BackendPool =>
  new BackendPool('twin', backends, options);

describe('BackendPool balancing', () => {
  it('sends a request to the backend with the fewest outstanding requests', async () => {
    const [a, b, c] = [new FakeBackend('a'), new FakeBackend('b'), new FakeBackend('c')];
    const p = pool([a, b, c]);
    const r1 = run(p);
    const r2 = run(p);
    const r3 = run(p);
    await settle();
    expect([a.calls.length, b.calls.length, c.calls.length]).toEqual([1, 1, 1]);

    // b finishes; a and c still hold one each, so the next two go to b, then to whichever is freer.
    b.last.answer('b1');
    expect((await r2).text).toBe('b1');
    const r4 = run(p);
    await settle();
    expect(b.calls).toHaveLength(2);
    a.last.answer('a1');
    c.last.answer('c1');
    b.last.answer('b2');
    expect(await Promise.all([r1, r3, r4])).toMatchObject([{ text: 'a1' }, { text: 'c1' }, { text: 'b2' }]);
    expect(p.snapshot().backends.map((s) => s.outstanding)).toEqual([0, 0, 0]);
  });

  it('breaks ties round-robin', async () => {
    const backends = [answering('a'), answering('b'), answering('c')];
    const p = pool(backends);
    for (let i = 0; i < 6; i++) expect((await run(p)).error).toBeUndefined();
    expect(backends.map((b) => b.calls.length)).toEqual([2, 2, 2]);
  });

  it('counts requests in flight, retries included once', async () => {
    const a = new FakeBackend('a');
    const b = new FakeBackend('b');
    const p = pool([a, b]);
    const r1 = run(p);
    const r2 = run(p);
    await settle();
    expect(p.inFlight).toBe(2);
    a.last.fail(unavailable());
    await settle();
    // a's request moved to b: still two requests, b holding both.
    expect(p.inFlight).toBe(2);
    expect(b.calls).toHaveLength(2);
    for (const call of b.calls) call.answer('ok');
    await Promise.all([r1, r2]);
    expect(p.inFlight).toBe(0);
  });
});

describe('BackendPool retries', () => {
  it('retries an unavailable backend on another one before the first token', async () => {
    const a = new FakeBackend('a');
    a.script = (call) => call.fail(unavailable());
    const b = answering('b', 'from b');
    const { listener, log } = recorder();
    const result = await run(pool([a, b], { listener }));
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('from b');
    expect(result.events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop' });
    expect(log).toEqual(['failed a #1 unavailable retry', 'retried a -> b']);
  });

  it('retries a backend that broke its stream before sending any text', async () => {
    const a = new FakeBackend('a');
    a.script = (call) => call.fail(new LlmError('interrupted', 'socket hang up'));
    const result = await run(pool([a, answering('b', 'fine')]));
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('fine');
  });

  it('retries when the first event does not come in time, and aborts the slow call', async () => {
    const a = new FakeBackend('a');
    const b = answering('b', 'quick');
    const { listener, log } = recorder();
    const result = await run(pool([a, b], { firstEventTimeoutMs: 20, listener }));
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('quick');
    expect(log[0]).toBe('failed a #1 timeout retry');
    expect(a.last.signal?.aborted).toBe(true);
  });

  it('does not retry once text reached the caller: the request ends as interrupted', async () => {
    const a = new FakeBackend('a');
    a.script = (call) => call.delta('half').fail(unavailable('connection reset'));
    const b = answering('b');
    const result = await run(pool([a, b]));
    expect(result.text).toBe('half');
    expect(result.error).toBeInstanceOf(LlmError);
    expect((result.error as LlmError).kind).toBe('interrupted');
    expect((result.error as LlmError).cause).toMatchObject({ kind: 'unavailable' });
    expect(b.calls).toHaveLength(0);
  });

  it('ends a stream that stalls after its first token as interrupted (idle timeout)', async () => {
    const a = new FakeBackend('a');
    a.script = (call) => call.delta('start');
    const b = answering('b');
    const result = await run(pool([a, b], { idleTimeoutMs: 20 }));
    expect(result.text).toBe('start');
    expect(result.error).toMatchObject({ kind: 'interrupted', cause: { kind: 'timeout' } });
    expect(a.last.signal?.aborted).toBe(true);
    expect(b.calls).toHaveLength(0);
  });

  it('does not take a consumer that holds each event longer than the idle timeout for a stalled backend', async () => {
    const a = answering('a', 'one two three');
    const events: ChatEvent[] = [];
    for await (const e of pool([a], { firstEventTimeoutMs: 30, idleTimeoutMs: 30 }).chat(request)) {
      events.push(e);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(textOf(events)).toBe('one two three');
    expect(events.at(-1)).toMatchObject({ type: 'end' });
  });

  it('does not hang on a stalled backend that ignores its abort signal', async () => {
    const a = new FakeBackend('a');
    a.ignoreAbort = true;
    a.script = (call) => call.delta('start');
    const result = await run(pool([a], { idleTimeoutMs: 20 }));
    expect(result.error).toMatchObject({ kind: 'interrupted' });
  });

  it('does not retry a rejected request, and does not count it against the backend', async () => {
    const a = new FakeBackend('a');
    const rejected = new LlmError('rejected', 'prompt too long');
    a.script = (call) => call.fail(rejected);
    const b = answering('b');
    const p = pool([a, b]);
    const result = await run(p);
    expect(result.error).toBe(rejected);
    expect(b.calls).toHaveLength(0);
    expect(p.snapshot().backends[0]).toMatchObject({
      endpoint: 'a',
      consecutiveFailures: 0,
      circuit: 'closed',
    });
  });

  it("gives up after maxAttempts and reports the last backend's error", async () => {
    const backends = ['a', 'b', 'c', 'd'].map((name) => {
      const b = new FakeBackend(name);
      b.script = (call) => call.fail(unavailable(`${name} is down`));
      return b;
    });
    const result = await run(pool(backends));
    // Default: as many attempts as backends, at most three, each on a different backend.
    expect(backends.map((b) => b.calls.length).sort()).toEqual([0, 1, 1, 1]);
    expect(result.error).toBeInstanceOf(LlmError);
    expect((result.error as LlmError).kind).toBe('unavailable');
    expect((result.error as LlmError).message).toMatch(/failed on 3 backend\(s\).*last error: \w is down/);
  });

  it('stops retrying after one attempt when maxAttempts is 1', async () => {
    const a = new FakeBackend('a');
    a.script = (call) => call.fail(new LlmError('timeout', 'slow'));
    const b = answering('b');
    const result = await run(pool([a, b], { maxAttempts: 1 }));
    expect(result.error).toMatchObject({ kind: 'timeout' });
    expect(b.calls).toHaveLength(0);
  });

  it("lets the caller's abort win: no retry, no failure counted, the backend call aborted", async () => {
    const a = new FakeBackend('a');
    const b = answering('b');
    const p = pool([a, b]);
    const caller = new AbortController();
    const pending = run(p, caller.signal);
    await settle();
    const reason = new Error('client went away');
    caller.abort(reason);
    const result = await pending;
    expect(result.error).toBe(reason);
    expect(a.last.signal?.aborted).toBe(true);
    expect(b.calls).toHaveLength(0);
    expect(p.snapshot().backends[0]).toMatchObject({ outstanding: 0, consecutiveFailures: 0 });
  });

  it("returns on the caller's abort even when the backend ignores its signal", async () => {
    const a = new FakeBackend('a');
    a.ignoreAbort = true;
    a.script = (call) => call.delta('partial');
    const caller = new AbortController();
    const p = pool([a]);
    const pending = run(p, caller.signal);
    await settle();
    caller.abort(new Error('bye'));
    const result = await pending;
    expect(result.text).toBe('partial');
    expect(result.error).toMatchObject({ message: 'bye' });
    expect(p.inFlight).toBe(0);
  });

  it('releases the backend stream when the caller stops reading early', async () => {
    const a = new FakeBackend('a');
    a.script = (call) => call.delta('one').delta('two');
    const p = pool([a]);
    for await (const event of p.chat(request)) {
      expect(event).toEqual({ type: 'delta', text: 'one' });
      break;
    }
    await settle();
    expect(a.last.released).toBe(true);
    expect(a.last.signal?.aborted).toBe(true);
    expect(p.snapshot().backends[0]).toMatchObject({ outstanding: 0, consecutiveFailures: 0 });
  });

  it('treats a stream that ends without its end event as broken', async () => {
    const a = new FakeBackend('a');
    a.chat = async function* () {
      await Promise.resolve();
      yield* [];
    };
    const result = await run(pool([a, answering('b', 'whole')]));
    expect(result.text).toBe('whole');
  });

  it('survives a listener that throws', async () => {
    const a = new FakeBackend('a');
    a.script = (call) => call.fail(unavailable());
    const listener: PoolListener = {
      attemptFailed: () => {
        throw new Error('bug in a metrics hook');
      },
    };
    const result = await run(pool([a, answering('b', 'still fine')], { listener }));
    expect(result.text).toBe('still fine');
  });
});

describe('BackendPool circuit breaker', () => {
  it('opens after consecutive failures, lets one trial through after the cooldown, re-opens or closes', async () => {
    let now = 1_000;
    const a = new FakeBackend('a');
    const { listener, log } = recorder();
    const p = pool([a], { failureThreshold: 2, cooldownMs: 10_000, now: () => now, listener });

    a.script = (call) => call.fail(unavailable());
    await run(p);
    expect(p.snapshot().backends[0]).toMatchObject({ circuit: 'closed', consecutiveFailures: 1 });
    await run(p);
    expect(p.snapshot().backends[0]).toMatchObject({ circuit: 'open', eligible: false });
    expect(log).toContain('open a');

    // Open: the backend is not even called.
    const refused = await run(p);
    expect(refused.error).toMatchObject({ kind: 'unavailable' });
    expect((refused.error as Error).message).toMatch(/a \(circuit open for another 10 s\)/);
    expect(a.calls).toHaveLength(2);

    // Cooldown over: half-open, exactly one trial at a time.
    now += 10_000;
    expect(p.snapshot().backends[0]?.circuit).toBe('half-open');
    a.script = undefined;
    const trial = run(p);
    await settle();
    expect(a.calls).toHaveLength(3);
    const second = await run(p);
    expect((second.error as Error).message).toMatch(/trial request in flight/);
    a.last.fail(unavailable());
    expect((await trial).error).toMatchObject({ kind: 'unavailable' });
    expect(p.snapshot().backends[0]?.circuit).toBe('open');

    // A successful trial closes it.
    now += 10_000;
    a.script = (call) => call.answer('back');
    expect((await run(p)).text).toBe('back');
    expect(p.snapshot().backends[0]).toMatchObject({ circuit: 'closed', consecutiveFailures: 0 });
    expect(log.filter((l) => l === 'open a')).toHaveLength(2);
    expect(log.filter((l) => l === 'closed a')).toHaveLength(1);
  });

  it('sends traffic to the other backends while one circuit is open', async () => {
    const now = 0;
    const a = new FakeBackend('a');
    a.script = (call) => call.fail(unavailable());
    const b = answering('b');
    const p = pool([a, b], { failureThreshold: 1, now: () => now });
    expect((await run(p)).error).toBeUndefined();
    expect(p.snapshot().backends[0]?.circuit).toBe('open');
    for (let i = 0; i < 4; i++) expect((await run(p)).error).toBeUndefined();
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(5);
  });

  it('frees the trial slot when the trial caller goes away without a verdict', async () => {
    let now = 0;
    const a = new FakeBackend('a');
    a.script = (call) => call.fail(unavailable());
    const p = pool([a], { failureThreshold: 1, cooldownMs: 100, now: () => now });
    await run(p);
    now += 100;
    a.script = undefined;
    const caller = new AbortController();
    const trial = run(p, caller.signal);
    await settle();
    caller.abort(new Error('gone'));
    await trial;
    expect(p.snapshot().backends[0]).toMatchObject({ circuit: 'half-open', eligible: true });
  });
});

describe('BackendPool health checks', () => {
  it('excludes a backend whose health check fails and re-admits it once it passes', async () => {
    const a = answering('a', 'from a');
    const b = answering('b', 'from b');
    const { listener, log } = recorder();
    const p = pool([a, b], { listener });
    a.healthImpl = () => Promise.reject(unavailable('503'));
    await p.checkHealth();
    expect(p.snapshot().backends.map((s) => [s.endpoint, s.healthy])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    for (let i = 0; i < 3; i++) expect((await run(p)).text).toBe('from b');
    expect(a.calls).toHaveLength(0);

    a.healthImpl = () => Promise.resolve();
    await p.checkHealth();
    const texts = [(await run(p)).text, (await run(p)).text];
    expect(texts).toContain('from a');
    expect(log).toEqual(['unhealthy a', 'healthy a']);
  });

  it('counts a health check that does not answer in time as failed', async () => {
    const a = new FakeBackend('a');
    let signal: AbortSignal | undefined;
    a.healthImpl = (s) => {
      signal = s;
      return new Promise(() => undefined);
    };
    const p = pool([a], { healthTimeoutMs: 20 });
    await p.checkHealth();
    expect(p.snapshot().backends[0]?.healthy).toBe(false);
    expect(signal?.aborted).toBe(true);
    await expect(p.health()).rejects.toThrow(/a \(unhealthy\)/);
  });

  it('never runs two checks of the same backend at once', async () => {
    const a = new FakeBackend('a');
    let release!: () => void;
    a.healthImpl = () => new Promise<void>((resolve) => (release = resolve));
    const p = pool([a], { healthTimeoutMs: 60_000 });
    const first = p.checkHealth();
    const second = p.checkHealth();
    expect(a.healthCalls).toBe(1);
    release();
    await Promise.all([first, second]);
    a.healthImpl = () => Promise.resolve();
    await p.checkHealth();
    expect(a.healthCalls).toBe(2);
  });

  it('checks periodically between start() and stop()', async () => {
    const a = new FakeBackend('a');
    const p = pool([a], { healthIntervalMs: 5 });
    p.start();
    // The pool reaches it through its own timers.
    await poll(() => a.healthCalls >= 3, { what: 'three health checks', intervalMs: 5 });
    await p.stop();
    const after = a.healthCalls;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(a.healthCalls).toBe(after);
  });
});

describe('BackendPool draining', () => {
  it('stops new requests to a removed backend, waits for its in-flight ones, then closes it', async () => {
    const a = new FakeBackend('a');
    const b = answering('b', 'from b');
    const { listener, log } = recorder();
    const p = pool([a, b], { listener });
    const inFlight = run(p);
    await settle();
    expect(a.calls).toHaveLength(1);

    let removed = false;
    const removing = p.remove('a').then((found) => {
      removed = found;
    });
    await settle();
    expect(p.snapshot().backends[0]).toMatchObject({ endpoint: 'a', draining: true, outstanding: 1 });
    for (let i = 0; i < 3; i++) expect((await run(p)).text).toBe('from b');
    expect(a.calls).toHaveLength(1);
    expect(removed).toBe(false);
    expect(a.closed).toBe(false);

    a.last.answer('finished on a');
    expect((await inFlight).text).toBe('finished on a');
    await removing;
    expect(removed).toBe(true);
    expect(a.closed).toBe(true);
    expect(p.snapshot().backends.map((s) => s.endpoint)).toEqual(['b']);
    expect(log).toContain('removed a');
  });

  it('aborts what is still running when the drain timeout runs out; unstarted requests move on', async () => {
    const a = new FakeBackend('a');
    const b = answering('b', 'moved to b');
    const p = pool([a, b], { drainTimeoutMs: 20 });
    const first = run(p);
    await settle();
    expect(a.calls).toHaveLength(1);
    await p.remove('a');
    expect(a.closed).toBe(true);
    // The request had streamed nothing, so the pool retried it on b.
    expect((await first).text).toBe('moved to b');
  });

  it('close() drains every backend and refuses new requests', async () => {
    const a = new FakeBackend('a');
    const b = new FakeBackend('b');
    const p = pool([a, b]);
    const pending = run(p);
    await settle();
    const closing = p.close();
    await settle();
    expect((await run(p)).error).toMatchObject({
      kind: 'unavailable',
      message: expect.stringMatching(/closed/),
    });
    expect(b.closed).toBe(true);
    expect(a.closed).toBe(false);
    a.last.answer('last words');
    expect((await pending).text).toBe('last words');
    await closing;
    expect(a.closed).toBe(true);
  });

  it('replace() puts new backends in and drains the old ones', async () => {
    const a = new FakeBackend('a');
    const p = pool([a]);
    const old = run(p);
    await settle();
    const a2 = answering('a', 'new a');
    const replacing = p.replace([a2, answering('c', 'new c')]);
    expect((await run(p)).text).toMatch(/^new [ac]$/);
    a.last.answer('old a');
    expect((await old).text).toBe('old a');
    await replacing;
    expect(a.closed).toBe(true);
    expect(a2.closed).toBe(false);
    expect(p.snapshot().backends.map((s) => s.endpoint)).toEqual(['a', 'c']);
  });

  it('refuses a backend of another model or a duplicate endpoint', () => {
    const p = pool([new FakeBackend('a')]);
    expect(() => p.add(new FakeBackend('b', 'other-model'))).toThrow(/serves model "other-model"/);
    expect(() => p.add(new FakeBackend('a'))).toThrow(/already in the pool/);
  });
});

describe('BackendPool with no eligible backend', () => {
  it('says which backends there are and why none can serve', async () => {
    const now = 0;
    const a = new FakeBackend('http://a');
    a.healthImpl = () => Promise.reject(unavailable());
    const b = new FakeBackend('http://b');
    b.script = (call) => call.fail(unavailable());
    const c = new FakeBackend('http://c');
    const p = pool([a, b, c], { failureThreshold: 1, now: () => now });
    await p.checkHealth();
    // b fails once (circuit opens), the request retries on c and stays there.
    const onC = run(p);
    await settle();
    expect(c.calls).toHaveLength(1);
    const removing = p.remove('http://c');
    await settle();

    const result = await run(p);
    expect(result.error).toBeInstanceOf(LlmError);
    const error = result.error as LlmError;
    expect(error.kind).toBe('unavailable');
    expect(error.message).toContain('model "twin"');
    expect(error.message).toContain('http://a (unhealthy)');
    expect(error.message).toMatch(/http:\/\/b \(circuit open for another \d+ s\)/);
    expect(error.message).toContain('http://c (draining)');
    await expect(p.health()).rejects.toThrow(error.message);
    expect(p.snapshot().healthy).toBe(false);

    c.last.answer('done');
    expect((await onC).text).toBe('done');
    await removing;
  });

  it('reports its own state through the port: kind, endpoints, smallest context window', async () => {
    const p = pool([
      new FakeBackend('a', 'twin', 8192),
      new FakeBackend('b', 'twin', 4096),
      new FakeBackend('c'),
    ]);
    expect(p.model).toBe('twin');
    expect(p.kind).toBe('openai');
    expect(p.endpoint).toBe('a, b, c');
    expect(p.contextTokens).toBe(4096);
    await expect(p.health()).resolves.toBeUndefined();
    expect(p.snapshot()).toMatchObject({ model: 'twin', healthy: true, inFlight: 0 });
  });
});
