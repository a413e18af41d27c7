import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime';
import type { BackendKind, ChatEvent, ChatRequest, LlmBackend } from '../llm.port.js';
import { ModelRouter } from './model-router.js';

// FAKE backend: answers with a fixed text, or holds its answer until the test releases it, so that a
// drain can be watched while a request is still streaming.
class FakeBackend implements LlmBackend {
  readonly kind: BackendKind = 'openai';
  closed = false;
  private readonly held: (() => void)[] = [];
  hold = false;

  constructor(
    readonly model: string,
    readonly endpoint: string,
    readonly contextTokens?: number,
  ) {}

  async *chat(_request: ChatRequest, _signal?: AbortSignal): AsyncGenerator<ChatEvent> {
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    yield { type: 'delta', text: `${this.model}@${this.endpoint}` };
    yield { type: 'end', finishReason: 'stop' };
  }
  health(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
}

const request: ChatRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 8 };

async function answer(backend: LlmBackend): Promise<string> {
  let text = '';
  for await (const e of backend.chat(request)) if (e.type === 'delta') text += e.text;
  return text;
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('ModelRouter', () => {
  it('resolves a named model, and the default one when none is named', async () => {
    const router = new ModelRouter({ defaultModel: 'twin-v2' });
    await router.upsert('twin-v1', [new FakeBackend('twin-v1', 'http://a')]);
    await router.upsert('twin-v2', [new FakeBackend('twin-v2', 'http://b')]);
    expect(await answer(router.resolve('twin-v1'))).toBe('twin-v1@http://a');
    expect(await answer(router.resolve())).toBe('twin-v2@http://b');
    expect(await answer(router.resolve(''))).toBe('twin-v2@http://b');
    await router.close();
  });

  it('uses the first model added as the default when none is configured', async () => {
    const router = new ModelRouter();
    expect(() => router.resolve()).toThrow(/no model is configured/);
    await router.upsert('first', [new FakeBackend('first', 'http://a')]);
    await router.upsert('second', [new FakeBackend('second', 'http://b')]);
    expect(router.defaultModel).toBe('first');
    expect(router.resolve().model).toBe('first');
    await router.close();
  });

  it('answers an unknown model with a not-found error that lists the models served', async () => {
    const router = new ModelRouter({ defaultModel: 'gone' });
    await router.upsert('twin-v1', [new FakeBackend('twin-v1', 'http://a')]);
    await router.upsert('twin-v2', [new FakeBackend('twin-v2', 'http://b')]);
    let error: unknown;
    try {
      router.resolve('twin-v9');
    } catch (err) {
      error = err;
    }
    expect(isDomainError(error, 'not-found')).toBe(true);
    expect((error as Error).message).toBe(
      'model "twin-v9" is not served here (models served: twin-v1, twin-v2)',
    );
    expect(() => router.resolve()).toThrow('the default model "gone" is not served here');
    await router.close();
  });

  it('lists its models for ListModels', async () => {
    const router = new ModelRouter({ defaultModel: 'twin-v2' });
    await router.upsert('twin-v1', [new FakeBackend('twin-v1', 'http://a', 4096)]);
    await router.upsert('twin-v2', [
      new FakeBackend('twin-v2', 'http://b'),
      new FakeBackend('twin-v2', 'http://c'),
    ]);
    expect(router.models()).toEqual([
      { id: 'twin-v1', kind: 'openai', contextTokens: 4096, healthy: true, backends: 1, isDefault: false },
      { id: 'twin-v2', kind: 'openai', healthy: true, backends: 2, isDefault: true },
    ]);
    await router.close();
  });

  it("replaces a model's backends: new requests go to the new ones, the old ones drain, then close", async () => {
    const router = new ModelRouter();
    const old = new FakeBackend('twin', 'http://old');
    old.hold = true;
    await router.upsert('twin', [old]);
    const pool = router.resolve('twin');
    const streaming = answer(pool);
    await settle();

    const fresh = new FakeBackend('twin', 'http://new');
    let replaced = false;
    const replacing = router.upsert('twin', [fresh]).then(() => (replaced = true));
    expect(await answer(router.resolve('twin'))).toBe('twin@http://new');
    await settle();
    expect(replaced).toBe(false);
    expect(old.closed).toBe(false);

    old.release();
    expect(await streaming).toBe('twin@http://old');
    await replacing;
    expect(old.closed).toBe(true);
    expect(router.models()).toMatchObject([{ id: 'twin', backends: 1 }]);
    await router.close();
    expect(fresh.closed).toBe(true);
  });

  it('removes a retired model after its requests finish', async () => {
    const router = new ModelRouter();
    const backend = new FakeBackend('old-twin', 'http://a');
    backend.hold = true;
    await router.upsert('old-twin', [backend]);
    const streaming = answer(router.resolve('old-twin'));
    await settle();
    const removing = router.removeModel('old-twin');
    expect(() => router.resolve('old-twin')).toThrow(/not served here/);
    backend.release();
    expect(await streaming).toBe('old-twin@http://a');
    expect(await removing).toBe(true);
    expect(backend.closed).toBe(true);
    expect(await router.removeModel('old-twin')).toBe(false);
    await router.close();
  });

  it('refuses a model without backends and backends of another model', async () => {
    const router = new ModelRouter();
    await expect(router.upsert('twin', [])).rejects.toThrow(/at least one backend/);
    await expect(router.upsert('twin', [new FakeBackend('other', 'http://a')])).rejects.toThrow(
      /serves model "other"/,
    );
    await router.close();
  });

  it('counts requests in flight across models and refuses work once closed', async () => {
    const router = new ModelRouter();
    const a = new FakeBackend('a', 'http://a');
    const b = new FakeBackend('b', 'http://b');
    a.hold = b.hold = true;
    await router.upsert('a', [a]);
    await router.upsert('b', [b]);
    const pending = [answer(router.resolve('a')), answer(router.resolve('b'))];
    await settle();
    expect(router.inFlight).toBe(2);
    const closing = router.close();
    expect(() => router.resolve('a')).toThrow(/shutting down/);
    a.release();
    b.release();
    await Promise.all(pending);
    await closing;
    expect(router.inFlight).toBe(0);
    expect([a.closed, b.closed]).toEqual([true, true]);
    await expect(router.upsert('c', [new FakeBackend('c', 'http://c')])).rejects.toThrow(/closed/);
  });
});
