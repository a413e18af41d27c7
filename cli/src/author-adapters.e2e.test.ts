// Per-author adapters on the embedded twin (`llmtwin up` with the in-process SmolLM2-135M-Instruct): a model
// version of jane's twin whose weights are a GGUF LoRA adapter trained by the training job to answer like a
// pirate (packages/llm/fixtures/smollm2-pirate-lora.gguf, stored as the artifact "adapter.gguf" in the
// twin's artifact folder) is registered, requested and approved into production with the CLI; `llmtwin ask
// --json` for jane then names that version and answers like a pirate, unlike the stock model, bob still gets the stock model, and `llmtwin models rollback` and
// archiving switch jane back, all without a restart.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registryv1 } from '@llmtwin/contracts';
import { tinyLocalModelPath } from '@llmtwin/llm/backends';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { poll } from '@llmtwin/testkit/poll';
import { gatewayClient } from './client.js';
import {
  disposeTwin,
  readAdminKey,
  runCli,
  startTwin,
  twinUrl,
  type TwinProcess,
} from './test/twin-process.fixture.js';

const LORA = fileURLToPath(new URL('../../packages/llm/fixtures/smollm2-pirate-lora.gguf', import.meta.url));
const QUESTION = 'Who wrote Hamlet?';

interface AskJson {
  answer: string;
  model: string;
  modelVersion: string | null;
  modelVersionId: string | null;
}

describe('per-author adapters on the embedded twin', () => {
  let twin: TwinProcess | undefined;
  let cacheDir: string;
  let url: string;
  const remote = () => ['--url', url, '--data-dir', twin!.dataDir];
  const cli = async (...args: string[]) => {
    const res = await runCli([...args, '--json', ...remote()]);
    expect({ args, code: res.code, stderr: res.stderr }).toEqual({ args, code: 0, stderr: '' });
    return JSON.parse(res.stdout) as Record<string, unknown>;
  };
  const ask = async (author: string, ...more: string[]) =>
    (await cli('ask', QUESTION, '--author', author, '--max-tokens', '12', ...more)) as unknown as AskJson;

  beforeAll(async () => {
    if (!existsSync(tinyLocalModelPath())) {
      throw new Error(
        `the tiny model is not prepared at ${tinyLocalModelPath()}: run npm run models:prepare`,
      );
    }
    cacheDir = await mkdtemp(path.join(tmpdir(), 'llmtwin-adapter-cache-'));
    twin = await startTwin('llmtwin-adapters-', {
      args: ['--no-demo'],
      env: {
        LLMTWIN_API_KEY: '',
        // The adapters are LoRAs of SmolLM2-135M-Instruct (the CPU training preset's base).
        LLMTWIN_LLM_BACKENDS: 'twin=local:SmolLM2-135M-Instruct;threads=1;context=1024',
        LLMTWIN_ADAPTER_CACHE_DIR: cacheDir,
      },
    });
    url = await twinUrl(twin);
  }, 120_000);

  afterAll(async () => {
    await disposeTwin(twin);
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('answers jane with her approved adapter, names the version, and follows rollback and archiving', async () => {
    const registry = gatewayClient(registryv1.RegistryService, url, await readAdminKey(twin!.dataDir));
    // The adapter as the trainer stores it: in the twin's artifact store, registered as "adapter.gguf".
    const store = await createArtifactStore(`file:${path.join(twin!.dataDir, 'artifacts')}`);
    const adapter = await store.putFile(LORA);
    await store.close();

    const { datasetVersion: dv } = await registry.createDatasetVersion({
      dataset: 'jane-instruct',
      kind: registryv1.DatasetKind.INSTRUCT,
      authorId: 'jane',
      splits: [
        { name: 'train', examples: 9n },
        { name: 'test', examples: 1n },
      ],
      contentHash: 'ab'.repeat(32),
      sources: [
        {
          documentId: 'doc_1',
          version: 1n,
          cleanedContentHash: 'cd'.repeat(32),
          rawContentHash: 'ef'.repeat(32),
          sourceId: 'src_1',
          canonicalUrl: 'https://jane.example.com/1',
          title: 'One',
        },
      ],
      generator: { kind: 'extractive' },
    });
    const register = async () => {
      const { run } = await registry.createRun({
        experiment: 'jane-sft',
        method: registryv1.TrainingMethod.SFT,
        baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
        datasetVersionId: dv!.id,
      });
      await registry.updateRun({ id: run!.id, state: registryv1.RunState.RUNNING });
      await registry.updateRun({ id: run!.id, state: registryv1.RunState.SUCCEEDED });
      const { modelVersion } = await registry.registerModelVersion({
        name: 'jane-twin',
        runId: run!.id,
        weightsKind: registryv1.WeightsKind.ADAPTER,
        artifacts: [
          {
            name: 'adapter.gguf',
            uri: adapter.uri,
            sha256: adapter.sha256,
            sizeBytes: BigInt(adapter.sizeBytes),
            mediaType: adapter.mediaType,
          },
        ],
      });
      // A person approves it into production, with the CLI.
      await cli('models', 'request', modelVersion!.id, '--stage', 'production');
      await cli('models', 'approve', modelVersion!.id);
      return modelVersion!;
    };

    const stock = await ask('jane', '--model', 'twin');
    expect(stock).toMatchObject({ model: 'twin', modelVersion: null, modelVersionId: null });

    const v1 = await register();
    // The router learns of the approval through the registry's events.
    const first = await poll(() => ask('jane'), {
      what: 'jane answered by jane-twin/1',
      timeoutMs: 60_000,
      intervalMs: 200,
      until: (a) => a.modelVersion === 'jane-twin/1',
    });
    expect(first).toMatchObject({ model: 'twin', modelVersionId: v1.id });
    expect(first.answer).toMatch(/Arr, matey/);
    expect(stock.answer).not.toMatch(/matey/);
    expect(await readdir(cacheDir)).toEqual([`${adapter.sha256}.gguf`]);
    expect(await ask('bob')).toMatchObject({ modelVersion: null });

    const v2 = await register();
    await poll(() => ask('jane'), {
      what: 'jane answered by jane-twin/2',
      timeoutMs: 60_000,
      intervalMs: 200,
      until: (a) => a.modelVersionId === v2.id,
    });

    await cli('models', 'rollback', 'jane-twin');
    await poll(() => ask('jane'), {
      what: 'jane answered by jane-twin/1 again after the rollback',
      timeoutMs: 60_000,
      intervalMs: 200,
      until: (a) => a.modelVersionId === v1.id,
    });

    await cli('models', 'request', v1.id, '--stage', 'archived');
    const back = await poll(() => ask('jane'), {
      what: 'jane answered by the stock model once her version is archived',
      timeoutMs: 60_000,
      intervalMs: 200,
      until: (a) => a.modelVersion === null,
    });
    expect(back.answer).toEqual(stock.answer);
  }, 300_000);
});
