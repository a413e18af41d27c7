// Datasets end to end in embedded mode: `llmtwin up` loads the demo author (real saved pages through ingest
// and clean), `llmtwin datasets build` runs a trainer job through the gateway and prints the dataset version
// the registry recorded — train and test examples, raw hashes and sources from ingest, the SmolLM2
// tokenizer's statistics, TRL-readable JSONL in the artifact folder — and an answer edit made through the
// router becomes a preference pair.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cleanv1, gatewayv1, inferencev1, ingestv1, trainerv1 } from '@llmtwin/contracts';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import {
  CHAT_SCHEMA_VERSION,
  PREFERENCE_SCHEMA_VERSION,
  defaultTokenizerModel,
  validateJsonl,
  type SchemaVersion,
} from '@llmtwin/trainer';
import { homedir } from 'node:os';
import { gatewayClient } from './client.js';
import { demoPages } from './demo.js';
import {
  disposeTwin,
  readAdminKey,
  runCli,
  startTwin,
  twinUrl,
  type TwinProcess,
} from './test/twin-process.fixture.js';

const tokenizerModel = defaultTokenizerModel(
  process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin'),
);

interface DatasetJson {
  id: string;
  kind: string;
  schemaVersion: string;
  splits: Record<string, number>;
  artifacts: Record<string, string>;
  stats: Record<string, unknown>;
  generator: Record<string, unknown>;
  sources: { documentId: string; rawContentHash?: string; sourceId?: string; cleanedContentHash: string }[];
}

