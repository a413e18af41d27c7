// Test fixture: a Registry over a temporary embedded warehouse and event bus, and valid requests to build on.
import { expect } from '@jest/globals';
import { create, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { decodeEvent, type EventBus, type Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DomainError } from '@llmtwin/runtime/errors';
import { Registry } from './domain/registry.js';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface RegistryFixture {
  dir: string;
  warehouse: Warehouse;
  bus: EventBus;
  registry: Registry;
  /** A clock the test moves: every call returns a later millisecond. */
  clock: { now: number };
  /** Every RegistryEvent published so far, in order. */
  events(): Promise<registryeventsv1.RegistryEvent[]>;
  close(): Promise<void>;
}

export async function openRegistry(): Promise<RegistryFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-registry-'));
  const warehouse = await createWarehouse(`sqlite:${path.join(dir, 'warehouse.db')}`);
  const bus = createEventBus(`log:${path.join(dir, 'bus.db')}`);
  const clock = { now: Date.UTC(2025, 0, 1) };
  const registry = new Registry(warehouse, bus, () => ++clock.now);
  await registry.init();
  return {
    dir,
    warehouse,
    bus,
    registry,
    clock,
    events: async () =>
      (await bus.read(topics.registry)).map((m) => decodeEvent(registryeventsv1.RegistryEventSchema, m)),
    close: async () => {
      await bus.close();
      await warehouse.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function source(
  n: number,
  overrides: Init<typeof registryv1.SourceDocumentSchema> = {},
): registryv1.SourceDocument {
  return create(registryv1.SourceDocumentSchema, {
    documentId: `doc_${n}`,
    version: 1n,
    cleanedContentHash: sha256(`cleaned ${n}`),
    rawContentHash: sha256(`raw ${n}`),
    sourceId: 'src_blog',
    canonicalUrl: `https://blog.example.com/post-${n}`,
    title: `Post ${n}`,
    ...overrides,
  });
}

/** The plain-object form of a message init (MessageInitShape also admits a whole message). */
export type Init<D extends DescMessage> = Partial<Exclude<MessageInitShape<D>, MessageShape<D>>>;
export type DatasetRequestInit = Init<typeof registryv1.CreateDatasetVersionRequestSchema>;

export function datasetRequest(overrides: DatasetRequestInit = {}): registryv1.CreateDatasetVersionRequest {
  return create(registryv1.CreateDatasetVersionRequestSchema, {
    dataset: 'jane-instruct',
    kind: registryv1.DatasetKind.INSTRUCT,
    authorId: 'jane',
    splits: [
      { name: 'train', examples: 90n },
      { name: 'test', examples: 10n },
    ],
    contentHash: sha256('examples v1'),
    sources: [source(1), source(2)],
    generator: { kind: 'extractive' },
    ...overrides,
  });
}

/** A dataset version, a succeeded SFT run on it, and a model version registered from the run. */
export async function trainedModel(
  registry: Registry,
  options: {
    model?: string;
    contentHash?: string;
    sources?: registryv1.SourceDocument[];
    /** More fields of the RegisterModelVersionRequest (an evaluation, a rejection reason). */
    registration?: Init<typeof registryv1.RegisterModelVersionRequestSchema>;
  } = {},
) {
  const { datasetVersion } = await registry.datasets.create(
    datasetRequest({
      contentHash: options.contentHash ?? sha256('examples v1'),
      ...(options.sources ? { sources: options.sources } : {}),
    }),
  );
  const dv = datasetVersion;
  const run = await registry.runs.create(
    create(registryv1.CreateRunRequestSchema, {
      experiment: 'jane-sft',
      method: registryv1.TrainingMethod.SFT,
      baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
      datasetVersionId: dv.id,
      params: { lr: 0.0002, epochs: 3 },
    }),
  );
  await registry.runs.update(
    create(registryv1.UpdateRunRequestSchema, { id: run.id, state: registryv1.RunState.RUNNING }),
  );
  await registry.runs.update(
    create(registryv1.UpdateRunRequestSchema, { id: run.id, state: registryv1.RunState.SUCCEEDED }),
  );
  const mv = await registry.models.register(
    create(registryv1.RegisterModelVersionRequestSchema, {
      name: options.model ?? 'jane-twin',
      runId: run.id,
      servingModelId: 'jane-twin-lora',
      weightsKind: registryv1.WeightsKind.ADAPTER,
      artifacts: [
        {
          uri: 'artifact://sha256/' + sha256('adapter'),
          sha256: sha256('adapter'),
          name: 'adapter.safetensors',
        },
      ],
      ...options.registration,
    }),
  );
  return { dv, run, mv };
}

/** An evaluation report whose perplexity gate failed (candidate no better than the base model). */
export function failedEvaluation(): registryv1.EvaluationReport {
  return create(registryv1.EvaluationReportSchema, {
    scores: [
      { role: 'candidate', model: 'jane-twin v?', perplexity: 19.2, styleDistance: 0.41, examples: 12n },
      {
        role: 'base',
        model: 'Qwen/Qwen2.5-0.5B-Instruct',
        perplexity: 18.4,
        styleDistance: 0.44,
        examples: 12n,
      },
    ],
    gates: [
      {
        name: 'perplexity',
        passed: false,
        detail: 'perplexity 19.2 vs base 18.4: 4% higher, need >= 5% lower',
      },
      { name: 'style', passed: true, detail: 'style distance 0.41 vs base 0.44' },
    ],
    judgeModel: '',
    wallSeconds: 42.5,
    passed: false,
  });
}

/** The DomainError a promise rejects with (fails the test when it resolves or throws something else). */
export async function rejection(p: Promise<unknown>): Promise<DomainError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}
