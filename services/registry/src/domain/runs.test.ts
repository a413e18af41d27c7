import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { registryv1 } from '@llmtwin/contracts';
import {
  datasetRequest,
  openRegistry,
  rejection,
  type Init,
  type RegistryFixture,
} from '../registry.fixture.js';

let f: RegistryFixture;
let datasetVersionId: string;
beforeEach(async () => {
  f = await openRegistry();
  datasetVersionId = (await f.registry.datasets.create(datasetRequest())).datasetVersion.id;
});
afterEach(async () => {
  await f.close();
});

const S = registryv1.RunState;
const newRun = (overrides: Init<typeof registryv1.CreateRunRequestSchema> = {}) =>
  create(registryv1.CreateRunRequestSchema, {
    experiment: 'jane-sft',
    method: registryv1.TrainingMethod.SFT,
    baseModel: 'Qwen/Qwen2.5-0.5B-Instruct',
    datasetVersionId,
    params: { lr: 0.0002, epochs: 3, lora: { r: 16 } },
    config: { 'trainer.max_steps': 100 },
    ...overrides,
  });
const update = (id: string, fields: Init<typeof registryv1.UpdateRunRequestSchema> = {}) =>
  f.registry.runs.update(create(registryv1.UpdateRunRequestSchema, { id, ...fields }));
const point = (key: string, step: number, value: number) => ({ key, step: BigInt(step), value });