describe('llmtwin datasets (embedded twin, demo author)', () => {
  let dataDir: string;
  let twin: TwinProcess | undefined;
  let url: string;
  let key: string;
  const remote = () => ['--url', url, '--data-dir', dataDir];

  beforeAll(async () => {
    if (!existsSync(tokenizerModel)) {
      throw new Error(
        `the SmolLM2 tokenizer is not prepared at ${tokenizerModel}: run npm run models:prepare`,
      );
    }
    // No language model: answers are extractive (still stored generations), instructions extractive.
    twin = await startTwin('llmtwin-datasets-', {
      args: ['--no-demo'],
      env: { LLMTWIN_API_KEY: '', LLMTWIN_LLM_BACKENDS: '', LLMTWIN_DATASET_GENERATOR: undefined },
    });
    dataDir = twin.dataDir;
    url = await twinUrl(twin);
    key = await readAdminKey(dataDir);
    const demo = await runCli(['demo', '--json', ...remote()]);
    expect({ code: demo.code, stderr: demo.stderr }).toEqual({ code: 0, stderr: '' });
    // Cleaning follows the import through events: wait until every demo page is in the cleaned snapshot.
    const clean = gatewayClient(cleanv1.CleanService, url, key);
    const pages = demoPages().length;
    for (let cleaned = 0; cleaned < pages;) {
      cleaned = (await clean.listCleanedDocuments({ authorId: 'demo', page: { pageSize: 500 } })).documents
        .length;
      if (cleaned < pages) await new Promise((r) => setTimeout(r, 500));
    }
  }, 240_000);

  afterAll(() => disposeTwin(twin));

  async function jsonl(dataset: DatasetJson, split: string, schema: SchemaVersion) {
    const store = await createArtifactStore(`file:${path.join(dataDir, 'artifacts')}`);
    try {
      const text = new TextDecoder().decode(await store.get(dataset.artifacts[split]!));
      expect(validateJsonl(text, schema)).toEqual([]);
      return text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    } finally {
      await store.close();
    }
  }

  it('builds an instruct dataset version recorded in the registry, with both splits and its sources', async () => {
    const build = await runCli(['datasets', 'build', '--author', 'demo', '--json', ...remote()]);
    expect({ code: build.code, stderr: build.stderr }).toEqual({ code: 0, stderr: '' });
    const { datasetVersion: v, job } = JSON.parse(build.stdout) as {
      datasetVersion: DatasetJson;
      job: { state: string };
    };
    expect(job.state).toBe('JOB_STATE_SUCCEEDED');
    expect(v).toMatchObject({
      kind: 'instruct',
      schemaVersion: CHAT_SCHEMA_VERSION,
      dataset: 'demo-instruct',
    });
    expect(v.splits['train']).toBeGreaterThan(0);
    expect(v.splits['test']).toBeGreaterThan(0);
    expect(v.stats).toMatchObject({
      tokenizer: 'SmolLM2-135M-Instruct (gguf)',
      minTokens: '32',
      maxTokens: '1024',
    });
    expect(v.generator).toMatchObject({ kind: 'extractive', modelId: 'extractive' });
    expect(v.sources.length).toBeGreaterThan(1);
    // Hashes and sources as ingest has them (archive imports belong to no registered source).
    const raw = await gatewayClient(ingestv1.IngestService, url, key).listDocuments({
      authorId: 'demo',
      page: { pageSize: 500 },
    });
    for (const s of v.sources) {
      const doc = raw.documents.find((d) => d.id === s.documentId)!;
      expect(s.rawContentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(s.rawContentHash).toBe(doc.contentHash);
      expect(s.sourceId ?? '').toBe(doc.sourceId);
      expect(s.cleanedContentHash).toMatch(/^[0-9a-f]{64}$/);
    }
    const train = await jsonl(v, 'train', CHAT_SCHEMA_VERSION);
    expect(train).toHaveLength(v.splits['train']!);
    expect(await jsonl(v, 'test', CHAT_SCHEMA_VERSION)).toHaveLength(v.splits['test']!);

    const shown = await runCli(['datasets', 'show', v.id, '--json', ...remote()]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ datasetVersion: { id: v.id, splits: v.splits } });
    const listed = await runCli(['datasets', 'list', '--author', 'demo', '--json', ...remote()]);
    expect(
      (JSON.parse(listed.stdout) as { datasetVersions: { id: string }[] }).datasetVersions.map((d) => d.id),
    ).toContain(v.id);
    // The same snapshot and seed give the same content: nothing new is recorded.
    const again = JSON.parse(
      (await runCli(['datasets', 'build', '--author', 'demo', '--json', ...remote()])).stdout,
    ) as {
      datasetVersion: DatasetJson;
      job: { reused?: boolean };
    };
    expect(again.datasetVersion.id).toBe(v.id);
    expect(again.job.reused).toBe(true);

    const trainer = gatewayClient(trainerv1.TrainerService, url, key);
    const jobs = await trainer.listJobs({ authorId: 'demo' });
    expect(jobs.jobs.filter((j) => j.state === trainerv1.JobState.SUCCEEDED)).toHaveLength(2);
    const status = await gatewayClient(gatewayv1.StatusService, url, key).getStatus({});
    expect(status.services.find((s) => s.name === 'trainer')?.health).toBe(gatewayv1.ServiceHealth.SERVING);
  }, 180_000);

  it('turns an answer edit into a preference pair', async () => {
    const router = gatewayClient(inferencev1.InferenceService, url, key);
    const answer = await router.generate({
      query: 'What is a VLAE?',
      authorId: 'demo',
      retrieval: { topK: 1 },
    });
    await router.editAnswer({
      generationId: answer.generationId,
      editedAnswer:
        'A variational lossy autoencoder: a VAE whose decoder cannot model everything on its own.',
    });
    const build = await runCli([
      'datasets',
      'build',
      '--author',
      'demo',
      '--kind',
      'preference',
      '--json',
      ...remote(),
    ]);
    expect(build.code).toBe(0);
    const v = (JSON.parse(build.stdout) as { datasetVersion: DatasetJson }).datasetVersion;
    expect(v).toMatchObject({ kind: 'preference', schemaVersion: PREFERENCE_SCHEMA_VERSION });
    expect(v.stats['feedbackPairs']).toBe('1');
    const pairs = [
      ...(await jsonl(v, 'train', PREFERENCE_SCHEMA_VERSION)),
      ...(await jsonl(v, 'test', PREFERENCE_SCHEMA_VERSION)),
    ];
    expect(pairs).toContainEqual({
      prompt: [{ role: 'user', content: 'What is a VLAE?' }],
      chosen: [
        {
          role: 'assistant',
          content: 'A variational lossy autoencoder: a VAE whose decoder cannot model everything on its own.',
        },
      ],
      rejected: [{ role: 'assistant', content: answer.answer.trim() }],
    });
  }, 180_000);
});
