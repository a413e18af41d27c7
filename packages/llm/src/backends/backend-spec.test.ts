import { describe, expect, it } from '@jest/globals';
import { startFakeOpenAiServer } from '@llmtwin/testkit/fakes';
import { BackendSpecError, createBackend, parseBackendSpecs } from './backend-spec.js';
import { collect } from './backend-test-helpers.js';

const env = { LLMTWIN_CACHE_DIR: '/cache' };
const SMOL = '/cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf';
const QWEN = '/cache/models/Qwen2.5-Coder-0.5B-Instruct/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf';

function problems(value: string): string[] {
  try {
    parseBackendSpecs(value, { env, cwd: '/srv' });
  } catch (err) {
    if (err instanceof BackendSpecError) return err.problems;
    throw err;
  }
  throw new Error(`'${value}' was accepted`);
}

describe('parseBackendSpecs', () => {
  it('groups entries by model, in order of first appearance', () => {
    const parsed = parseBackendSpecs(
      'twin=openai+http://vllm:8000/v1, twin=openai+http://vllm-2:8000/v1/,base=tgi+http://tgi:80,smol=local:/models/x.gguf,tiny=local:default',
      { env },
    );
    expect(parsed.map((g) => [g.model, g.backends.length])).toEqual([
      ['twin', 2],
      ['base', 1],
      ['smol', 1],
      ['tiny', 1],
    ]);
    expect(parsed[0]!.backends).toEqual([
      { model: 'twin', kind: 'openai', url: 'http://vllm:8000/v1', entry: 'twin=openai+http://vllm:8000/v1' },
      {
        model: 'twin',
        kind: 'openai',
        url: 'http://vllm-2:8000/v1',
        entry: 'twin=openai+http://vllm-2:8000/v1/',
      },
    ]);
    expect(parsed[1]!.backends[0]).toMatchObject({ kind: 'tgi', url: 'http://tgi', chatTemplate: 'chatml' });
    expect(parsed[2]!.backends[0]).toMatchObject({
      kind: 'local',
      modelPath: '/models/x.gguf',
      isDefault: false,
    });
    expect(parsed[3]!.backends[0]).toMatchObject({
      kind: 'local',
      modelPath: QWEN,
      isDefault: true,
      baseModel: 'Qwen/Qwen2.5-Coder-0.5B-Instruct',
    });
    expect(parsed[2]!.backends[0]).not.toHaveProperty('baseModel');
  });

  it('names prepared models (any case) and takes the checkpoint of a file from base=', () => {
    const [tiny, qwen, file] = parseBackendSpecs(
      'tiny=local:smollm2-135m-instruct,qwen=local:Qwen2.5-Coder-0.5B-Instruct;threads=1,' +
        'mine=local:/models/mine.gguf;base=Qwen/Qwen2.5-0.5B-Instruct',
      { env },
    );
    expect(tiny!.backends[0]).toMatchObject({
      modelPath: SMOL,
      isDefault: false,
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    });
    expect(qwen!.backends[0]).toMatchObject({ modelPath: QWEN, threads: 1 });
    expect(file!.backends[0]).toMatchObject({
      modelPath: '/models/mine.gguf',
      baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
    });
    expect(createBackend(tiny!.backends[0]!).baseModel).toBe('HuggingFaceTB/SmolLM2-135M-Instruct');
  });

  it('reads per-entry options', () => {
    const [a, b, c] = parseBackendSpecs(
      'a=openai+https://api.example.com/v1;upstream=meta-llama/Llama-3.1-8B-Instruct,' +
        'b=tgi+http://tgi:8080;template=llama3,' +
        'c=local:models/smol.gguf;threads=1;context=2048;parallel=2',
      { env, cwd: '/srv' },
    );
    expect(a!.backends[0]).toMatchObject({ upstreamModel: 'meta-llama/Llama-3.1-8B-Instruct' });
    expect(b!.backends[0]).toMatchObject({ url: 'http://tgi:8080', chatTemplate: 'llama3' });
    expect(c!.backends[0]).toMatchObject({
      modelPath: '/srv/models/smol.gguf',
      threads: 1,
      contextSize: 2048,
      parallel: 2,
    });
  });

  it('reads how an OpenAI-compatible server takes a JSON schema, and where its health check goes', () => {
    const [llama, vllm, local] = parseBackendSpecs(
      'llama=openai+http://llama:8000/v1;json=json_object;health=http://llama:8000/openapi.json,' +
        'vllm=openai+http://vllm:8000/v1;json=json_schema;health=/models/,' +
        'plain=openai+http://plain/v1',
      { env },
    );
    expect(llama!.backends[0]).toMatchObject({
      jsonMode: 'json_object',
      healthPath: 'http://llama:8000/openapi.json',
    });
    expect(vllm!.backends[0]).toMatchObject({ jsonMode: 'json_schema', healthPath: '/models/' });
    expect(local!.backends[0]).not.toHaveProperty('jsonMode');
    expect(local!.backends[0]).not.toHaveProperty('healthPath');
    expect(
      problems(
        'a=openai+http://h/v1;json=yaml,b=openai+http://h/v1;health=models,c=openai+http://h/v1;health=ftp://h/x,' +
          'd=openai+http://h/v1;health=,e=tgi+http://t;json=json_object',
      ),
    ).toEqual([
      `'a=openai+http://h/v1;json=yaml': unknown json mode 'yaml' (expected json_schema or json_object)`,
      `'b=openai+http://h/v1;health=models': health=models: a path starts with '/'`,
      `'c=openai+http://h/v1;health=ftp://h/x': 'ftp://h/x' is not an http(s) URL`,
      `'d=openai+http://h/v1;health=': health= needs a path or a URL`,
      `'e=tgi+http://t;json=json_object': unknown option 'json' for a tgi backend (known: template)`,
    ]);
  });

  it('gives an empty list for a blank value', () => {
    expect(parseBackendSpecs('  ')).toEqual([]);
    expect(parseBackendSpecs(' , ')).toEqual([]);
  });

  it('names every bad entry and what is wrong with it', () => {
    const found = problems(
      'twin=openai+http://ok:8000/v1,nomodel,x=grpc+http://a,y=openai+not-a-url,z=tgi+http://t;template=alpaca,' +
        'w=local:,v=openai+ftp://files,u=openai+http://user:secret@h/v1,-bad=openai+http://h,' +
        'twin=openai+http://ok:8000/v1,s=local:default;threads=zero,r=tgi+http://t;upstream=x',
    );
    expect(found).toEqual([
      `'nomodel': expected <model>=openai+<url>, <model>=tgi+<url> or <model>=local:<path|name|default>`,
      `'x=grpc+http://a': unknown backend kind 'grpc' (expected openai, tgi or local:)`,
      `'y=openai+not-a-url': 'not-a-url' is not a URL`,
      `'z=tgi+http://t;template=alpaca': unknown chat template 'alpaca' (expected chatml, llama3, mistral)`,
      `'w=local:': local: needs a GGUF file path, a prepared model (Qwen2.5-Coder-0.5B-Instruct, Qwen2.5-Coder-1.5B-Instruct, SmolLM2-135M-Instruct) or default`,
      `'v=openai+ftp://files': 'ftp://files' is not an http(s) URL`,
      `'u=openai+http://user:secret@h/v1': credentials do not belong in the URL; configure the API key separately`,
      `'-bad=openai+http://h': '-bad' is not a model name (letters, digits and . _ : / @ -, starting with a letter or digit)`,
      `'twin=openai+http://ok:8000/v1': listed twice`,
      `'s=local:default;threads=zero': threads=zero is not an integer from 1 to 256`,
      `'r=tgi+http://t;upstream=x': unknown option 'upstream' for a tgi backend (known: template)`,
    ]);
  });

  it('puts every problem in the error message', () => {
    expect(() => parseBackendSpecs('a=b,c=d')).toThrow(/^LLMTWIN_LLM_BACKENDS: 'a=b': .*; 'c=d': /);
  });
});

