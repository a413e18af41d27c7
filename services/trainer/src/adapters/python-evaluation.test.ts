// PythonEvaluation's handling of a process that misbehaves, with fault-injection stand-ins for the
// interpreter (small shell scripts that print what a broken job would); the real job runs in
// python-evaluation.e2e.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime/errors';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PythonEvaluation } from './python-evaluation.js';

let dir: string;
const models = { baseModel: 'base', adapters: { candidate: '/a/candidate' } };
const opts = (sub: string) => ({
  workDir: path.join(dir, sub),
  signal: new AbortController().signal,
  maxSeqLength: 64,
});

/** A fault-injection interpreter: a shell script with this body, whatever arguments it is given. */
async function fakePython(name: string, body: string): Promise<string> {
  const file = path.join(dir, `${name}-python`);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-pyeval-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PythonEvaluation against a misbehaving process', () => {
  it('says how to get an interpreter when there is none', async () => {
    const runtime = new PythonEvaluation({ python: path.join(dir, 'no-such-python'), threads: 1 });
    const err = await runtime.perplexity(models, ['text'], opts('missing')).catch((e: unknown) => e);
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect((err as Error).message).toMatch(/could not start .*no-such-python.*npm run trainer:prepare/);
  });

  it('skips lines that are not events and reads the ones that are', async () => {
    const python = await fakePython(
      'noisy',
      [
        `echo 'Loading weights 100%'`,
        `echo '{"event": "perplexity", "role": "base", "perplexity": 20.5, "tokens": 40, "seconds": 1}'`,
        `echo '{"event": "perplexity", "role": "candidate", "perplexity": null, "tokens": 40, "seconds": 1}'`,
        `echo '{"event": "perplexity", "role": "intruder", "perplexity": 1, "tokens": 1, "seconds": 1}'`,
        `echo 'not json {'`,
      ].join('\n'),
    );
    const result = await new PythonEvaluation({ python, threads: 1 }).perplexity(
      models,
      ['a', 'b'],
      opts('noisy'),
    );
    // null is the job's non-finite value: a diverged candidate, which the gate then fails.
    expect(result).toEqual({
      base: { perplexity: 20.5, tokens: 40 },
      candidate: { perplexity: Number.POSITIVE_INFINITY, tokens: 40 },
    });
    const texts = await readFile(path.join(dir, 'noisy', 'texts.jsonl'), 'utf8');
    expect(texts).toBe('{"text":"a"}\n{"text":"b"}\n');
    const log = await readFile(path.join(dir, 'noisy', 'perplexity.log'), 'utf8');
    expect(log).toContain('(stdout, not a protocol line) Loading weights 100%');
  });

  it('fails with the job’s error event', async () => {
    const python = await fakePython(
      'erroring',
      `echo '{"event": "error", "message": "texts: line 3 is not JSON"}'; exit 1`,
    );
    const err = await new PythonEvaluation({ python, threads: 1 })
      .perplexity(models, ['a'], opts('erroring'))
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^llmtwin_train perplexity failed: texts: line 3 is not JSON \(log: /,
    );
  });

  it('fails with the exit code and the end of stderr when the process dies without an error event', async () => {
    const python = await fakePython(
      'crashing',
      `echo 'Traceback: boom' >&2; echo 'MemoryError' >&2; exit 137`,
    );
    const err = await new PythonEvaluation({ python, threads: 1 })
      .generate(models, [{ id: 'p1', messages: [{ role: 'user', content: 'hi' }] }], {
        ...opts('crashing'),
        maxNewTokens: 8,
      })
      .catch((e: unknown) => e);
    expect(isDomainError(err, 'internal')).toBe(true);
    expect((err as Error).message).toMatch(
      /llmtwin_train generate failed: exit 137; Traceback: boom \| MemoryError/,
    );
  });

  it('kills a process that ignores SIGTERM once the grace period is over, and rejects with cancelled', async () => {
    const python = await fakePython('stubborn', `trap '' TERM; while true; do sleep 0.1; done`);
    const controller = new AbortController();
    const running = new PythonEvaluation({ python, threads: 1, graceMs: 200 }).perplexity(models, ['a'], {
      ...opts('stubborn'),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    const err = await running.catch((e: unknown) => e);
    expect(isDomainError(err, 'cancelled')).toBe(true);
  });
});
