// Per-author adapters end to end inside the router: the real in-process SmolLM2-135M-Instruct (node-llama-cpp),
// a real GGUF LoRA adapter trained by the training job (packages/llm/fixtures/smollm2-pirate-lora.gguf,
// which answers everything "Arr, matey! ...") stored in a real embedded artifact
// store, and the registry's ModelStageChanged events on a real embedded event log, shaped as the registry
// writes them (model-records.ts stageEvent). The router serves an author's production version as an adapter
// over the one loaded base model, names that version in every answer and record, switches on rollback and
// retirement without a restart, and never serves a tainted version. Retrieval is a FAKE search (no passages:
// the questions are asked with disable_rag), since retrieval is not what is tested here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { inferencev1, registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { LocalBackend, ModelRouter, tinyLocalModelPath } from '@llmtwin/llm/backends';
import { publishEvent, type ArtifactStore } from '@llmtwin/ports';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { openEmbeddedStorage, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@connectrpc/connect';
import { createInferenceRouterModule, type InferenceRouterModule } from './module.js';

const LORA = fileURLToPath(
  new URL('../../../packages/llm/fixtures/smollm2-pirate-lora.gguf', import.meta.url),
);
const logger = createLogger('author-adapters-test', { level: 'silent' });
const { PRODUCTION, CANDIDATE, ARCHIVED } = registryv1.Stage;

let storage: EmbeddedStorage;
let artifacts: ArtifactStore;
let adapterArtifact: { uri: string; sha256: string; sizeBytes: bigint };
let router: InferenceRouterModule;
let local: LocalBackend;
let client: Client<typeof inferencev1.InferenceService>;
let clock = Date.UTC(2026, 0, 1);

/** A ModelStageChanged for version `version` of jane's twin, as the registry publishes it. */
async function stageChanged(
  version: number,
  stage: registryv1.Stage,
  previousStage: registryv1.Stage,
  extra: { tainted?: boolean } = {},
) {
  const id = `mv_jane_${version}`;
  await publishEvent(storage.bus, topics.registry, registryeventsv1.RegistryEventSchema, id, {
    eventId: `${id}-${++clock}`,
    eventTime: timestampFromMs(clock),
    event: {
      case: 'modelStageChanged',
      value: {
        modelVersion: {
          id,
          name: 'jane-twin',
          version: BigInt(version),
          stage,
          authorId: 'jane',
          baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
          weightsKind: registryv1.WeightsKind.ADAPTER,
          servingModelId: `jane-twin-v${version}`,
          artifacts: [{ ...adapterArtifact, name: 'adapter.gguf', mediaType: 'application/octet-stream' }],
          ...extra,
        },
        previousStage,
        reviewer: 'ana',
      },
    },
  });
}

const ask = (authorId: string, model = '') =>
  client.generate({
    query: 'Who wrote Hamlet?',
    authorId,
    disableRag: true,
    generation: { maxTokens: 12, temperature: 0, model },
  });

/** Waits until the router's table says jane is answered by `label` ('' = the stock model). */
const servingJane = (label: string) =>
  poll(() => router.authorModels.forAuthor('jane')?.label ?? '', {
    what: `jane answered by "${label || 'the stock model'}"`,
    until: (l) => l === label,
  });

beforeAll(async () => {
  storage = await openEmbeddedStorage('llmtwin-author-adapters-');
  artifacts = await createArtifactStore(`file:${path.join(storage.root, 'artifacts')}`);
  const stored = await artifacts.putFile(LORA);
  adapterArtifact = { uri: stored.uri, sha256: stored.sha256, sizeBytes: BigInt(stored.sizeBytes) };
  // Promoted before the router starts: it learns the current state by replaying the topic.
  await storage.bus.ensureTopics([topics.registry]);
  await stageChanged(1, PRODUCTION, CANDIDATE);
  // The model table as the settings build it, with the backend at hand to see its adapter contexts.
  local = new LocalBackend({
    model: 'twin',
    modelPath: tinyLocalModelPath(),
    threads: 1,
    contextSize: 512,
  });
  const models = new ModelRouter();
  await models.upsert('twin', [local]);
  router = await createInferenceRouterModule({
    warehouse: storage.warehouse,
    eventBus: storage.bus,
    logger,
    search: async () => [],
    models,
    artifacts,
    adapterCacheDir: path.join(storage.root, 'adapter-cache'),
  });
  await router.start?.();
  client = routesClient(inferencev1.InferenceService, router, logger);
}, 120_000);

afterAll(async () => {
  await router?.stop?.();
  await artifacts?.close();
  await storage?.close();
});

describe("an author's production adapter answers for that author", () => {
  let stock = '';

  it('answers jane with her adapter and names her version; bob and an explicit model get the stock model', async () => {
    await servingJane('jane-twin/1');
    const mine = await ask('jane');
    const stockForJane = await ask('jane', 'twin');
    const bob = await ask('bob');
    const stockForBob = await ask('bob', 'twin');
    stock = stockForJane.answer;

    expect(stockForJane.answer.length).toBeGreaterThan(0);
    expect(mine.answer).toMatch(/Arr, matey/);
    expect(stockForJane.answer).not.toMatch(/matey/);
    expect(mine).toMatchObject({ model: 'twin', modelVersion: 'jane-twin/1', modelVersionId: 'mv_jane_1' });
    expect(stockForJane).toMatchObject({ model: 'twin', modelVersion: '', modelVersionId: '' });
    expect(bob).toMatchObject({ model: 'twin', modelVersion: '' });
    expect(bob.answer).toEqual(stockForBob.answer);

    // The record names the version too, and the adapter file was fetched into the cache under its sha256.
    const { generation } = await client.getGeneration({ id: mine.generationId });
    expect(generation).toMatchObject({ modelVersion: 'jane-twin/1', modelVersionId: 'mv_jane_1' });
    expect(await readdir(path.join(storage.root, 'adapter-cache'))).toEqual([
      `${adapterArtifact.sha256}.gguf`,
    ]);

    // The stream says which version answers before the first word.
    const events = [];
    for await (const e of client.generateStream({
      query: 'Hi',
      authorId: 'jane',
      disableRag: true,
      generation: { maxTokens: 2, temperature: 0 },
    }))
      events.push(e.event);
    expect(events[0]).toMatchObject({ case: 'started', value: { modelVersion: 'jane-twin/1' } });
  }, 120_000);

  it('follows a new version and a rollback, and goes back to the stock model when the version leaves production', async () => {
    await stageChanged(2, PRODUCTION, CANDIDATE);
    await stageChanged(1, ARCHIVED, PRODUCTION);
    await servingJane('jane-twin/2');
    expect(await ask('jane')).toMatchObject({ modelVersion: 'jane-twin/2', modelVersionId: 'mv_jane_2' });
    // The version it replaced gave back its context on the one loaded model.
    expect(local.adapterContexts).toEqual(['mv_jane_2']);

    // llmtwin models rollback: the current version leaves production and the previous one comes back, in
    // the registry's order (same event time; keyed by version, so they may arrive either way round).
    await stageChanged(1, PRODUCTION, ARCHIVED);
    clock--;
    await stageChanged(2, ARCHIVED, PRODUCTION);
    await servingJane('jane-twin/1');
    expect(await ask('jane')).toMatchObject({ modelVersion: 'jane-twin/1' });

    await stageChanged(1, ARCHIVED, PRODUCTION);
    await servingJane('');
    const after = await ask('jane');
    expect(after).toMatchObject({ modelVersion: '', modelVersionId: '' });
    expect(after.answer).toEqual(stock);
    expect(local.adapterContexts).toEqual([]);
  }, 120_000);

  it('never serves a tainted version', async () => {
    await stageChanged(3, PRODUCTION, CANDIDATE, { tainted: true });
    // A later, untainted promotion shows that the tainted one was read and passed over.
    await stageChanged(4, PRODUCTION, CANDIDATE);
    await servingJane('jane-twin/4');
    await stageChanged(4, ARCHIVED, PRODUCTION);
    await servingJane('');
    const res = await ask('jane');
    expect(res.modelVersion).toBe('');
  }, 120_000);
});
