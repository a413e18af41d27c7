import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime';
import { RemoteEmbedder } from './remote-embedder.js';
import { createEmbedder } from './create-embedder.js';

// A fake of both wire formats: TEI's POST /embed {inputs} → number[][] and OpenAI's POST /v1/embeddings
// {model, input} → {data: [{index, embedding}]}. Each text becomes a deterministic, unnormalised 3-d vector.
interface Seen {
  path: string;
  body: Record<string, unknown>;
  auth: string | undefined;
}
const seen: Seen[] = [];
let failuresLeft = 0;
let failStatus = 503;
let hang = false;

const vectorOf = (text: string): number[] => [text.length, 1, text.charCodeAt(0) || 0];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  const body = JSON.parse(raw) as Record<string, unknown>;
  seen.push({ path: req.url ?? '', body, auth: req.headers.authorization });
  if (hang) return;
  if (failuresLeft > 0) {
    failuresLeft--;
    res
      .writeHead(failStatus, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: 'overloaded', error_type: 'Overloaded' }));
    return;
  }
  const send = (status: number, json: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  };
  if (req.url === '/embed') {
    send(200, (body.inputs as string[]).map(vectorOf));
  } else if (req.url === '/v1/embeddings') {
    if (body.model !== 'fake-model')
      return send(404, { error: { message: `model ${String(body.model)} not found` } });
    const data = (body.input as string[]).map((t, index) => ({
      object: 'embedding',
      index,
      embedding: vectorOf(t),
    }));
    send(200, {
      object: 'list',
      model: 'fake-model',
      data: data.reverse(),
      usage: { prompt_tokens: 1, total_tokens: 1 },
    });
  } else {
    send(404, { error: 'not found' });
  }
}

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
  failuresLeft = 0;
  failStatus = 503;
  hang = false;
});

