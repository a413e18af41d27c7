// The process runner with FakeTrainingJob: a shell script standing in for the Python interpreter, which
// exists only to inject what the real job does rarely or slowly (a line that is not JSON, ignoring SIGTERM,
// dying); the real job runs through this runner in training.e2e.test.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { JobEvent, TrainingSpec } from '../domain/job-runner.port.js';
import { PRESETS } from '../domain/presets.js';
import { ProcessJobRunner } from './process-job-runner.js';

const logger = pino({ level: 'silent' });

// $FAKE_MODE: ok | term (saves a checkpoint on SIGTERM, exits 143) | stubborn (ignores SIGTERM) | crash
const FAKE_TRAINING_JOB = `#!/usr/bin/env bash
[ "$1 $2 $3 $4" = "-m llmtwin_train train --spec" ] || { echo "bad args: $*" >&2; exit 2; }
[ -f "$5" ] || { echo "no spec $5" >&2; exit 2; }
echo "PYTHONPATH=$PYTHONPATH" >&2
echo '{"event": "start", "pid": '$$', "hardware": {"accelerator": "cpu"}, "totalSteps": 2, "resumedFrom": null}'
echo 'Generating train split: 8 examples'
echo '{"event": "metrics", "phase": "sft", "step": 1, "totalSteps": 2, "metrics": {"loss": 2.5}}'
case "$FAKE_MODE" in
  ok) echo '{"event": "done", "steps": 2, "trainTokens": 10, "trainSeconds": 1, "tokensPerSecond": 10}'; exit 0 ;;
  crash) echo '{"event": "error", "message": "CUDA out of memory"}'; exit 1 ;;
  term) trap 'echo "{\\"event\\": \\"checkpoint\\", \\"phase\\": \\"sft\\", \\"step\\": 1, \\"path\\": \\"/x\\"}"; exit 143' TERM ;;
  stubborn) trap '' TERM ;;
esac
echo ready > "$FAKE_READY"
while true; do sleep 0.05; done
`;

describe('ProcessJobRunner (FakeTrainingJob)', () => {
  let dir: string;
  let python: string;

  const spec = (runId: string): TrainingSpec => ({
    runId,
    workDir: path.join(dir, runId),
    baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    sft: { train: 'train.jsonl', eval: 'test.jsonl' },
    dpo: null,
    hyper: PRESETS['cpu-tiny'].hyper,
    resume: false,
    outputs: { ggufLora: true, merged: false },
    threads: 1,
  });
  const runner = (o: { concurrency?: number; graceMs?: number } = {}) =>
    new ProcessJobRunner({
      python,
      pythonPath: '/opt/llmtwin/python/src',
      concurrency: o.concurrency ?? 1,
      graceMs: o.graceMs ?? 10_000,
      logger,
    });
  const start = (
    r: ProcessJobRunner,
    runId: string,
    mode: string,
    extra: { signal?: AbortSignal; onStarted?: (w: string) => void } = {},
  ) =>
    r.start(spec(runId), {
      workDir: path.join(dir, runId),
      env: { FAKE_MODE: mode, FAKE_READY: path.join(dir, `${runId}.ready`) },
      logFile: path.join(dir, `${runId}.log`),
      ...extra,
    });
  const collect = async (events: AsyncIterable<JobEvent>) => {
    const out: JobEvent[] = [];
    for await (const e of events) out.push(e);
    return out;
  };
  const ready = async (runId: string) => {
    for (;;) {
      if (await readFile(path.join(dir, `${runId}.ready`), 'utf8').catch(() => '')) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-process-runner-'));
    python = path.join(dir, 'fake-python');
    await writeFile(python, FAKE_TRAINING_JOB);
    await chmod(python, 0o755);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('runs the job on its spec file, yields its events and keeps stdout and stderr in the log', async () => {
    const r = runner();
    const job = await start(r, 'run_ok', 'ok');
    const events = await collect(job.events);
    expect(events.map((e) => e.event)).toEqual(['start', 'metrics', 'done']);
    expect(await job.exit).toEqual({ code: 0, signal: null });
    const spec = JSON.parse(await readFile(path.join(dir, 'run_ok', 'spec.json'), 'utf8')) as TrainingSpec;
    expect(spec.runId).toBe('run_ok');
    const log = await readFile(path.join(dir, 'run_ok.log'), 'utf8');
    expect(log).toContain('Generating train split: 8 examples'); // not a protocol line: logged, not fatal
    expect(log).toContain('PYTHONPATH=/opt/llmtwin/python/src');
    expect(log).toContain('"event": "done"');
  });

  it('reports a failing job with its exit code and its error event', async () => {
    const job = await start(runner(), 'run_crash', 'crash');
    const events = await collect(job.events);
    expect(events.at(-1)).toEqual({ event: 'error', message: 'CUDA out of memory' });
    expect(await job.exit).toEqual({ code: 1, signal: null });
  });

  it('cancels with SIGTERM: the job saves its checkpoint and exits', async () => {
    const job = await start(runner(), 'run_term', 'term');
    const events = collect(job.events);
    await ready('run_term');
    expect(await job.cancel()).toEqual({ code: 143, signal: null });
    expect((await events).map((e) => e.event)).toEqual(['start', 'metrics', 'checkpoint']);
  });

  it('kills a job that ignores SIGTERM once the grace period is over', async () => {
    const job = await start(runner({ graceMs: 200 }), 'run_stubborn', 'stubborn');
    void collect(job.events);
    await ready('run_stubborn');
    expect(await job.cancel()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('runs one job at a time by default: the second starts when the first has ended', async () => {
    const r = runner();
    const order: string[] = [];
    const first = await start(r, 'run_a', 'term', { onStarted: () => order.push('a started') });
    void collect(first.events);
    const second = start(r, 'run_b', 'ok', { onStarted: () => order.push('b started') });
    await ready('run_a');
    expect(order).toEqual(['a started']);
    order.push('a cancelled');
    await first.cancel();
    const b = await second;
    await collect(b.events);
    expect(order).toEqual(['a started', 'a cancelled', 'b started']);
  });

  it('gives up a waiting job whose signal aborts, without running it', async () => {
    const r = runner();
    const first = await start(r, 'run_c', 'term');
    void collect(first.events);
    const abort = new AbortController();
    const waiting = start(r, 'run_d', 'ok', { signal: abort.signal });
    abort.abort(new Error('cancelled while queued'));
    await expect(waiting).rejects.toThrow('cancelled while queued');
    await first.cancel();
    // The slot the aborted job never took is free for the next.
    const next = await start(r, 'run_e', 'ok');
    expect((await collect(next.events)).at(-1)?.event).toBe('done');
  });
});
