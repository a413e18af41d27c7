// Trainer jobs over a real embedded warehouse: states and progress, cancelling queued and running jobs,
// shutdown, and a fresh process finding jobs a previous one left unfinished.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { isDomainError } from '@llmtwin/runtime/errors';
import {
  INTERRUPTED,
  JOBS_COLLECTION,
  JobStore,
  LocalJobRunner,
  type JobRecord,
  type JobWork,
} from './jobs.js';

/** Work that runs until released or aborted, reporting progress as told. */
function controllable() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const work: JobWork = async (signal, progress) => {
    started();
    progress(1, 4, 'one of four');
    await new Promise<void>((resolve, reject) => {
      void released.then(resolve);
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
    progress(4, 4, 'all four');
    return { datasetVersionId: 'dsv_1', reused: false, message: 'done' };
  };
  return { work, release, started: startedP };
}

describe('trainer jobs', () => {
  let dir: string;
  let warehouse: Warehouse;
  let store: JobStore;
  let runner: LocalJobRunner;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-jobs-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    store = new JobStore(warehouse.collection<JobRecord>(JOBS_COLLECTION));
    await store.init();
    runner = new LocalJobRunner(store, { progressIntervalMs: 0 });
  });
  afterEach(async () => {
    await runner.stop();
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a job from queued to succeeded, recording progress and the dataset version', async () => {
    const job = await store.create('build-dataset', 'jane');
    expect(job).toMatchObject({ state: 'queued', runner: 'local', done: 0, total: 0, endedAt: null });
    const w = controllable();
    runner.submit(job._id, w.work);
    await w.started;
    await expect(store.get(job._id)).resolves.toMatchObject({ state: 'running' });
    w.release();
    await runner.settled(job._id);
    const done = await store.get(job._id);
    expect(done).toMatchObject({
      state: 'succeeded',
      done: 4,
      total: 4,
      datasetVersionId: 'dsv_1',
      message: 'done',
    });
    expect(done.endedAt).toBeGreaterThanOrEqual(done.createdAt);
    expect((await store.list({ authorId: 'jane', state: 'succeeded' })).map((j) => j._id)).toEqual([job._id]);
    expect(await store.list({ authorId: 'bob' })).toEqual([]);
  });

  it('records a failure with its message', async () => {
    const job = await store.create('build-dataset', 'jane');
    runner.submit(job._id, async () => {
      throw new Error('the snapshot is empty');
    });
    await runner.settled(job._id);
    await expect(store.get(job._id)).resolves.toMatchObject({
      state: 'failed',
      message: 'the snapshot is empty',
    });
  });

  it('cancels a running job through its signal, and a queued one before it starts', async () => {
    const first = await store.create('build-dataset', 'jane');
    const second = await store.create('build-dataset', 'jane');
    const w1 = controllable();
    const w2 = controllable();
    runner.submit(first._id, w1.work);
    runner.submit(second._id, w2.work);
    await w1.started;
    const queued = await runner.cancel(second._id);
    expect(queued.state).toBe('cancelled');
    const running = await runner.cancel(first._id);
    expect(running).toMatchObject({ state: 'cancelled', datasetVersionId: '' });
    const again = await runner.cancel(first._id).catch((e: unknown) => e);
    expect(isDomainError(again, 'failed-precondition')).toBe(true);
  });

  it('fails what is left when the trainer stops, and a fresh process marks unfinished jobs failed', async () => {
    const running = await store.create('build-dataset', 'jane');
    const queued = await store.create('build-dataset', 'jane');
    const w = controllable();
    runner.submit(running._id, w.work);
    runner.submit(queued._id, controllable().work);
    await w.started;
    await runner.stop();
    await expect(store.get(running._id)).resolves.toMatchObject({
      state: 'failed',
      message: 'interrupted: the trainer shut down',
    });
    await expect(store.get(queued._id)).resolves.toMatchObject({ state: 'failed' });

    // A process that died mid-job leaves its record running; the next one says what happened.
    const orphan = await store.create('build-dataset', 'jane');
    await store.update(orphan._id, { state: 'running', done: 3, total: 10 });
    const fresh = new JobStore(warehouse.collection<JobRecord>(JOBS_COLLECTION));
    expect(await fresh.failInterrupted()).toBe(1);
    await expect(fresh.get(orphan._id)).resolves.toMatchObject({
      state: 'failed',
      message: INTERRUPTED,
      done: 3,
    });
  });

  it('answers not found for an unknown job', async () => {
    expect(isDomainError(await store.get('job_missing').catch((e: unknown) => e), 'not-found')).toBe(true);
  });
});
