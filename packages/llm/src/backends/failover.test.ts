// Failover over real HTTP on loopback: a pool of two OpenAI backends in front of two fake OpenAI-compatible
// servers (@llmtwin/testkit/fakes, a FAKE that streams a scripted answer and can crash on demand).
// What is checked is what a client of the router would see when a GPU server dies: requests that had not
// started streaming are moved to the survivor, those that had end with a clean 'interrupted', and none
// hangs. The assertions are on counts and kinds of outcomes, never on durations.
import { afterEach, describe, expect, it } from '@jest/globals';
import { startFakeOpenAiServer, type FakeOpenAiOptions, type FakeOpenAiServer } from '@llmtwin/testkit/fakes';
import { poll } from '@llmtwin/testkit/poll';
import { LlmError, type ChatRequest } from '../llm.port.js';
import { OpenAiBackend } from './openai-backend.js';
import { BackendPool, type BackendPoolOptions } from './pool.js';

const servers: FakeOpenAiServer[] = [];
const pools: BackendPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.kill()));
});

/** A fake server whose answer names it, so that a client can tell which server a stream came from. */
async function serve(name: string, options: FakeOpenAiOptions = {}): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer({
    reply: () => Array.from({ length: 20 }, (_, i) => `${name}${i}`).join(' '),
    ...options,
  });
  servers.push(server);
  return server;
}

function poolOver(list: FakeOpenAiServer[], options: BackendPoolOptions = {}): BackendPool {
  const pool = new BackendPool(
    'twin',
    list.map((s) => new OpenAiBackend({ model: 'twin', baseUrl: s.url })),
    // Generous bounds: they only have to turn a hang into a failure, not to fire in a healthy run.
    { firstEventTimeoutMs: 10_000, idleTimeoutMs: 10_000, drainTimeoutMs: 5_000, ...options },
  );
  pools.push(pool);
  return pool;
}

const request: ChatRequest = { messages: [{ role: 'user', content: 'tell me' }], maxTokens: 64 };

type Outcome =
  | { status: 'ok'; text: string }
  | { status: 'failed'; text: string; error: unknown }
  | { status: 'hung'; text: string };

interface Tracked {
  /** Text received so far; non-empty once the request started streaming. */
  text: string;
  done: Promise<Outcome>;
}

/**
 * Runs one request, bounded: a request still unsettled after `boundMs` counts as hung (and is aborted)
 * instead of stalling the test until jest's own timeout.
 */
function track(pool: BackendPool, boundMs = 20_000): Tracked {
  const caller = new AbortController();
  const tracked: Tracked = { text: '', done: Promise.resolve({ status: 'hung', text: '' }) };
  const read = (async (): Promise<Outcome> => {
    try {
      for await (const e of pool.chat(request, caller.signal)) if (e.type === 'delta') tracked.text += e.text;
      return { status: 'ok', text: tracked.text };
    } catch (error) {
      return { status: 'failed', text: tracked.text, error };
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      caller.abort(new Error('hung'));
      resolve({ status: 'hung', text: tracked.text });
    }, boundMs);
  });
  tracked.done = Promise.race([read, bound]).finally(() => clearTimeout(timer));
  return tracked;
}

const kindOf = (err: unknown): string =>
  err instanceof LlmError ? err.kind : `not an LlmError: ${String(err)}`;