describe('createBackend', () => {
  it('builds the adapter each entry names', async () => {
    const [twin, base, smol] = parseBackendSpecs(
      'twin=openai+http://vllm:8000/v1;upstream=served,base=tgi+http://tgi:80;template=mistral,smol=local:default;threads=1',
      { env },
    );
    const backends = [twin!, base!, smol!].map((g) =>
      createBackend(g.backends[0]!, { apiKey: 'k', localParallel: 2 }),
    );
    expect(backends.map((b) => [b.model, b.kind, b.endpoint])).toEqual([
      ['twin', 'openai', 'http://vllm:8000/v1'],
      ['base', 'tgi', 'http://tgi'],
      ['smol', 'local', QWEN],
    ]);
    await Promise.all(backends.map((b) => b.close()));
  });

  it('gives an OpenAI backend its json mode and health check target', async () => {
    const server = await startFakeOpenAiServer({ reply: () => '{"capital":"Paris"}' });
    try {
      const [group] = parseBackendSpecs(
        `twin=openai+${server.url};json=json_object;health=${server.origin}/health`,
        { env },
      );
      const backend = createBackend(group!.backends[0]!);
      const schema = { type: 'object', properties: { capital: { type: 'string' } } };
      const { text } = await collect(
        backend.chat({ messages: [{ role: 'user', content: 'capital?' }], maxTokens: 8, jsonSchema: schema }),
      );
      expect(JSON.parse(text)).toEqual({ capital: 'Paris' });
      expect(server.chatRequests[0]!.body?.response_format).toEqual({ type: 'json_object', schema });
      await backend.health();
      expect(server.requests.at(-1)).toMatchObject({ method: 'GET', path: '/health' });
      await backend.close();
    } finally {
      await server.kill();
    }
  });
});
