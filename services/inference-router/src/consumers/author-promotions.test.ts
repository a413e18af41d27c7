// The author → model version table and how registry events map onto it (consumers/model-promotion), as
// pure logic: which version answers for whom after promotions, rollbacks, retirements and taints, in
// whatever order events of different versions arrive, and what is released on the backends.
import { describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { registryeventsv1, registryv1 } from '@llmtwin/contracts';
import { pino } from 'pino';
import { PromotionApplier, authorModelOf, promotionAction } from './model-promotion.consumer.js';
import { AuthorModels, type AuthorModel } from '../domain/author-models.js';

const { PRODUCTION, CANDIDATE, ARCHIVED } = registryv1.Stage;
const sha = 'ab'.repeat(32);

const version = (
  n: number,
  extra: Omit<MessageInitShape<typeof registryv1.ModelVersionSchema>, '$typeName'> = {},
) =>
  create(registryv1.ModelVersionSchema, {
    id: `mv_jane_${n}`,
    name: 'jane-twin',
    version: BigInt(n),
    authorId: 'jane',
    baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    weightsKind: registryv1.WeightsKind.ADAPTER,
    artifacts: [
      { name: 'adapter', uri: 'artifact://sha256/' + 'cd'.repeat(32), sha256: 'cd'.repeat(32) },
      { name: 'adapter.gguf', uri: `artifact://sha256/${sha}`, sha256: sha, sizeBytes: 1234n },
    ],
    ...extra,
  });

const event = (
  mv: registryv1.ModelVersion,
  stage: registryv1.Stage,
  previousStage: registryv1.Stage,
  at: number,
) =>
  create(registryeventsv1.RegistryEventSchema, {
    eventId: `${mv.id}-${at}`,
    eventTime: timestampFromMs(at),
    event: {
      case: 'modelStageChanged',
      value: { modelVersion: { ...mv, stage }, previousStage, reviewer: 'ana' },
    },
  });

const model = (n: number): AuthorModel => authorModelOf(version(n))!;

describe('AuthorModels', () => {
  it('serves the newest version per author, releases the one it replaces, and retires only the current one', async () => {
    const released: string[] = [];
    const table = new AuthorModels(async (m) => void released.push(m.modelVersionId));
    expect(table.forAuthor('jane')).toBeUndefined();
    await table.serve(model(1));
    await table.serve(model(1)); // a replayed event: nothing to release
    expect(table.forAuthor('jane')?.label).toBe('jane-twin/1');
    await table.serve(model(2));
    expect(released).toEqual(['mv_jane_1']);
    expect(await table.retire('jane', 'mv_jane_1')).toBe(false);
    expect(table.forAuthor('jane')?.modelVersionId).toBe('mv_jane_2');
    expect(await table.retire('jane', 'mv_jane_2')).toBe(true);
    expect(table.forAuthor('jane')).toBeUndefined();
    expect(released).toEqual(['mv_jane_1', 'mv_jane_2']);
    expect(table.forAuthor('')).toBeUndefined();
  });
});

describe('registry events → author models', () => {
  it('reads an adapter version: label, GPU server name, and the GGUF artifact named adapter.gguf', () => {
    expect(model(3)).toEqual({
      authorId: 'jane',
      modelVersionId: 'mv_jane_3',
      label: 'jane-twin/3',
      servingName: 'jane-twin-v3',
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      gguf: { uri: `artifact://sha256/${sha}`, sha256: sha, sizeBytes: 1234 },
    });
    expect(authorModelOf(version(3, { servingModelId: 'jane-lora' }))?.servingName).toBe('jane-lora');
    expect(authorModelOf(version(3, { artifacts: [] }))?.gguf).toBeUndefined();
    // Merged weights or a version of no author are models of their own, not adapters.
    expect(authorModelOf(version(3, { weightsKind: registryv1.WeightsKind.MERGED }))).toBeUndefined();
    expect(authorModelOf(version(3, { authorId: '' }))).toBeUndefined();
  });

  it('applies promotion, rollback (either arrival order), taint and retirement to the table', async () => {
    const table = new AuthorModels();
    const served: string[] = [];
    const applier = new PromotionApplier(
      {
        serve: async (m) => void served.push(m),
        retire: async (m) => void served.push(`-${m}`),
        serveAuthor: (m) => table.serve(m),
        retireAuthor: async (m) => void (await table.retire(m.authorId, m.modelVersionId)),
      },
      pino({ level: 'silent' }),
    );
    const apply = async (e: registryeventsv1.RegistryEvent) => {
      const action = promotionAction(e);
      if (action) await applier.apply(action);
      return table.forAuthor('jane')?.label ?? 'stock';
    };
    expect(await apply(event(version(1), PRODUCTION, CANDIDATE, 10))).toBe('jane-twin/1');
    expect(await apply(event(version(2), PRODUCTION, CANDIDATE, 20))).toBe('jane-twin/2');
    // v1 archived after v2 took over.
    expect(await apply(event(version(1), ARCHIVED, PRODUCTION, 21))).toBe('jane-twin/2');
    // Rollback, the previous version's event first, then the current one leaving (same time).
    expect(await apply(event(version(1), PRODUCTION, ARCHIVED, 30))).toBe('jane-twin/1');
    expect(await apply(event(version(2), ARCHIVED, PRODUCTION, 30))).toBe('jane-twin/1');
    // An old event arriving late changes nothing.
    expect(await apply(event(version(2), PRODUCTION, CANDIDATE, 20))).toBe('jane-twin/1');
    // The version in production is tainted: it stops answering.
    expect(await apply(event(version(1, { tainted: true }), PRODUCTION, PRODUCTION, 40))).toBe('stock');
    // A tainted version promoted is never served.
    expect(await apply(event(version(5, { tainted: true }), PRODUCTION, CANDIDATE, 50))).toBe('stock');
    expect(await apply(event(version(6), PRODUCTION, CANDIDATE, 60))).toBe('jane-twin/6');
    expect(await apply(event(version(6), ARCHIVED, PRODUCTION, 70))).toBe('stock');
    // Adapters never became models of their own.
    expect(served).toEqual([]);
  });

  it('rollback with the leaving version first also ends on the previous one', async () => {
    const table = new AuthorModels();
    const applier = new PromotionApplier(
      {
        serve: async () => undefined,
        retire: async () => undefined,
        serveAuthor: (m) => table.serve(m),
        retireAuthor: async (m) => void (await table.retire(m.authorId, m.modelVersionId)),
      },
      pino({ level: 'silent' }),
    );
    for (const e of [
      event(version(1), PRODUCTION, CANDIDATE, 10),
      event(version(2), PRODUCTION, CANDIDATE, 20),
      event(version(1), ARCHIVED, PRODUCTION, 20),
      event(version(2), ARCHIVED, PRODUCTION, 30),
      event(version(1), PRODUCTION, ARCHIVED, 30),
    ]) {
      const action = promotionAction(e);
      if (action) await applier.apply(action);
    }
    expect(table.forAuthor('jane')?.label).toBe('jane-twin/1');
  });
});