describe('BackendPool failover over HTTP', () => {
  it('loses no request that had not started streaming when a server dies under load', async () => {
    const total = 200;
    const concurrency = 20;
    const a = await serve('A', { firstTokenDelayMs: 5, tokenDelayMs: 1 });
    const b = await serve('B', { firstTokenDelayMs: 5, tokenDelayMs: 1 });
    let retried = 0;
    const pool = poolOver([a, b], { listener: { retried: () => void retried++ } });

    const running = new Set<Tracked>();
    const outcomes: Outcome[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const t = track(pool);
        running.add(t);
        outcomes.push(await t.done);
        running.delete(t);
      }
    };
    const load = Promise.all(Array.from({ length: concurrency }, worker));

    // Kill A part-way, at a moment when it both streams to a client (that request must end 'interrupted')
    // and holds a request whose first token it has not sent yet (that one must move to B and succeed).
    // Checked often: the moment is brief.
    await poll(
      () =>
        outcomes.length >= 20 &&
        [...running].some((t) => t.text.startsWith('A')) &&
        a.chatRequests.some((r) => r.outcome === 'pending' && r.tokensSent === 0),
      { what: 'A streaming one request and holding another before its first token', intervalMs: 2 },
    );
    await a.kill();
    await load;

    expect(outcomes).toHaveLength(total);
    expect(outcomes.filter((o) => o.status === 'hung')).toEqual([]);
    // Not one request failed before it had streamed something.
    expect(outcomes.filter((o) => o.status !== 'ok' && o.text === '')).toEqual([]);
    // Every failure is a clean 'interrupted' of a stream that came from A.
    const failed = outcomes.filter((o): o is Extract<Outcome, { status: 'failed' }> => o.status === 'failed');
    expect(failed.map((o) => kindOf(o.error))).toEqual(failed.map(() => 'interrupted'));
    expect(failed.every((o) => o.text.startsWith('A'))).toBe(true);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    // ...and only one that A had started answering when it died (the fake marks those 'killed').
    const cutByKill = a.chatRequests.filter((r) => r.outcome === 'killed' && r.tokensSent > 0).length;
    expect(failed.length).toBeLessThanOrEqual(cutByKill);
    expect(outcomes.filter((o) => o.status === 'ok')).toHaveLength(total - failed.length);
    // Whole answers only: a retried request never mixes text from two servers.
    for (const o of outcomes.filter((x) => x.status === 'ok')) {
      expect(o.text).toMatch(/^(A0 A1 .* A19|B0 B1 .* B19)$/);
    }
    expect(retried).toBeGreaterThanOrEqual(1);
    expect(pool.inFlight).toBe(0);
  });

  it('ends a stream whose server dies mid-answer with a clean interrupted error', async () => {
    const a = await serve('A', { dieAfterTokens: 3 });
    const b = await serve('B');
    const pool = poolOver([a, b]);
    const outcome = await track(pool).done;
    expect(outcome.status).toBe('failed');
    expect(outcome.text).toBe('A0 A1 A2');
    expect(kindOf((outcome as { error: unknown }).error)).toBe('interrupted');
    // Text had reached the caller, so the pool did not try B.
    expect(b.chatRequests).toHaveLength(0);
    expect(pool.snapshot().backends.map((s) => s.outstanding)).toEqual([0, 0]);
  });

  it('moves a request to the other server when its server dies before the first token', async () => {
    const a = await serve('A', { dieAfterTokens: 0 });
    const b = await serve('B');
    const pool = poolOver([a, b]);
    const outcome = await track(pool).done;
    expect(outcome).toMatchObject({ status: 'ok' });
    expect(outcome.text).toMatch(/^B0 B1 .* B19$/);
    expect(a.chatRequests).toHaveLength(1);
  });

  it('moves a request to the other server on 503, and does not retry a 400', async () => {
    const a = await serve('A', { failWith: 503 });
    const b = await serve('B');
    const pool = poolOver([a, b]);
    expect((await track(pool).done).text).toMatch(/^B0/);

    const c = await serve('C', { failWith: 400 });
    const d = await serve('D');
    const refused = await track(poolOver([c, d])).done;
    expect(refused.status).toBe('failed');
    expect(kindOf((refused as { error: unknown }).error)).toBe('rejected');
    expect(d.chatRequests).toHaveLength(0);
  });

  it('ends a stalled stream through the idle timeout and drops the upstream request', async () => {
    const a = await serve('A', { stallAfterTokens: 2 });
    const pool = poolOver([a], { idleTimeoutMs: 200 });
    const outcome = await track(pool).done;
    expect(outcome.status).toBe('failed');
    expect(outcome.text).toBe('A0 A1');
    const error = (outcome as { error: unknown }).error as LlmError;
    expect(error.kind).toBe('interrupted');
    expect((error.cause as LlmError).kind).toBe('timeout');
    // The abort reached the HTTP request: the server saw its client go away.
    await poll(() => a.chatRequests[0]?.outcome === 'client-closed', {
      what: 'the server to see the client leave',
      intervalMs: 2,
    });
  });
});