describe('runs', () => {
  it('starts queued, takes its author from the dataset version and keeps params and config', async () => {
    const run = await f.registry.runs.create(newRun());
    expect(run.state).toBe(S.QUEUED);
    expect(run.authorId).toBe('jane');
    expect(run.params).toEqual({ lr: 0.0002, epochs: 3, lora: { r: 16 } });
    expect(run.config).toEqual({ 'trainer.max_steps': 100 });
    expect(run.startTime).toBeUndefined();
    expect(run.id).toMatch(/^run_/);
  });

  it('follows queued → running → succeeded, stamping start and end, with RunStateChanged each time', async () => {
    const run = await f.registry.runs.create(newRun());
    const running = await update(run.id, { state: S.RUNNING });
    expect(running.startTime).toBeDefined();
    expect(running.endTime).toBeUndefined();
    await update(run.id, { metrics: [point('train/loss', 1, 2.5)] });
    const done = await update(run.id, { state: S.SUCCEEDED });
    expect(done.state).toBe(S.SUCCEEDED);
    expect(timestampMs(done.endTime!)).toBeGreaterThan(timestampMs(done.startTime!));
    const states = (await f.events())
      .filter((e) => e.event.case === 'runStateChanged')
      .map((e) => (e.event.value as { run: registryv1.Run }).run.state);
    expect(states).toEqual([S.QUEUED, S.RUNNING, S.SUCCEEDED]);
    // The same state again is a no-op, not an error (a retried update).
    expect((await update(run.id, { state: S.SUCCEEDED })).state).toBe(S.SUCCEEDED);
  });

  it('lets a queued run fail or be cancelled before it starts', async () => {
    const a = await f.registry.runs.create(newRun());
    const cancelled = await update(a.id, { state: S.CANCELLED });
    expect(cancelled.endTime).toBeDefined();
    const b = await f.registry.runs.create(newRun());
    expect((await update(b.id, { state: S.FAILED, error: 'image pull failed' })).error).toBe(
      'image pull failed',
    );
  });

  it.each([
    ['queued', [], S.SUCCEEDED],
    ['succeeded', [S.RUNNING, S.SUCCEEDED], S.RUNNING],
    ['failed', [S.RUNNING, S.FAILED], S.SUCCEEDED],
    ['cancelled', [S.CANCELLED], S.RUNNING],
    ['running', [S.RUNNING], S.QUEUED],
  ] as [string, registryv1.RunState[], registryv1.RunState][])(
    'refuses a transition the state machine does not allow from %s, naming the states',
    async (from, path, to) => {
      const run = await f.registry.runs.create(newRun());
      for (const s of path) await update(run.id, { state: s });
      const err = await rejection(update(run.id, { state: to }));
      expect(err.kind).toBe('failed-precondition');
      expect(err.message).toContain(`is ${from.toUpperCase()} and cannot become ${S[to]}`);
      expect(err.message).toContain('QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED');
    },
  );

  it('records metric points once per (key, step) and keeps the latest value of each key', async () => {
    const run = await f.registry.runs.create(newRun());
    await update(run.id, {
      state: S.RUNNING,
      metrics: [point('train/loss', 1, 2.0), point('train/loss', 2, 1.5)],
    });
    await update(run.id, { metrics: [point('train/loss', 2, 1.5), point('eval.loss', 2, 1.9)] });
    // A late point for an earlier step does not replace the latest value.
    const r = await update(run.id, { metrics: [point('train/loss', 1, 2.0)] });
    expect(r.metrics).toEqual({ 'train/loss': 1.5, 'eval.loss': 1.9 });
    const { history } = await f.registry.runs.get(run.id);
    expect(history.map((p) => [p.key, Number(p.step), p.value])).toEqual([
      ['eval.loss', 2, 1.9],
      ['train/loss', 1, 2.0],
      ['train/loss', 2, 1.5],
    ]);
    expect(history.every((p) => p.time !== undefined)).toBe(true);
  });

  it('keeps artifacts by name and the hardware last reported', async () => {
    const run = await f.registry.runs.create(newRun());
    const artifact = { uri: 'artifact://sha256/aa', name: 'adapter.safetensors', sizeBytes: 10n };
    await update(run.id, { artifacts: [artifact], hardware: { accelerator: 'cuda', deviceCount: 1 } });
    const r = await update(run.id, {
      artifacts: [
        { ...artifact, uri: 'artifact://sha256/bb' },
        { uri: 'artifact://sha256/cc', name: 'log.txt' },
      ],
    });
    expect(r.artifacts.map((a) => [a.name, a.uri])).toEqual([
      ['adapter.safetensors', 'artifact://sha256/bb'],
      ['log.txt', 'artifact://sha256/cc'],
    ]);
    expect(r.hardware?.accelerator).toBe('cuda');
    expect((await f.events()).filter((e) => e.event.case === 'runStateChanged')).toHaveLength(1);
  });

  it('refuses bad updates and bad runs with messages that say what to fix', async () => {
    const run = await f.registry.runs.create(newRun());
    expect((await rejection(update(run.id, { metrics: [point('', 1, 1)] }))).message).toContain(
      'metrics[0].key',
    );
    expect((await rejection(update(run.id, { metrics: [point('loss', 1, Number.NaN)] }))).message).toContain(
      'finite',
    );
    expect((await rejection(update(run.id, { artifacts: [{ name: 'x' }] }))).message).toContain(
      'artifacts[0].uri',
    );
    expect((await rejection(update('run_missing'))).kind).toBe('not-found');
    expect((await rejection(f.registry.runs.create(newRun({ experiment: '' })))).message).toContain(
      'experiment is required',
    );
    expect(
      (await rejection(f.registry.runs.create(newRun({ method: registryv1.TrainingMethod.UNSPECIFIED }))))
        .message,
    ).toContain('method is required');
    const dpo = await rejection(f.registry.runs.create(newRun({ method: registryv1.TrainingMethod.DPO })));
    expect(dpo.message).toContain('DPO trains on preference datasets');
    const missing = await rejection(f.registry.runs.create(newRun({ datasetVersionId: 'dsv_missing' })));
    expect(missing.kind).toBe('not-found');
    expect(missing.message).toContain('dataset version "dsv_missing" does not exist');
  });

  it('does not train on a tainted dataset version', async () => {
    await f.registry.datasets.taint(datasetVersionId, 'document doc_1 was deleted');
    const err = await rejection(f.registry.runs.create(newRun()));
    expect(err.kind).toBe('failed-precondition');
    expect(err.message).toContain('is tainted (document doc_1 was deleted)');
  });

  it('compares runs: metric keys and the params that differ', async () => {
    const a = await f.registry.runs.create(newRun());
    const b = await f.registry.runs.create(
      newRun({ params: { lr: 0.0001, epochs: 3, lora: { r: 16 }, seed: 1 } }),
    );
    await update(a.id, { metrics: [point('train/loss', 1, 1)] });
    await update(b.id, { metrics: [point('eval/loss', 1, 1)] });
    const c = await f.registry.runs.compare([a.id, b.id, a.id]);
    expect(c.runs.map((r) => r.id)).toEqual([a.id, b.id]);
    expect(c.metricKeys).toEqual(['eval/loss', 'train/loss']);
    expect(c.differingParams).toEqual(['lr', 'seed']);
    expect((await rejection(f.registry.runs.compare([a.id]))).message).toContain('at least two');
    expect((await rejection(f.registry.runs.compare([a.id, 'run_missing']))).kind).toBe('not-found');
  });

  it('lists runs newest first by experiment, dataset version and author', async () => {
    const a = await f.registry.runs.create(newRun());
    const b = await f.registry.runs.create(newRun({ experiment: 'other' }));
    const all = await f.registry.runs.list(
      { experiment: '', datasetVersionId, authorId: 'jane' },
      { size: 10, after: '' },
    );
    expect(all.map((r) => r._id)).toEqual([b.id, a.id]);
    const other = await f.registry.runs.list(
      { experiment: 'other', datasetVersionId: '', authorId: '' },
      { size: 10, after: '' },
    );
    expect(other.map((r) => r._id)).toEqual([b.id]);
    expect(
      await f.registry.runs.list(
        { experiment: '', datasetVersionId: '', authorId: 'joe' },
        { size: 10, after: '' },
      ),
    ).toEqual([]);
  });
});
