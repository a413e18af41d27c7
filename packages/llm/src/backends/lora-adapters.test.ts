// Per-author LoRA adapters on GPU servers, against FAKE servers that record what they were sent (no vLLM or
// TGI runs here): vLLM loads an adapter at runtime once and is then asked for it by name, and unloads it
// when the adapter is released; TGI gets the adapter's id in the generate parameters. The in-process
// backend applies a real GGUF adapter in local-backend-lora.test.ts.
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  startFakeOpenAiServer,
  startFakeTgiServer,
  type FakeOpenAiServer,
  type FakeTgiServer,
} from '@llmtwin/testkit/fakes';
import { ask, collect, failure, kindOf } from './backend-test-helpers.js';
import { parseBackendSpecs, createBackend } from './backend-spec.js';
import { OpenAiBackend } from './openai-backend.js';
import { TgiBackend } from './tgi-backend.js';
import { BackendPool } from './pool.js';

const servers: (FakeOpenAiServer | FakeTgiServer)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill()));
});

const janeAdapter = { id: 'mv_jane_2', name: 'jane-twin-v2' };

async function fakeVllm(): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer({
    models: ['base'],
    reply: (call) => `answered by ${call.model}`,
  });
  servers.push(server);
  return server;
}

describe('LoRA adapters on a vLLM server (fake)', () => {
  it('loads the adapter once before its first request, asks for it by name, and unloads it on release', async () => {
    const server = await fakeVllm();
    const backend = new OpenAiBackend({
      model: 'twin',
      upstreamModel: 'base',
      baseUrl: server.url,
      loraRoot: '/adapters/',
    });

    const stock = await collect(backend.chat(ask('hi')));
    expect(stock.text).toBe('answered by base');
    expect(server.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);

    const [a, b] = await Promise.all([
      collect(backend.chat(ask('hi', { adapter: janeAdapter }))),
      collect(backend.chat(ask('hello', { adapter: janeAdapter }))),
    ]);
    expect(a.text).toBe('answered by jane-twin-v2');
    expect(b.text).toBe('answered by jane-twin-v2');
    const loads = server.requests.filter((r) => r.path === '/v1/load_lora_adapter');
    expect(loads.map((r) => r.body)).toEqual([
      { lora_name: 'jane-twin-v2', lora_path: '/adapters/jane-twin-v2' },
    ]);
    expect([...server.loras]).toEqual([['jane-twin-v2', '/adapters/jane-twin-v2']]);

    await backend.releaseAdapter('mv_jane_2');
    expect(server.requests.at(-1)).toMatchObject({
      path: '/v1/unload_lora_adapter',
      body: { lora_name: 'jane-twin-v2' },
    });
    expect(server.loras.size).toBe(0);
    // Releasing what this backend never loaded sends nothing.
    const sent = server.requests.length;
    await backend.releaseAdapter('mv_other');
    expect(server.requests.length).toBe(sent);
  });

  it('takes an adapter another replica already loaded, and loads again after a failed load', async () => {
    const server = await fakeVllm();
    const other = new OpenAiBackend({ model: 'twin', baseUrl: server.url, loraRoot: '/adapters' });
    await collect(other.chat(ask('hi', { adapter: janeAdapter })));
    const backend = new OpenAiBackend({ model: 'twin', baseUrl: server.url, loraRoot: '/adapters' });
    expect((await collect(backend.chat(ask('hi', { adapter: janeAdapter })))).text).toBe(
      'answered by jane-twin-v2',
    );

    // An adapter whose folder name the server refuses (the fake requires a path): the load fails as
    // rejected, and the next request tries the load again rather than remembering the failure.
    const broken = { id: 'mv_x', name: '' };
    const first = await failure(backend.chat(ask('hi', { adapter: broken })));
    expect(kindOf(first.err)).toBe('rejected');
    expect(String((first.err as Error).message)).toMatch(/lora_name/);
    await failure(backend.chat(ask('hi', { adapter: broken })));
    expect(
      server.requests.filter((r) => r.path === '/v1/load_lora_adapter' && r.body?.lora_name === ''),
    ).toHaveLength(2);
  });

  it('without lora_root asks for the adapter by name only (a server started with --lora-modules)', async () => {
    const server = await fakeVllm();
    const [spec] = parseBackendSpecs(`twin=openai+${server.url}`)[0]!.backends;
    const backend = createBackend(spec!);
    const res = await failure(backend.chat(ask('hi', { adapter: janeAdapter })));
    // The fake serves only "base": the request named the adapter and nothing was loaded.
    expect(kindOf(res.err)).toBe('rejected');
    expect(server.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
    expect(server.chatRequests[0]!.body?.model).toBe('jane-twin-v2');
  });

  it('lora_root is read from the backend entry, and a pool releases the adapter on every backend', async () => {
    const one = await fakeVllm();
    const two = await fakeVllm();
    const [model] = parseBackendSpecs(
      `twin=openai+${one.url};lora_root=/srv/loras,twin=openai+${two.url};lora_root=/srv/loras`,
    );
    expect(model!.backends.map((b) => (b.kind === 'openai' ? b.loraRoot : ''))).toEqual([
      '/srv/loras',
      '/srv/loras',
    ]);
    expect(() => parseBackendSpecs(`twin=openai+${one.url};lora_root=loras`)).toThrow(/absolute folder/);
    const pool = new BackendPool(
      'twin',
      model!.backends.map((b) => createBackend(b)),
    );
    await collect(pool.chat(ask('a', { adapter: janeAdapter })));
    await collect(pool.chat(ask('b', { adapter: janeAdapter })));
    expect(one.loras.size + two.loras.size).toBe(2);
    await pool.releaseAdapter('mv_jane_2');
    expect(one.loras.size + two.loras.size).toBe(0);
    await pool.close();
  });
});

describe('LoRA settings of an in-process model', () => {
  it('reads adapters=N, the adapter contexts kept, and refuses a bad value', () => {
    const [m] = parseBackendSpecs('twin=local:/models/x.gguf;adapters=5');
    expect(m!.backends[0]).toMatchObject({ kind: 'local', adapterContexts: 5 });
    expect(() => parseBackendSpecs('twin=local:/models/x.gguf;adapters=0')).toThrow(
      /adapters=0 is not an integer from 1 to 64/,
    );
  });
});

describe('LoRA adapters on a TGI server (fake)', () => {
  it('sends the adapter name as adapter_id, and nothing without an adapter', async () => {
    const server = await startFakeTgiServer();
    servers.push(server);
    const backend = new TgiBackend({ model: 'twin', baseUrl: server.url });
    await collect(backend.chat(ask('hi', { adapter: janeAdapter })));
    await collect(backend.chat(ask('hi')));
    const [withAdapter, stock] = server.generateRequests.map(
      (r) => (r.body?.parameters ?? {}) as Record<string, unknown>,
    );
    expect(withAdapter!.adapter_id).toBe('jane-twin-v2');
    expect(stock).not.toHaveProperty('adapter_id');
  });
});
