// The continuous-training policy over a real embedded warehouse, with a clock the test moves and a recording
// TrainingStarter (a fake that only records the starts asked of it).
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { registryv1 } from '@llmtwin/contracts';
import type { Collection, Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { DomainError, failedPrecondition } from '@llmtwin/runtime/errors';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AUTO_RUNS_COLLECTION,
  parseAuthors,
  STARTING_STALE_MS,
  TrainingPolicy,
  autoTrainEnabled,
  trainTokens,
  type AutoRunRecord,
  type AutoTrainSettings,
} from './training-policy.js';
import { recordingStarter } from './recording-starter.fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

let n = 0;
/** An instruct dataset version of an author, created at `at` (train split of 50 examples, 100 tokens each). */
function datasetVersion(
  authorId: string,
  at: number,
  overrides: Omit<MessageInitShape<typeof registryv1.DatasetVersionSchema>, '$typeName'> = {},
) {
  n++;
  return create(registryv1.DatasetVersionSchema, {
    id: `dsv_${String(at).padStart(14, '0')}_${n}`,
    dataset: `${authorId}-instruct`,
    version: BigInt(n),
    kind: registryv1.DatasetKind.INSTRUCT,
    authorId,
    splits: [
      { name: 'train', examples: 50n },
      { name: 'test', examples: 5n },
    ],
    stats: { examples: 55n, tokensPerExampleMean: 100, tokenizer: 'gguf:SmolLM2' },
    createTime: timestampFromMs(at),
    ...overrides,
  });
}

const settings = (s: Partial<AutoTrainSettings> = {}): AutoTrainSettings => ({
  authors: ['jane'],
  debounceMs: 5 * MIN,
  maxRunsPerDay: 2,
  maxTokens: 0,
  preset: 'cpu-tiny',
  maxSteps: 0,
  ...s,
});

let dir: string;
let warehouse: Warehouse;
let runs: Collection<AutoRunRecord>;
const clock = { now: T0 };

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-auto-train-'));
  warehouse = await createWarehouse(`sqlite:${path.join(dir, 'warehouse.db')}`);
  runs = warehouse.collection<AutoRunRecord>(AUTO_RUNS_COLLECTION);
  clock.now = T0;
});
afterEach(async () => {
  await warehouse.close();
  await rm(dir, { recursive: true, force: true });
});

async function policyWith(s: Partial<AutoTrainSettings> = {}, rec = recordingStarter()) {
  const policy = new TrainingPolicy({
    runs,
    starter: rec.starter,
    settings: settings(s),
    clock: () => clock.now,
  });
  await policy.init();
  return { policy, ...rec };
}

describe('settings', () => {
  it('reads the opt-in list: names, "*" for all, empty for off', () => {
    expect(parseAuthors(' jane, bob ,,jane')).toEqual(['jane', 'bob']);
    expect(parseAuthors('jane,*')).toBe('*');
    expect(parseAuthors('')).toEqual([]);
    expect(autoTrainEnabled({ authors: parseAuthors('') })).toBe(false);
    expect(autoTrainEnabled({ authors: '*' })).toBe(true);
  });

  it('counts the tokens of the train split from the stats', () => {
    expect(trainTokens(datasetVersion('jane', T0))).toBe(5000);
    expect(trainTokens(datasetVersion('jane', T0, { stats: { examples: 55n } }))).toBeUndefined();
  });
});

