import { afterEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeOpenAiServer, type FakeOpenAiOptions, type FakeOpenAiServer } from '@llmtwin/testkit/fakes';
import { poll } from '@llmtwin/testkit/poll';
import { ask, collect, failure, kindOf } from './backend-test-helpers.js';
import { OpenAiBackend, type OpenAiBackendOptions } from './openai-backend.js';

const servers: FakeOpenAiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill()));
});

async function serve(options: FakeOpenAiOptions = {}): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer(options);
  servers.push(server);
  return server;
}

function backendFor(server: FakeOpenAiServer, extra: Partial<OpenAiBackendOptions> = {}) {
  return new OpenAiBackend({ model: 'twin', baseUrl: server.url, ...extra });
}

describe('OpenAiBackend', () => {
  it('streams the deltas in order, then one end with the usage', async () => {
    const server = await serve({ tokenDelayMs: 2 });
    const backend = backendFor(server, { upstreamModel: 'served-name', apiKey: 'sk-test' });
    const { deltas, text, end } = await collect(backend.chat(ask('the quick brown fox')));

    expect(deltas).toEqual(['Echo:', ' the', ' quick', ' brown', ' fox']);
    expect(text).toBe('Echo: the quick brown fox');
    expect(end).toEqual({ type: 'end', finishReason: 'stop', promptTokens: 6, completionTokens: 5 });
    const sent = server.chatRequests[0]!;
    expect(sent.authorization).toBe('Bearer sk-test');
    expect(sent.body).toMatchObject({
      model: 'served-name',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'the quick brown fox' },
      ],
    });
    expect(sent.body).not.toHaveProperty('response_format');
  });

  it('passes sampling options and stop sequences, and reports a length finish', async () => {
    const server = await serve();
    const backend = backendFor(server);
    const { text, end } = await collect(
      backend.chat(
        ask('one two three four five', { maxTokens: 3, temperature: 0.2, topP: 0.9, stop: ['###'] }),
      ),
    );
    expect(text).toBe('Echo: one two');
    expect(end?.finishReason).toBe('length');
    expect(end?.completionTokens).toBe(3);
    expect(server.chatRequests[0]!.body).toMatchObject({
      temperature: 0.2,
      top_p: 0.9,
      stop: ['###'],
      max_tokens: 3,
    });
  });

  it('passes decoding penalties under their server names, and none that were not set', async () => {
    const server = await serve();
    const backend = backendFor(server);
    await collect(
      backend.chat({ ...ask('hi'), penalties: { repeat: 1.15, frequency: 0.2, presence: 0.1, dry: 0.8 } }),
    );
    await collect(backend.chat(ask('hi')));
    expect(server.chatRequests[0]!.body).toMatchObject({
      repetition_penalty: 1.15,
      frequency_penalty: 0.2,
      presence_penalty: 0.1,
      dry_multiplier: 0.8,
    });
    // A hosted API refuses parameters it does not know: unset penalties are not sent at all.
    for (const key of ['repetition_penalty', 'frequency_penalty', 'presence_penalty', 'dry_multiplier']) {
      expect(server.chatRequests[1]!.body).not.toHaveProperty(key);
    }
  });

  it('asks for JSON with response_format json_schema and gets JSON back', async () => {
    const schema = {
      type: 'object',
      properties: { author: { type: 'string' }, year: { type: 'integer' } },
      required: ['author', 'year'],
      additionalProperties: false,
    };
    let seenSchema: unknown;
    const server = await serve({
      reply: (call) => {
        seenSchema = call.jsonSchema;
        return JSON.stringify({ author: 'Ada', year: 1843 });
      },
    });
    const { text } = await collect(backendFor(server).chat(ask('who?', { jsonSchema: schema })));
    expect(JSON.parse(text)).toEqual({ author: 'Ada', year: 1843 });
    expect(seenSchema).toEqual(schema);
    expect(server.chatRequests[0]!.body?.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'response', schema, strict: true },
    });
  });

  it('sends the schema beside json_object in json_object mode (the llama.cpp form)', async () => {
    const schema = {
      type: 'object',
      properties: { capital: { type: 'string' } },
      required: ['capital'],
    };
    let seen: { schema: unknown; json: boolean } | undefined;
    const server = await serve({
      reply: (call) => {
        seen = { schema: call.jsonSchema, json: call.json };
        return JSON.stringify({ capital: 'Paris' });
      },
    });
    const backend = backendFor(server, { jsonMode: 'json_object', jsonSchemaName: 'ignored' });
    const { text } = await collect(backend.chat(ask('capital of France?', { jsonSchema: schema })));
    expect(JSON.parse(text)).toEqual({ capital: 'Paris' });
    expect(seen).toEqual({ schema, json: true });
    expect(server.chatRequests[0]!.body?.response_format).toEqual({ type: 'json_object', schema });
    // Without a schema in the request there is no response_format at all, whichever the mode.
    await collect(backend.chat(ask('hi')));
    expect(server.chatRequests[1]!.body).not.toHaveProperty('response_format');
  });

  it('takes [DONE] without a finish reason for a cut answer, not a whole one', async () => {
    // A raw server shaped like llama-cpp-python when another request interrupts a stream: the chunks so
    // far, then `data: [DONE]`, with no chunk carrying a finish_reason.
    const cut = http.createServer((req, res) => {
      let body = '';
      req.on('data', (part: Buffer) => (body += part.toString()));
      req.on('end', () => {
        const chunk = (delta: object) =>
          `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
        const texts = body.includes('"content":"none"') ? [] : ['The', ' capital'];
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          [chunk({ role: 'assistant' }), ...texts.map((t) => chunk({ content: t })), 'data: [DONE]\n\n'].join(
            '',
          ),
        );
      });
    });
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = cut.address() as AddressInfo;
      const backend = new OpenAiBackend({ model: 'twin', baseUrl: `http://127.0.0.1:${port}/v1` });
      const afterText = await failure(backend.chat(ask('hi')));
      expect(afterText.deltas).toEqual(['The', ' capital']);
      expect(kindOf(afterText.err)).toBe('interrupted');
      expect((afterText.err as Error).message).toContain('without a finish reason');
      const withoutText = await failure(backend.chat(ask('none')));
      expect(withoutText.deltas).toEqual([]);
      // Nothing reached the caller: the pool may still try another backend.
      expect(kindOf(withoutText.err)).toBe('unavailable');
    } finally {
      await new Promise((resolve) => cut.close(resolve));
    }
  });

  it('works without stream_options for servers that reject it (no token counts then)', async () => {
    const server = await serve();
    const { end } = await collect(backendFor(server, { includeUsage: false }).chat(ask('hi')));
    expect(end).toEqual({ type: 'end', finishReason: 'stop' });
    expect(server.chatRequests[0]!.body).not.toHaveProperty('stream_options');
  });

  it('maps a 4xx to rejected with the backend message', async () => {
    const server = await serve({
      failWith: { status: 400, message: "Invalid 'messages[1].content': too long." },
    });
    const { err, deltas } = await failure(backendFor(server).chat(ask('hi')));
    expect(kindOf(err)).toBe('rejected');
    expect((err as Error).message).toContain("Invalid 'messages[1].content': too long.");
    expect(deltas).toEqual([]);
  });

  it('maps a 401 (wrong key) and a 404 (unknown model) to rejected', async () => {
    const server = await serve({ apiKey: 'right', models: ['twin'] });
    const wrongKey = await failure(backendFor(server, { apiKey: 'wrong' }).chat(ask('hi')));
    expect(kindOf(wrongKey.err)).toBe('rejected');
    const unknown = await failure(
      backendFor(server, { apiKey: 'right', upstreamModel: 'nope' }).chat(ask('hi')),
    );
    expect(kindOf(unknown.err)).toBe('rejected');
    expect((unknown.err as Error).message).toContain('`nope` does not exist');
  });

  it.each([429, 500, 502, 503, 504])(
    'maps %i to unavailable (another backend may succeed)',
    async (status) => {
      const server = await serve({ failWith: status });
      const { err } = await failure(backendFor(server).chat(ask('hi')));
      expect(kindOf(err)).toBe('unavailable');
      expect((err as Error).message).toContain(String(status));
    },
  );

  it('reads the text of a non-JSON error page', async () => {
    const server = await serve({
      failWith: { status: 502, rawBody: '<html><body><h1>502 Bad Gateway</h1>nginx</body></html>' },
    });
    const { err } = await failure(backendFor(server).chat(ask('hi')));
    expect(kindOf(err)).toBe('unavailable');
    expect((err as Error).message).toContain('502 Bad Gateway nginx');
  });

  it('maps a refused connection to unavailable', async () => {
    const server = await serve();
    const url = server.url;
    await server.kill();
    const backend = new OpenAiBackend({ model: 'twin', baseUrl: url });
    const { err } = await failure(backend.chat(ask('hi')));
    expect(kindOf(err)).toBe('unavailable');
    expect((err as Error).message).toContain('ECONNREFUSED');
    await expect(backend.health()).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('maps a connection that dies after the first delta to interrupted, without hanging', async () => {
    const server = await serve({ dieAfterTokens: 2 });
    const { err, deltas } = await failure(backendFor(server).chat(ask('a b c d e f')));
    expect(deltas).toEqual(['Echo:', ' a']);
    expect(kindOf(err)).toBe('interrupted');
  });

  it('maps a connection that dies before any text to unavailable (safe to retry)', async () => {
    const server = await serve({ dieAfterTokens: 0 });
    const { err, deltas } = await failure(backendFor(server).chat(ask('a b c')));
    expect(deltas).toEqual([]);
    expect(kindOf(err)).toBe('unavailable');
  });

  it('times out when the first token does not come, and hangs up on the backend', async () => {
    const server = await serve({ firstTokenDelayMs: 10_000 });
    const { err } = await failure(backendFor(server, { firstTokenTimeoutMs: 150 }).chat(ask('hi')));
    expect(kindOf(err)).toBe('timeout');
    await poll(() => server.chatRequests[0]?.outcome === 'client-closed', {
      what: 'the server to see the client leave',
    });
  });

  it('maps a stream that stalls after some text to interrupted', async () => {
    const server = await serve({ stallAfterTokens: 1 });
    const { err, deltas } = await failure(backendFor(server, { idleTimeoutMs: 150 }).chat(ask('a b c')));
    expect(deltas).toEqual(['Echo:']);
    expect(kindOf(err)).toBe('interrupted');
  });

  it('does not take a consumer that holds each event longer than the idle timeout for a stall', async () => {
    const server = await serve({ tokenDelayMs: 1 });
    const deltas: string[] = [];
    for await (const ev of backendFor(server, { idleTimeoutMs: 40 }).chat(ask('a b c'))) {
      if (ev.type === 'delta') deltas.push(ev.text);
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    expect(deltas.join('')).toBe('Echo: a b c');
  });

  it("throws the caller's abort reason and closes the upstream request", async () => {
    const server = await serve({ tokenDelayMs: 20 });
    const ctl = new AbortController();
    const deltas: string[] = [];
    const run = (async () => {
      for await (const ev of backendFor(server).chat(ask('a b c d e f g h i j'), ctl.signal)) {
        if (ev.type === 'delta') deltas.push(ev.text);
        if (deltas.length === 2) ctl.abort(new Error('client went away'));
      }
    })();
    await expect(run).rejects.toThrow('client went away');
    expect(deltas).toHaveLength(2);
    await poll(() => server.chatRequests[0]?.outcome === 'client-closed', {
      what: 'the server to see the client leave',
    });
    expect(server.chatRequests[0]!.tokensSent).toBeLessThan(11);
  });

  it('closes the upstream request when the consumer stops reading', async () => {
    const server = await serve({ tokenDelayMs: 20 });
    for await (const ev of backendFor(server).chat(ask('a b c d e f g h i j'))) {
      if (ev.type === 'delta') break;
    }
    await poll(() => server.inflight === 0, { what: 'no request in flight at the server' });
    expect(server.chatRequests[0]!.outcome).toBe('client-closed');
  });

  it('checks health with GET /models and reports what is wrong', async () => {
    const server = await serve({ apiKey: 'k' });
    await expect(backendFor(server, { apiKey: 'k' }).health()).resolves.toBeUndefined();
    expect(server.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: '/v1/models',
      authorization: 'Bearer k',
    });
    await expect(backendFor(server).health()).rejects.toMatchObject({ kind: 'rejected' });
    server.options.healthy = false;
    await expect(backendFor(server, { apiKey: 'k' }).health()).rejects.toMatchObject({ kind: 'unavailable' });
    server.options.healthy = true;
    await expect(
      backendFor(server, { healthPath: `${server.origin}/health` }).health(),
    ).resolves.toBeUndefined();
  });

  it('maps a stream that ends cleanly before its last chunk to interrupted', async () => {
    const server = await serve({ endAfterTokens: 2 });
    const { err, deltas } = await failure(backendFor(server).chat(ask('a b c')));
    expect(deltas).toEqual(['Echo:', ' a']);
    expect(kindOf(err)).toBe('interrupted');
    expect((err as Error).message).toContain('the stream ended before the answer did');
  });

  it('ends the calls in flight on close(): interrupted once text was streamed, unavailable before', async () => {
    const server = await serve({ tokenDelayMs: 200 });
    const backend = backendFor(server);
    const streaming = backend.chat(ask('a b c d e f g h'))[Symbol.asyncIterator]();
    expect(await streaming.next()).toMatchObject({ value: { type: 'delta', text: 'Echo:' } });
    server.options.firstTokenDelayMs = 10_000;
    const waiting = failure(backend.chat(ask('y')));
    await poll(() => server.inflight === 2, { what: 'two requests in flight at the server' });
    await backend.close();
    await expect(streaming.next()).rejects.toMatchObject({
      kind: 'interrupted',
      message: expect.stringContaining('the backend was closed'),
    });
    const { err } = await waiting;
    expect(kindOf(err)).toBe('unavailable');
    expect((err as Error).message).toContain('the backend was closed');
    await poll(() => server.inflight === 0, { what: 'no request in flight at the server' });
  });

  it('refuses new calls after close()', async () => {
    const server = await serve();
    const backend = backendFor(server);
    await backend.close();
    const { err } = await failure(backend.chat(ask('hi')));
    expect(kindOf(err)).toBe('unavailable');
    expect(server.chatRequests).toHaveLength(0);
  });

  it('serves concurrent calls independently', async () => {
    const server = await serve({ tokenDelayMs: 1 });
    const backend = backendFor(server);
    const questions = ['alpha beta', 'gamma delta epsilon', 'zeta'];
    const answers = await Promise.all(questions.map((q) => collect(backend.chat(ask(q)))));
    expect(answers.map((a) => a.text)).toEqual(questions.map((q) => `Echo: ${q}`));
  });
});
