import { afterEach, describe, expect, it } from '@jest/globals';
import {
  fakeTokens,
  startFakeTgiServer,
  type FakeTgiOptions,
  type FakeTgiServer,
} from '@llmtwin/testkit/fakes';
import { poll } from '@llmtwin/testkit/poll';
import { ask, collect, failure, kindOf } from './backend-test-helpers.js';
import { StopScanner, TgiBackend, type TgiBackendOptions } from './tgi-backend.js';

const servers: FakeTgiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill()));
});

async function serve(options: FakeTgiOptions = {}): Promise<FakeTgiServer> {
  const server = await startFakeTgiServer(options);
  servers.push(server);
  return server;
}

const backendFor = (server: FakeTgiServer, extra: Partial<TgiBackendOptions> = {}) =>
  new TgiBackend({ model: 'base', baseUrl: server.url, ...extra });

describe('TgiBackend', () => {
  it('renders a ChatML prompt, streams the tokens in order, skips the EOS token and reads the counts', async () => {
    const server = await serve({ tokenDelayMs: 2 });
    const { deltas, text, end } = await collect(backendFor(server).chat(ask('the quick brown fox')));
    expect(deltas).toEqual(['Echo:', ' the', ' quick', ' brown', ' fox']);
    expect(text).not.toContain('<|im_end|>');
    const sent = server.generateRequests[0]!;
    expect(sent.path).toBe('/generate_stream');
    expect(sent.body?.inputs).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nthe quick brown fox<|im_end|>\n<|im_start|>assistant\n',
    );
    // 5 words and the EOS token, as the fake counts them.
    expect(end).toEqual({
      type: 'end',
      finishReason: 'stop',
      completionTokens: 6,
      promptTokens: fakeTokens(sent.body!.inputs as string).length,
    });
    expect(sent.body?.parameters).toEqual({
      max_new_tokens: 64,
      details: true,
      return_full_text: false,
      do_sample: false,
    });
  });

  it('maps sampling options to what TGI accepts', async () => {
    const server = await serve();
    const backend = backendFor(server);
    await collect(backend.chat(ask('hi', { temperature: 0.7, topP: 0.9 })));
    await collect(backend.chat(ask('hi', { temperature: 0.7, topP: 1 })));
    await collect(backend.chat(ask('hi', { temperature: 0, topP: 0.5 })));
    const params = server.generateRequests.map((r) => r.body?.parameters);
    expect(params[0]).toMatchObject({ do_sample: true, temperature: 0.7, top_p: 0.9 });
    expect(params[1]).toMatchObject({ do_sample: true, temperature: 0.7 });
    expect(params[1]).not.toHaveProperty('top_p');
    expect(params[2]).toMatchObject({ do_sample: false });
    expect(params[2]).not.toHaveProperty('temperature');
  });

  it('passes the repetition and frequency penalties, and nothing when none is set', async () => {
    const server = await serve();
    const backend = backendFor(server);
    await collect(backend.chat({ ...ask('hi'), penalties: { repeat: 1.2, frequency: 0.3, dry: 0.8 } }));
    await collect(backend.chat(ask('hi')));
    const params = server.generateRequests.map((r) => r.body?.parameters);
    expect(params[0]).toMatchObject({ repetition_penalty: 1.2, frequency_penalty: 0.3 });
    // TGI has no DRY parameter: sending one would be refused.
    expect(params[0]).not.toHaveProperty('dry_multiplier');
    expect(params[1]).not.toHaveProperty('repetition_penalty');
    expect(params[1]).not.toHaveProperty('frequency_penalty');
  });

  it('reports a length finish', async () => {
    const server = await serve();
    const { text, end } = await collect(backendFor(server).chat(ask('one two three four', { maxTokens: 3 })));
    expect(text).toBe('Echo: one two');
    expect(end).toMatchObject({ finishReason: 'length', completionTokens: 3 });
  });

  it('cuts the stop sequence TGI leaves in the text, and enforces stop sequences beyond its limit', async () => {
    const server = await serve({ reply: () => 'alpha beta END gamma delta' });
    const backend = backendFor(server);
    const first = await collect(backend.chat(ask('x', { stop: ['END'] })));
    expect(first.text).toBe('alpha beta ');
    expect(first.end?.finishReason).toBe('stop');
    expect(server.generateRequests[0]!.body?.parameters).toMatchObject({ stop: ['END'] });

    const stops = ['s1', 's2', 's3', 's4', 'gam'];
    const second = await collect(backend.chat(ask('x', { stop: stops })));
    expect(second.text).toBe('alpha beta END ');
    expect(second.end?.finishReason).toBe('stop');
    expect(server.generateRequests[1]!.body?.parameters).toMatchObject({ stop: ['s1', 's2', 's3', 's4'] });
    await poll(() => server.inflight === 0, { what: 'no request in flight at the server' });
  });

  it('sends a JSON schema as a grammar and gets JSON back', async () => {
    const schema = { type: 'object', properties: { topic: { type: 'string' } }, required: ['topic'] };
    const server = await serve();
    const { text } = await collect(backendFor(server).chat(ask('rust', { jsonSchema: schema })));
    expect(JSON.parse(text)).toEqual({ topic: 'rust' });
    expect(server.generateRequests[0]!.body?.parameters).toMatchObject({
      grammar: { type: 'json', value: schema },
    });
  });

  it('renders Llama 3 and Mistral prompts when configured', async () => {
    const server = await serve();
    const llama = await collect(backendFor(server, { chatTemplate: 'llama3' }).chat(ask('hello llama')));
    const mistral = await collect(backendFor(server, { chatTemplate: 'mistral' }).chat(ask('hello mistral')));
    expect(llama.text).toBe('Echo: hello llama');
    expect(mistral.text).toBe('Echo: hello mistral');
    expect(server.generateRequests[0]!.body?.inputs).toBe(
      '<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhello llama<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(server.generateRequests[1]!.body?.inputs).toBe('[INST] Be brief.\n\nhello mistral [/INST]');
  });

  it("maps TGI's in-stream validation error to rejected", async () => {
    const server = await serve({ maxTotalTokens: 20 });
    const { err } = await failure(backendFor(server).chat(ask('a question', { maxTokens: 100 })));
    expect(kindOf(err)).toBe('rejected');
    expect((err as Error).message).toContain('must be <= 20');
  });

  it("maps TGI's overloaded error to unavailable", async () => {
    const server = await serve({ maxConcurrentRequests: 1, firstTokenDelayMs: 300 });
    const backend = backendFor(server);
    const first = collect(backend.chat(ask('first')));
    await poll(() => server.inflight === 1, { what: 'one request in flight at the server' });
    const { err } = await failure(backend.chat(ask('second')));
    expect(kindOf(err)).toBe('unavailable');
    expect((err as Error).message).toContain('overloaded');
    expect((await first).text).toBe('Echo: first');
  });

  it('maps a generation error before any text to unavailable, and after text to interrupted', async () => {
    const server = await serve({ streamError: { errorType: 'generation', message: 'CUDA out of memory' } });
    const before = await failure(backendFor(server).chat(ask('a b c')));
    expect(kindOf(before.err)).toBe('unavailable');
    server.options.streamError = undefined;
    server.options.errorAfterTokens = 2;
    const after = await failure(backendFor(server).chat(ask('a b c')));
    expect(after.deltas).toEqual(['Echo:', ' a']);
    expect(kindOf(after.err)).toBe('interrupted');
  });

  it.each([
    [503, 'unavailable'],
    [429, 'unavailable'],
    [422, 'rejected'],
    [401, 'rejected'],
  ])('maps an HTTP %i before the stream to %s', async (status, kind) => {
    const server = await serve({ failWith: status });
    const { err } = await failure(backendFor(server).chat(ask('hi')));
    expect(kindOf(err)).toBe(kind);
  });

  it('maps a refused connection to unavailable', async () => {
    const server = await serve();
    await server.kill();
    const { err } = await failure(new TgiBackend({ model: 'base', baseUrl: server.url }).chat(ask('hi')));
    expect(kindOf(err)).toBe('unavailable');
  });

  it('maps a connection killed mid-stream to interrupted, without hanging', async () => {
    const server = await serve({ dieAfterTokens: 2 });
    const { err, deltas } = await failure(backendFor(server).chat(ask('a b c d e')));
    expect(deltas).toEqual(['Echo:', ' a']);
    expect(kindOf(err)).toBe('interrupted');
  });

  it('maps a server that crashes while streaming to interrupted', async () => {
    const server = await serve({ tokenDelayMs: 30 });
    const deltas: string[] = [];
    let error: unknown;
    try {
      for await (const ev of backendFor(server).chat(ask('a b c d e f g h'))) {
        if (ev.type === 'delta') deltas.push(ev.text);
        if (deltas.length === 2) void server.kill();
      }
    } catch (err) {
      error = err;
    }
    expect(kindOf(error)).toBe('interrupted');
  });

  it('times out when no token comes; an SSE keep-alive comment does not count as one', async () => {
    const server = await serve({ firstTokenDelayMs: 10_000, keepAliveMs: 20 });
    const { err } = await failure(backendFor(server, { firstTokenTimeoutMs: 200 }).chat(ask('hi')));
    expect(kindOf(err)).toBe('timeout');
    await poll(() => server.generateRequests[0]?.outcome === 'client-closed', {
      what: 'the server to see the client leave',
    });
  });

  it('maps a stream that stalls after text to interrupted', async () => {
    const server = await serve({ stallAfterTokens: 1 });
    const { err, deltas } = await failure(backendFor(server, { idleTimeoutMs: 150 }).chat(ask('a b')));
    expect(deltas).toEqual(['Echo:']);
    expect(kindOf(err)).toBe('interrupted');
  });

  it("stops on the caller's abort and closes the upstream request", async () => {
    const server = await serve({ tokenDelayMs: 20 });
    const ctl = new AbortController();
    const run = (async () => {
      for await (const ev of backendFor(server).chat(ask('a b c d e f g h'), ctl.signal)) {
        if (ev.type === 'delta') ctl.abort(new Error('cancelled by the client'));
      }
    })();
    await expect(run).rejects.toThrow('cancelled by the client');
    await poll(() => server.generateRequests[0]?.outcome === 'client-closed', {
      what: 'the server to see the client leave',
    });
  });

  it('maps a stream that ends cleanly before its final event to interrupted', async () => {
    const server = await serve({ endAfterTokens: 2 });
    const { err, deltas } = await failure(backendFor(server).chat(ask('a b c')));
    expect(deltas).toEqual(['Echo:', ' a']);
    expect(kindOf(err)).toBe('interrupted');
    expect((err as Error).message).toContain('the stream ended before the answer did');
  });

  it('checks /health and learns the context size from /info', async () => {
    const server = await serve({ maxTotalTokens: 8192 });
    const backend = backendFor(server);
    expect(backend.contextTokens).toBeUndefined();
    await backend.health();
    expect(backend.contextTokens).toBe(8192);
    expect(backendFor(server, { contextTokens: 2048 }).contextTokens).toBe(2048);
    server.options.healthy = false;
    await expect(backend.health()).rejects.toMatchObject({ kind: 'unavailable' });
  });
});

describe('StopScanner', () => {
  it('holds back a possible start of a stop sequence until it is decided', () => {
    const s = new StopScanner(['###', '<|im_end|>']);
    expect(s.push('Hello #')).toEqual({ text: 'Hello ', stopped: false });
    expect(s.push('# not')).toEqual({ text: '## not', stopped: false });
    expect(s.push(' done <|im')).toEqual({ text: ' done ', stopped: false });
    expect(s.push('_end|> trailing')).toEqual({ text: '', stopped: true });
  });

  it('cuts at the earliest stop sequence and flushes held text at the end', () => {
    const s = new StopScanner(['bb', 'a']);
    expect(s.push('xxbba')).toEqual({ text: 'xx', stopped: true });
    const t = new StopScanner(['END']);
    expect(t.push('the EN')).toEqual({ text: 'the ', stopped: false });
    expect(t.flush()).toBe('EN');
  });
});