describe('continuous training policy', () => {
  it('starts one run, after the debounce, only for authors who opted in', async () => {
    const { policy, calls } = await policyWith();
    const jane = datasetVersion('jane', T0);
    expect(await policy.datasetVersionCreated(datasetVersion('bob', T0))).toMatchObject({ kind: 'ignored' });
    expect(await policy.datasetVersionCreated(jane)).toEqual({
      kind: 'pending',
      dueAt: T0 + 5 * MIN,
      superseded: [],
    });
    clock.now = T0 + 5 * MIN - 1;
    expect(await policy.runDue()).toEqual([]);
    clock.now = T0 + 5 * MIN;
    expect(await policy.runDue()).toEqual([
      { datasetVersionId: jane.id, authorId: 'jane', state: 'started', jobId: 'job_1' },
    ]);
    expect(calls).toEqual([
      { request: { datasetVersionId: jane.id, preset: 'cpu-tiny' }, trigger: 'dataset-version' },
    ]);
    expect(await runs.count()).toBe(1);
    expect(await runs.get(jane.id)).toMatchObject({
      state: 'started',
      jobId: 'job_1',
      startedAt: T0 + 5 * MIN,
    });
    expect(await policy.runDue()).toEqual([]);
  });

  it('passes the configured preset and steps; "*" opts every author in', async () => {
    const { policy, calls } = await policyWith({ authors: '*', preset: 'gpu-1b-3b', maxSteps: 40 });
    const bob = datasetVersion('bob', T0);
    await policy.datasetVersionCreated(bob);
    clock.now += 5 * MIN;
    await policy.runDue();
    expect(calls[0]!.request).toEqual({ datasetVersionId: bob.id, preset: 'gpu-1b-3b', maxSteps: 40n });
  });

  it('never starts on preference datasets or tainted versions', async () => {
    const { policy, calls } = await policyWith();
    const preference = datasetVersion('jane', T0, { kind: registryv1.DatasetKind.PREFERENCE });
    expect((await policy.datasetVersionCreated(preference)).kind).toBe('ignored');
    const tainted = datasetVersion('jane', T0 + 1, {
      tainted: true,
      taintReason: 'document doc_1 was deleted',
    });
    expect(await policy.datasetVersionCreated(tainted)).toEqual({
      kind: 'skipped',
      reason: 'the dataset version is tainted (document doc_1 was deleted)',
    });
    // One tainted while it waits is skipped too.
    const later = datasetVersion('jane', T0 + 2);
    await policy.datasetVersionCreated(later);
    expect(await policy.datasetVersionTainted(later.id, 'source removed')).toBe(true);
    expect(await policy.datasetVersionTainted(later.id, 'again')).toBe(false);
    clock.now += HOUR;
    expect(await policy.runDue()).toEqual([]);
    expect(calls).toEqual([]);
    expect(await runs.get(later.id)).toMatchObject({
      state: 'skipped',
      reason: 'the dataset version was tainted (source removed)',
    });
  });

  it('coalesces versions that land within the debounce into one run on the newest', async () => {
    const { policy, calls } = await policyWith();
    const v1 = datasetVersion('jane', T0);
    const v2 = datasetVersion('jane', T0 + MIN);
    const v3 = datasetVersion('jane', T0 + 2 * MIN);
    await policy.datasetVersionCreated(v1);
    clock.now = T0 + MIN;
    expect(await policy.datasetVersionCreated(v2)).toEqual({
      kind: 'pending',
      dueAt: T0 + 6 * MIN,
      superseded: [v1.id],
    });
    // v1's own due time passes: nothing starts, the debounce moved with v2.
    clock.now = T0 + 5 * MIN;
    expect(await policy.runDue()).toEqual([]);
    // An older version delivered late (another partition) never replaces a newer one.
    const late = datasetVersion('jane', T0 - MIN);
    expect(await policy.datasetVersionCreated(late)).toEqual({ kind: 'superseded', by: v2.id });
    clock.now = T0 + 5 * MIN + 30_000;
    await policy.datasetVersionCreated(v3);
    clock.now = T0 + 10 * MIN + 30_000;
    await policy.runDue();
    expect(calls.map((c) => c.request.datasetVersionId)).toEqual([v3.id]);
    expect((await runs.get(v1.id))!).toMatchObject({ state: 'superseded', supersededBy: v2.id });
    expect((await runs.get(v2.id))!).toMatchObject({ state: 'superseded', supersededBy: v3.id });
    // Other authors are debounced apart.
    const { policy: all, calls: allCalls } = await policyWith({ authors: '*' }, recordingStarter());
    await all.datasetVersionCreated(datasetVersion('bob', clock.now));
    await all.datasetVersionCreated(datasetVersion('ann', clock.now));
    clock.now += 5 * MIN;
    await all.runDue();
    expect(allCalls).toHaveLength(2);
  });

  it('starts at most the daily cap per author in 24 hours; the next waits for a free slot', async () => {
    const { policy, calls } = await policyWith({ maxRunsPerDay: 2 });
    const started: string[] = [];
    for (const at of [T0, T0 + HOUR, T0 + 2 * HOUR]) {
      clock.now = at;
      const dv = datasetVersion('jane', at);
      started.push(dv.id);
      await policy.datasetVersionCreated(dv);
      clock.now = at + 5 * MIN;
      await policy.runDue();
    }
    expect(calls.map((c) => c.request.datasetVersionId)).toEqual(started.slice(0, 2));
    const waiting = (await runs.get(started[2]!))!;
    expect(waiting).toMatchObject({ state: 'pending', dueAt: T0 + 5 * MIN + 24 * HOUR });
    expect(waiting.reason).toContain('2 runs a day (LLMTWIN_AUTO_TRAIN_MAX_RUNS_PER_DAY) are used');
    expect(await policy.nextDueAt()).toBe(T0 + 5 * MIN + 24 * HOUR);
    clock.now = T0 + 5 * MIN + 24 * HOUR - 1;
    expect(await policy.runDue()).toEqual([]);
    clock.now = T0 + 5 * MIN + 24 * HOUR;
    expect(await policy.runDue()).toMatchObject([{ datasetVersionId: started[2], state: 'started' }]);
    expect(calls).toHaveLength(3);
  });

  it('skips, with the reason recorded, a dataset over the token cap or without a token count', async () => {
    const { policy, calls } = await policyWith({ maxTokens: 4000 });
    const big = datasetVersion('jane', T0);
    expect(await policy.datasetVersionCreated(big)).toEqual({
      kind: 'skipped',
      reason:
        'its train split holds about 5000 tokens, more than the 4000 a run may train on (LLMTWIN_AUTO_TRAIN_MAX_TOKENS)',
    });
    const unknown = datasetVersion('jane', T0 + 1, { stats: { examples: 55n } });
    expect((await policy.datasetVersionCreated(unknown)).kind).toBe('skipped');
    expect((await runs.get(unknown.id))!.reason).toContain('give no token count');
    const small = datasetVersion('jane', T0 + 2, {
      stats: { examples: 55n, tokensPerExampleMean: 60 },
    });
    expect((await policy.datasetVersionCreated(small)).kind).toBe('pending');
    clock.now += HOUR;
    await policy.runDue();
    expect(calls.map((c) => c.request.datasetVersionId)).toEqual([small.id]);
  });

  it('decides once per dataset version: a redelivered event or another process starts nothing more', async () => {
    const { policy, calls } = await policyWith();
    const dv = datasetVersion('jane', T0);
    await policy.datasetVersionCreated(dv);
    expect(await policy.datasetVersionCreated(dv)).toEqual({ kind: 'duplicate', state: 'pending' });
    clock.now += 5 * MIN;
    await policy.runDue();
    const { policy: restarted, calls: afterRestart } = await policyWith();
    expect(await restarted.datasetVersionCreated(dv)).toEqual({ kind: 'duplicate', state: 'started' });
    clock.now += 5 * MIN;
    expect(await restarted.runDue()).toEqual([]);
    expect(await policy.runDue()).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(afterRestart).toEqual([]);
  });

  it('keeps a pending debounce across a restart, and never retries a start a dead process had claimed', async () => {
    const first = await policyWith();
    const dv = datasetVersion('jane', T0);
    await first.policy.datasetVersionCreated(dv);
    // The process stops; a new one on the same warehouse finds the version waiting and when it is due.
    const second = await policyWith();
    expect(await second.policy.nextDueAt()).toBe(T0 + 5 * MIN);
    clock.now = T0 + 5 * MIN;
    expect(await second.policy.runDue()).toMatchObject([{ datasetVersionId: dv.id, state: 'started' }]);
    expect(first.calls).toEqual([]);
    expect(second.calls).toHaveLength(1);

    // A claim left by a process that died between the claim and the recorded job: marked, not started.
    const claimed = datasetVersion('jane', T0 + HOUR);
    clock.now = T0 + HOUR;
    await second.policy.datasetVersionCreated(claimed);
    await runs.update(claimed.id, { set: { state: 'starting', startedAt: T0 + HOUR + 5 * MIN } });
    const third = await policyWith();
    clock.now = T0 + HOUR + 5 * MIN + STARTING_STALE_MS - 1;
    expect(await third.policy.runDue()).toEqual([]);
    clock.now = T0 + HOUR + 5 * MIN + STARTING_STALE_MS + 1;
    expect(await third.policy.runDue()).toMatchObject([
      { datasetVersionId: claimed.id, state: 'interrupted' },
    ]);
    expect(third.calls).toEqual([]);
  });

  it('records a start that failed, and tries again later one that could not start for now', async () => {
    const rec = recordingStarter();
    const { policy, calls } = await policyWith({ authors: '*' }, rec);
    rec.failures.push(failedPrecondition('no evaluator is configured here'));
    const refused = datasetVersion('jane', T0);
    await policy.datasetVersionCreated(refused);
    clock.now += 5 * MIN;
    expect(await policy.runDue()).toMatchObject([
      { state: 'failed', reason: 'the run could not start: no evaluator is configured here' },
    ]);
    rec.failures.push(new DomainError('unavailable', 'the trainer is shutting down'));
    const retried = datasetVersion('bob', clock.now);
    await policy.datasetVersionCreated(retried);
    clock.now += 5 * MIN;
    expect(await policy.runDue()).toMatchObject([{ datasetVersionId: retried.id, state: 'pending' }]);
    expect(await runs.get(retried.id)).toMatchObject({ state: 'pending', startedAt: 0, attempts: 1 });
    clock.now += HOUR;
    expect(await policy.runDue()).toMatchObject([{ datasetVersionId: retried.id, state: 'started' }]);
    expect(calls.map((c) => c.request.datasetVersionId)).toEqual([refused.id, retried.id, retried.id]);
  });
});
