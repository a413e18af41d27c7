// The registry commands against a real registry server (port 0, embedded warehouse and bus): what they
// print, their exit codes, and the lineage tree.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { registryv1 } from '@llmtwin/contracts';
import { hostModule, type HostedService } from '@llmtwin/host';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createRegistryModule } from '@llmtwin/registry';
import { createLogger } from '@llmtwin/runtime';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gatewayClient } from '../client.js';
import {
  inferLineageType,
  lineage,
  modelsAlias,
  modelsList,
  modelsRequest,
  modelsReview,
  modelsRollback,
  modelsShow,
  renderComparison,
  runsCompare,
  runsList,
  runsShow,
} from './registry.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
// Colours off, so assertions read plain text.
process.env['NO_COLOR'] = '1';

let dir: string;
let warehouse: Warehouse;
let bus: EventBus;
let hosted: HostedService;
let o: { url: string; json: boolean };
const ids = { dv: '', runA: '', runB: '', mv1: '', mv2: '' };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-cli-registry-'));
  warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
  bus = createEventBus(`log:${path.join(dir, 'bus.db')}`);
  const logger = createLogger('registry', { level: 'silent' });
  const module = await createRegistryModule({ warehouse, eventBus: bus, logger });
  hosted = await hostModule(module, { port: 0, host: '127.0.0.1', logger, shutdownTimeoutMs: 1000 });
  o = { url: hosted.url, json: false };
  const c = gatewayClient(registryv1.RegistryService, hosted.url);
  const dv = await c.createDatasetVersion({
    dataset: 'jane-instruct',
    kind: registryv1.DatasetKind.INSTRUCT,
    authorId: 'jane',
    splits: [{ name: 'train', examples: 10n }],
    contentHash: sha('examples'),
    sources: [
      {
        documentId: 'doc_1',
        version: 1n,
        cleanedContentHash: sha('c1'),
        rawContentHash: sha('r1'),
        sourceId: 'src_blog',
        canonicalUrl: 'https://blog.example.com/one',
        title: 'One',
      },
    ],
  });
  ids.dv = dv.datasetVersion!.id;
  const run = (lr: number) =>
    c.createRun({
      experiment: 'jane-sft',
      method: registryv1.TrainingMethod.SFT,
      baseModel: 'base',
      datasetVersionId: ids.dv,
      params: { lr, epochs: 2 },
    });
  ids.runA = (await run(1e-4)).run!.id;
  ids.runB = (await run(2e-4)).run!.id;
  await c.updateRun({
    id: ids.runA,
    state: registryv1.RunState.RUNNING,
    metrics: [{ key: 'loss', step: 1n, value: 0.5 }],
  });
  ids.mv1 = (await c.registerModelVersion({ name: 'jane-twin', runId: ids.runA })).modelVersion!.id;
  ids.mv2 = (await c.registerModelVersion({ name: 'jane-twin', runId: ids.runA })).modelVersion!.id;
});
afterAll(async () => {
  await hosted.stop();
  await bus.close();
  await warehouse.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs a command, returning its exit code and what it printed. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = jest
    .spyOn(console, 'error')
    .mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  try {
    const code = await fn();
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

describe('llmtwin runs', () => {
  it('lists, shows and compares runs', async () => {
    const list = await capture(() => runsList({ ...o, experiment: 'jane-sft' }));
    expect(list.code).toBe(0);
    expect(list.out).toContain(ids.runA);
    expect(list.out).toContain('loss=0.5');
    const show = await capture(() => runsShow({ ...o, id: ids.runA }));
    expect(show.out).toContain('running');
    expect(show.out).toContain('1 metric points recorded');
    const cmp = await capture(() => runsCompare({ ...o, ids: [ids.runA, ids.runB] }));
    expect(cmp.out.split('\n')[1]).toMatch(/^lr\s+0\.0001\s+0\.0002$/);
    const json = await capture(() => runsCompare({ ...o, json: true, ids: [ids.runA, ids.runB] }));
    expect(JSON.parse(json.out)).toMatchObject({ differingParams: ['lr'], metricKeys: ['loss'] });
  });

  it('shows the loss curve and the evaluation of the model version registered from a run', async () => {
    const c = gatewayClient(registryv1.RegistryService, o.url);
    await c.updateRun({
      id: ids.runB,
      state: registryv1.RunState.RUNNING,
      metrics: [3, 2.5, 2].map((value, i) => ({ key: 'loss', step: BigInt(i + 1), value })),
    });
    const reason = 'perplexity-vs-base: 2% lower than the base, need >= 5%';
    const mv = (
      await c.registerModelVersion({
        name: 'jane-twin-b',
        runId: ids.runB,
        evaluation: {
          scores: [
            { role: 'candidate', model: 'x', perplexity: 18, styleDistance: 0.3, examples: 4n },
            { role: 'base', model: 'base', perplexity: 18.4, styleDistance: 0.4, examples: 4n },
          ],
          gates: [
            { name: 'perplexity-vs-base', passed: false, detail: '18.0 vs base 18.4: 2% lower, need >= 5%' },
          ],
          passed: false,
        },
        rejectionReason: reason,
      })
    ).modelVersion!;
    const show = await capture(() => runsShow({ ...o, id: ids.runB }));
    expect(show.code).toBe(0);
    expect(show.out).toContain('loss curve  3 █▅▁ 2  (steps 1-3)');
    expect(show.out).toContain(`✖ ${mv.id} (jane-twin-b v1) rejected: ${reason}`);
    expect(show.out).toMatch(/candidate +x +18\.00 +0\.300 +4/);
    expect(show.out).toContain('✖ perplexity-vs-base  18.0 vs base 18.4: 2% lower, need >= 5%');
    const json = JSON.parse((await capture(() => runsShow({ ...o, json: true, id: ids.runB }))).out) as {
      series: Record<string, unknown>;
      modelVersions: unknown[];
    };
    expect(json.series['loss']).toEqual([
      { step: 1, value: 3 },
      { step: 2, value: 2.5 },
      { step: 3, value: 2 },
    ]);
    expect(json.modelVersions).toEqual([
      expect.objectContaining({ id: mv.id, stage: 'rejected', pendingStage: null, rejectionReason: reason }),
    ]);
  });

  it('prints one clear line and exits 1 when the registry refuses', async () => {
    const res = await capture(() => runsCompare({ ...o, ids: [ids.runA] }));
    expect(res.code).toBe(1);
    expect(res.err).toContain('give at least two different run ids to compare');
  });
});

describe('llmtwin models', () => {
  it('requests production, approves it, shows the history, sets an alias and rolls back', async () => {
    const requested = await capture(() =>
      modelsRequest({ ...o, id: ids.mv1, stage: 'production', as: 'ann' }),
    );
    expect(requested.out).toContain('waiting for a review');
    expect(
      (await capture(() => modelsReview({ ...o, id: ids.mv1, approve: true, as: 'bob' }))).out,
    ).toContain('approved: jane-twin v1');
    await capture(() => modelsRequest({ ...o, id: ids.mv2, stage: 'production' }));
    await capture(() => modelsReview({ ...o, id: ids.mv2, approve: true, as: 'bob' }));
    const show = await capture(() => modelsShow({ ...o, id: 'jane-twin@production' }));
    expect(show.out).toContain('jane-twin v2');
    expect(show.out).toContain('none → production  approved  request');
    expect((await capture(() => modelsAlias({ ...o, id: ids.mv1, alias: 'champion' }))).out).toContain(
      'jane-twin@champion',
    );
    const back = await capture(() => modelsRollback({ ...o, name: 'jane-twin', as: 'bob' }));
    expect(back.out).toContain('in production: jane-twin v1');
    expect(back.out).toContain('taken out: jane-twin v2');
    const list = await capture(() => modelsList({ ...o, stage: 'production' }));
    expect(list.out).toContain(ids.mv1);
    expect(list.out).not.toContain(ids.mv2);
    const again = await capture(() => modelsReview({ ...o, id: ids.mv2, approve: false }));
    expect(again.code).toBe(1);
    expect(again.err).toContain('no transition waiting for review');
  });
});

describe('llmtwin models on a version a gate rejected', () => {
  it('shows the stage, the reason and the evaluation; lists it under rejected; refuses to move it', async () => {
    const c = gatewayClient(registryv1.RegistryService, o.url);
    const reason = 'style-vs-production: 0.41 vs 0.38, need lower';
    const mv = (
      await c.registerModelVersion({
        name: 'jane-twin-c',
        runId: ids.runA,
        evaluation: {
          scores: [
            { role: 'candidate', model: 'cand', perplexity: 12.5, styleDistance: 0.41, examples: 6n },
            { role: 'production', model: 'mv_prod', perplexity: 13, styleDistance: 0.38, examples: 6n },
          ],
          gates: [
            { name: 'perplexity-vs-base', passed: true, detail: '12.5 vs base 14.0: 11% lower' },
            { name: 'style-vs-production', passed: false, detail: '0.41 vs production 0.38: need lower' },
          ],
          wallSeconds: 95,
          passed: false,
        },
        rejectionReason: reason,
      })
    ).modelVersion!;
    const show = await capture(() => modelsShow({ ...o, id: mv.id }));
    expect(show.code).toBe(0);
    expect(show.out.split('\n')[0]).toContain(`${mv.id}  rejected  ✖ ${reason}`);
    expect(show.out).toContain('evaluation failed, in 1m35s');
    expect(show.out).toMatch(/production +mv_prod +13\.00 +0\.380 +6/);
    expect(show.out).toContain('✔ perplexity-vs-base  12.5 vs base 14.0: 11% lower');
    expect(show.out).toContain('✖ style-vs-production  0.41 vs production 0.38: need lower');
    expect(show.out).toContain('none → rejected  applied  evaluation');
    const list = await capture(() => modelsList({ ...o, stage: 'rejected' }));
    expect(list.out).toContain(mv.id);
    expect(list.out).not.toContain(ids.mv1);
    const moved = await capture(() => modelsRequest({ ...o, id: mv.id, stage: 'candidate' }));
    expect(moved.code).toBe(1);
    expect(moved.err).toContain(`was rejected (${reason})`);
  });
});

describe('llmtwin lineage', () => {
  it('prints the upstream tree of a model and the downstream tree of a source', async () => {
    const up = await capture(() => lineage({ ...o, id: ids.mv1, direction: 'up' }));
    expect(up.code).toBe(0);
    const lines = up.out.split('\n');
    expect(lines[0]).toContain(`jane-twin v1  [model ${ids.mv1}]`);
    expect(lines[1]).toContain('└─ run jane-sft (SFT)');
    expect(lines[2]).toContain('   └─ jane-instruct v1  [dataset');
    expect(lines[3]).toContain('One (cleaned)  [cleaned doc_1@1]');
    expect(lines[5]).toContain('source src_blog (blog.example.com)');
    const down = await capture(() => lineage({ ...o, id: 'src_blog', direction: 'down' }));
    expect(down.out).toContain(`jane-twin v2  [model ${ids.mv2}]`);
    const json = await capture(() => lineage({ ...o, json: true, id: ids.dv, direction: 'both' }));
    expect(JSON.parse(json.out).root.label).toBe('jane-instruct v1');
    const unknown = await capture(() => lineage({ ...o, id: 'what', direction: 'both' }));
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('pass --type');
  });

  it('infers the type from the id', () => {
    const T = registryv1.ArtifactType;
    expect(
      ['mv_1', 'run_1', 'dsv_1', 'src_1', 'doc_1@2', 'jane-twin@production', 'x'].map(inferLineageType),
    ).toEqual([
      T.MODEL_VERSION,
      T.RUN,
      T.DATASET_VERSION,
      T.SOURCE,
      T.RAW_DOCUMENT,
      T.MODEL_VERSION,
      undefined,
    ]);
    expect(
      renderComparison(
        create(registryv1.CompareRunsResponseSchema, { runs: [], metricKeys: [], differingParams: [] }),
      ),
    ).toBe('');
  });
});
