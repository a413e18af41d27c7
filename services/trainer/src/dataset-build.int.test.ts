// A dataset build on the real backends: the ingest, clean, registry and trainer modules in this process, on
// FerretDB (a database of this file's own), the shared Kafka, and the S3-compatible server for the split
// files, reaching each other through an in-process directory as in the embedded twin. Saved pages are
// imported through ingest and cleaned by clean's Reprocess; the trainer builds an instruct dataset version.
// What it shows: the split files are in S3 (read back through a second artifact store on the same URL),
// their bytes match the sha256 the registry recorded, every line is a chat-messages/1 example; and the
// registry's DatasetVersionCreated for the version is on Kafka, read by a consumer group of this run.
//
// clean and registry are not started: their consumer groups ('clean', 'registry') are fixed names, and on
// the shared Kafka they would take events meant for the other test files' modules (registry.int.test.ts
// relies on its own module receiving its tombstone). Nothing here needs them: Reprocess cleans without the
// consumer, and CreateDatasetVersion publishes its event itself after the write.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@connectrpc/connect';
import { cleanv1, ingestv1, registryeventsv1, registryv1, topics, trainerv1 } from '@llmtwin/contracts';
import { InProcessDirectory, createModuleHealth, type ServiceModule, type ServiceName } from '@llmtwin/host';
import { SAVED_PAGES_MANIFEST, createIngestModule, writeZip } from '@llmtwin/ingest';
import { createCleanModule } from '@llmtwin/clean';
import { createRegistryModule } from '@llmtwin/registry';
import {
  decodeEvent,
  type ArtifactStore,
  type EventBus,
  type Subscription,
  type Warehouse,
} from '@llmtwin/ports';
import { createArtifactStore, createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { buildServer, createLogger } from '@llmtwin/runtime';
import { testBackendUrl } from '@llmtwin/testkit';
import { poll } from '@llmtwin/testkit/poll';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { committedFixtures } from '../../ingest/test/fixture-paths.js';
import { CHAT_SCHEMA_VERSION, validateJsonl } from './domain/export-format.js';
import { createTrainerModule } from './module.js';

// Unique per run: the Kafka topics, the FerretDB server and the S3 bucket are shared with other test files.
const tag = randomUUID().slice(0, 8);
const author = `trainer-int-${tag}`;
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
/** Orders `<sha256>  <file>` lines by file name, as the builder's manifest does. */
const byFileName = (a: string, b: string) => a.slice(66).localeCompare(b.slice(66));

/** Saved pages (committed fixtures) with the address each was saved from. */
const pages = [
  [
    'substack/kepano-defuddle/tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html',
    'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes',
  ],
  [
    'medium/postlight-parser/fixtures/medium.com.html',
    'https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573',
  ],
  [
    'medium/postlight-parser/fixtures/medium.com--mtg.html',
    'https://humanparts.medium.com/the-mtg-color-wheel-c9700a7cf36d',
  ],
  [
    'medium/mozilla-readability/test/test-pages/medium-1/source.html',
    'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb',
  ],
  [
    'linkedin/postlight-parser/fixtures/www.linkedin.com.html',
    'https://www.linkedin.com/pulse/what-set-your-soul-fire-2017-ellyn-shook',
  ],
] as const;

async function savedPagesZip(): Promise<Uint8Array> {
  const files = pages.map(([file], i) => ({
    name: `pages/${i + 1}.html`,
    path: path.join(committedFixtures, file),
  }));
  return writeZip([
    {
      name: SAVED_PAGES_MANIFEST,
      data: JSON.stringify({ pages: files.map((f, i) => ({ file: f.name, url: pages[i]![1] })) }),
    },
    ...(await Promise.all(files.map(async (f) => ({ name: f.name, data: await readFile(f.path) })))),
  ]);
}

/** The S3 URL of the harness, under a key prefix of this run's own. */
function s3Url(): string {
  const url = new URL(testBackendUrl('s3'));
  url.pathname = `${url.pathname.replace(/\/$/, '')}/trainer-int-${tag}`;
  return url.href;
}

const logger = createLogger('trainer-int', { level: 'warn' });
let dataDir: string;
let warehouse: Warehouse;
let bus: EventBus;
let artifacts: ArtifactStore;
let readBack: ArtifactStore;
let subscription: Subscription | undefined;
const modules: ServiceModule[] = [];
const directory = new InProcessDirectory();
const created: registryeventsv1.DatasetVersionCreated[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainer-int-'));
  warehouse = await createWarehouse(testBackendUrl('mongodb'), {
    mongodb: { databaseName: `trainer_int_${tag.replace(/-/g, '')}` },
  });
  bus = createEventBus(testBackendUrl('kafka'));
  artifacts = await createArtifactStore(s3Url(), { env: {} });
  readBack = await createArtifactStore(s3Url(), { env: {} });

  const ingest = await createIngestModule({ warehouse, eventBus: bus, logger, dataDir });
  const clean = await createCleanModule({ warehouse, eventBus: bus, logger, directory });
  const registry = await createRegistryModule({ warehouse, eventBus: bus, logger });
  const trainer = await createTrainerModule({ warehouse, eventBus: bus, logger, directory, artifacts });
  const named: [ServiceName, ServiceModule][] = [
    ['ingest', ingest],
    ['clean', clean],
    ['registry', registry],
    ['trainer', trainer],
  ];
  for (const [name, module] of named) {
    const server = buildServer({
      name,
      register: (router) => module.register(router),
      services: [...module.services],
      health: createModuleHealth(module),
      logger,
    });
    directory.add(name, server.routes);
    modules.push(module);
  }
  // Ingest runs its import jobs and its outbox; clean and registry stay unstarted (see the top).
  await ingest.start?.();

  // A consumer group of this run's own reads the registry topic from its start.
  await bus.ensureTopics([topics.registry]);
  subscription = await bus.subscribe({
    group: `trainer-int-${tag}`,
    topics: [topics.registry],
    from: 'earliest',
    handler: async (message) => {
      const event = decodeEvent(registryeventsv1.RegistryEventSchema, message);
      if (event.event.case === 'datasetVersionCreated') created.push(event.event.value);
    },
  });
}, 120_000);