const norm = (v: number[]): number[] => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('RemoteEmbedder against a fake text-embeddings-inference', () => {
  it('posts batches to /embed and returns unit vectors in input order', async () => {
    const e = new RemoteEmbedder({
      protocol: 'tei',
      baseUrl: base,
      batchSize: 2,
      passagePrefix: 'passage: ',
    });
    const out = await e.embed(['a', 'bb', 'ccc'], 'passage');
    expect(seen.map((s) => s.path)).toEqual(['/embed', '/embed']);
    expect(seen[0]!.body).toEqual({ inputs: ['passage: a', 'passage: bb'], truncate: true, normalize: true });
    expect(out.map((v) => [...v].map((x) => +x.toFixed(5)))).toEqual(
      ['passage: a', 'passage: bb', 'passage: ccc'].map((t) => norm(vectorOf(t)).map((x) => +x.toFixed(5))),
    );
    expect(e.dimensions).toBe(3);
  });

  it('retries 5xx and then succeeds', async () => {
    failuresLeft = 2;
    const e = new RemoteEmbedder({ protocol: 'tei', baseUrl: base, retries: 2 });
    await expect(e.embed(['x'], 'query')).resolves.toHaveLength(1);
    expect(seen).toHaveLength(3);
  });

  it('gives up after the retries with an unavailable error that says why', async () => {
    failuresLeft = 10;
    const e = new RemoteEmbedder({ protocol: 'tei', baseUrl: base, retries: 1 });
    const err = await e.embed(['x'], 'query').catch((x: unknown) => x);
    expect(isDomainError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toMatch(/after 2 attempts: HTTP 503: overloaded/);
  });

  it('does not retry a 4xx', async () => {
    failuresLeft = 1;
    failStatus = 413;
    const e = new RemoteEmbedder({ protocol: 'tei', baseUrl: base, retries: 3 });
    const err = await e.embed(['x'], 'query').catch((x: unknown) => x);
    expect(isDomainError(err, 'invalid-argument')).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it('times out a silent server', async () => {
    hang = true;
    const e = new RemoteEmbedder({ protocol: 'tei', baseUrl: base, timeoutMs: 100, retries: 0 });
    await expect(e.embed(['x'], 'query')).rejects.toThrow(/no answer within 100 ms/);
  });

  it('rejects a dimension change and asks for ping before dimensions are known', async () => {
    const e = new RemoteEmbedder({ protocol: 'tei', baseUrl: base, dimensions: 384 });
    await expect(e.embed(['x'], 'query')).rejects.toThrow(/3-dimensional vectors, expected 384/);
    const f = new RemoteEmbedder({ protocol: 'tei', baseUrl: base });
    expect(() => f.dimensions).toThrow(/ping/);
    await f.ping();
    expect(f.dimensions).toBe(3);
  });

  it('says how to get token counts when no tokenizer is configured', () => {
    const e = new RemoteEmbedder({ protocol: 'tei', baseUrl: base });
    expect(() => e.countTokens('x')).toThrow(/tokenizer=/);
  });
});

describe('RemoteEmbedder against a fake OpenAI-compatible server', () => {
  it('posts {model, input} to /v1/embeddings with the key and orders by index', async () => {
    const e = new RemoteEmbedder({
      protocol: 'openai',
      baseUrl: `${base}/v1`,
      model: 'fake-model',
      apiKey: 'sk-test',
    });
    const out = await e.embed(['a', 'bb'], 'query');
    expect(seen[0]).toMatchObject({
      path: '/v1/embeddings',
      body: { model: 'fake-model', input: ['a', 'bb'] },
      auth: 'Bearer sk-test',
    });
    expect([...out[1]!].map((x) => +x.toFixed(5))).toEqual(norm(vectorOf('bb')).map((x) => +x.toFixed(5)));
    expect(e.model).toBe('fake-model');
  });

  it('surfaces the server message of a refused request', async () => {
    const e = new RemoteEmbedder({ protocol: 'openai', baseUrl: base, model: 'other' });
    await expect(e.embed(['a'], 'query')).rejects.toThrow(/HTTP 404: model other not found/);
  });
});

describe('createEmbedder', () => {
  it('builds remote adapters from explicit URLs', async () => {
    const tei = await createEmbedder(`tei+${base}?model=my-tei&batch=8`);
    await expect(tei.embed(['a'], 'passage')).resolves.toHaveLength(1);
    expect(tei.model).toBe('my-tei');
    const oa = await createEmbedder(`openai+${base}?model=fake-model`, { apiKey: 'k' });
    await expect(oa.embed(['a'], 'passage')).resolves.toHaveLength(1);
    expect(seen.map((s) => s.path)).toEqual(['/embed', '/v1/embeddings']);
  });

  it('fails loudly on anything it does not understand', async () => {
    await expect(createEmbedder('http://localhost:8080')).rejects.toThrow(/not understood/);
    await expect(createEmbedder('onnx:')).rejects.toThrow(/no model/);
    await expect(createEmbedder(`tei+${base}?modle=x`)).rejects.toThrow(/unknown parameter\(s\) modle/);
    await expect(createEmbedder(`openai+${base}`)).rejects.toThrow(/needs \?model=/);
    await expect(createEmbedder('onnx:all-MiniLM-L6-v2?dtype=fp64')).rejects.toThrow(/dtype must be one of/);
  });

  it('fails fast, saying what to do, for a hub id that is not in the cache', async () => {
    const err = await createEmbedder('onnx:BAAI/bge-small-en-v1.5', {
      cacheDir: '/nonexistent-llmtwin-cache',
    }).catch((x: unknown) => x);
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect((err as Error).message).toMatch(/scripts\/prepare-models\.mjs.*LLMTWIN_ALLOW_MODEL_DOWNLOAD/);
  });

  it('rejects a folder that is not a model', async () => {
    await expect(createEmbedder('onnx:/tmp')).rejects.toThrow(/has no config\.json/);
  });
});