afterAll(async () => {
  await subscription?.stop();
  for (const module of modules.reverse()) await module.stop?.();
  await artifacts?.close();
  await readBack?.close();
  await bus?.close();
  await warehouse?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const client = <S extends Parameters<typeof createClient>[0]>(service: S, name: ServiceName) =>
  createClient(service, directory.transport(name));

describe('a dataset build on FerretDB, Kafka and S3', () => {
  it('stores the split files in S3 as chat-format JSONL and publishes DatasetVersionCreated on Kafka', async () => {
    const ingest = client(ingestv1.IngestService, 'ingest');
    const clean = client(cleanv1.CleanService, 'clean');
    const registry = client(registryv1.RegistryService, 'registry');
    const trainer = client(trainerv1.TrainerService, 'trainer');

    // The pages through ingest, then cleaned.
    await ingest.createAuthor({ id: author, displayName: 'Trainer integration author' });
    const { job } = await ingest.importArchive({
      authorId: author,
      fileName: 'saved-pages.zip',
      content: await savedPagesZip(),
    });
    const imported = await poll(async () => (await ingest.getCrawlJob({ id: job!.id })).job!, {
      what: 'the import',
      timeoutMs: 60_000,
      intervalMs: 200,
      until: (j) => j.state !== ingestv1.CrawlJobState.QUEUED && j.state !== ingestv1.CrawlJobState.RUNNING,
    });
    expect({ state: ingestv1.CrawlJobState[imported.state], created: imported.documentsCreated }).toEqual({
      state: 'SUCCEEDED',
      created: BigInt(pages.length),
    });
    expect((await clean.reprocess({ authorId: author })).documentsQueued).toBe(BigInt(pages.length));
    const cleaned = await poll(
      async () => (await clean.listCleanedDocuments({ authorId: author, page: { pageSize: 100 } })).documents,
      {
        what: 'every page in the cleaned snapshot',
        timeoutMs: 60_000,
        intervalMs: 250,
        until: (docs) => docs.length === pages.length,
      },
    );
    expect(cleaned.map((d) => d.canonicalUrl).sort()).toEqual(pages.map(([, url]) => url).sort());

    // The build.
    const { job: queued } = await trainer.buildDataset({ authorId: author, generatorModel: 'extractive' });
    const built = await poll(async () => (await trainer.getJob({ id: queued!.id })).job!, {
      what: 'the dataset build',
      timeoutMs: 120_000,
      intervalMs: 250,
      until: (j) => j.state !== trainerv1.JobState.QUEUED && j.state !== trainerv1.JobState.RUNNING,
    });
    expect({ state: trainerv1.JobState[built.state], message: built.message }).toMatchObject({
      state: 'SUCCEEDED',
    });
    const dv = (await registry.getDatasetVersion({ id: built.datasetVersionId })).datasetVersion!;
    expect(dv).toMatchObject({
      dataset: `${author}-instruct`,
      authorId: author,
      schemaVersion: CHAT_SCHEMA_VERSION,
    });
    expect(dv.splits.map((s) => s.name).sort()).toEqual(['test', 'train']);

    // The split files, read back from S3 through the artifact store.
    expect(readBack.adapter).toBe('s3');
    const manifest: string[] = [];
    for (const split of dv.splits) {
      const artifact = split.artifact!;
      expect(Number(split.examples)).toBeGreaterThan(0);
      expect(artifact).toMatchObject({ name: `${split.name}.jsonl`, mediaType: 'application/jsonl' });
      expect(artifact.uri).toBe(`artifact://sha256/${artifact.sha256}`);
      expect(await readBack.stat(artifact.uri)).toMatchObject({
        sha256: artifact.sha256,
        sizeBytes: Number(artifact.sizeBytes),
      });
      const bytes = await readBack.get(artifact.uri);
      expect(sha256(bytes)).toBe(artifact.sha256);
      expect(bytes.byteLength).toBe(Number(artifact.sizeBytes));
      const text = new TextDecoder().decode(bytes);
      expect(validateJsonl(text, CHAT_SCHEMA_VERSION)).toEqual([]);
      const lines = text.trimEnd().split('\n');
      expect(lines).toHaveLength(Number(split.examples));
      for (const line of lines) {
        const example = JSON.parse(line) as { messages: { role: string; content: string }[] };
        expect(Object.keys(example)).toEqual(['messages']);
        expect(example.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
        for (const m of example.messages) {
          expect(Object.keys(m)).toEqual(['role', 'content']);
          expect(m.content.trim()).not.toBe('');
        }
      }
      manifest.push(`${artifact.sha256}  ${artifact.name}\n`);
    }
    // The version's content hash is that of the files' sha256sum-style manifest.
    expect(dv.contentHash).toBe(sha256(manifest.sort(byFileName).join('')));

    // DatasetVersionCreated, on Kafka.
    const event = await poll(() => created.find((e) => e.datasetVersion?.id === dv.id), {
      what: `DatasetVersionCreated for ${dv.id} on Kafka`,
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    expect(event.datasetVersion).toMatchObject({
      id: dv.id,
      dataset: dv.dataset,
      version: dv.version,
      contentHash: dv.contentHash,
      splits: dv.splits.map((s) => ({
        name: s.name,
        examples: s.examples,
        artifact: { uri: s.artifact!.uri },
      })),
    });
    expect(event.datasetVersion!.sources.map((s) => s.documentId).sort()).toEqual(
      dv.sources.map((s) => s.documentId).sort(),
    );
  }, 240_000);
});
