// The embedded job runner: the training job as a child process of the trainer, on this machine's CPU or GPU.
// Jobs take a slot each (LLMTWIN_TRAINER_CONCURRENCY, default one: a second job would only fight the first
// for the same cores or GPU memory); the others wait for one. stdout carries the protocol's JSON lines;
// stdout and stderr both go to the job's log file, so a failure can be read after the fact.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DomainError } from '@llmtwin/runtime/errors';
import type { Logger } from 'pino';
import {
  lines,
  parseJobEvent,
  type JobEvent,
  type JobExit,
  type JobRunner,
  type RunningJob,
  type StartOptions,
  type TrainingSpec,
} from '../domain/job-runner.port.js';

export interface ProcessJobRunnerOptions {
  /** The Python interpreter with the job's dependencies (docs/training.md). */
  python: string;
  /** What PYTHONPATH must hold for `-m llmtwin_train` (trainer-python.ts); empty when it is installed. */
  pythonPath: string;
  /** Jobs running at once; the others wait. */
  concurrency: number;
  /** How long a cancelled job may take to save its checkpoint after SIGTERM before SIGKILL. */
  graceMs: number;
  logger: Logger;
}

/** A counting semaphore whose waiters may give up (an abort signal). */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(signal?: AbortSignal): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason instanceof Error ? signal!.reason : new DomainError('cancelled', 'cancelled'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

export class ProcessJobRunner implements JobRunner {
  readonly kind = 'process';
  private readonly slots: Slots;
  private readonly children = new Set<RunningJob>();

  constructor(private readonly options: ProcessJobRunnerOptions) {
    this.slots = new Slots(Math.max(1, options.concurrency));
  }

  async start(spec: TrainingSpec, o: StartOptions): Promise<RunningJob> {
    await mkdir(o.workDir, { recursive: true });
    const specFile = path.join(o.workDir, 'spec.json');
    await writeFile(specFile, JSON.stringify(spec, null, 2));
    await this.slots.take(o.signal);
    let child: ChildProcess;
    try {
      const pythonPath = [this.options.pythonPath, process.env['PYTHONPATH']]
        .filter(Boolean)
        .join(path.delimiter);
      child = spawn(this.options.python, ['-m', 'llmtwin_train', 'train', '--spec', specFile], {
        cwd: o.workDir,
        env: { ...process.env, ...o.env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      this.slots.give();
      throw err;
    }
    const log = createWriteStream(o.logFile, { flags: 'a' });
    const logger = this.options.logger.child({ runId: spec.runId, pid: child.pid });
    o.onStarted?.(`pid ${String(child.pid)}`);

    const exit = new Promise<JobExit>((resolve) => {
      let settled = false;
      const done = (e: JobExit) => {
        if (settled) return;
        settled = true;
        this.slots.give();
        log.end();
        resolve(e);
      };
      child.once('error', (err) => {
        logger.warn({ err }, 'the training process could not start');
        log.write(`trainer: could not start ${this.options.python}: ${err.message}\n`);
        done({ code: 127, signal: null });
      });
      child.once('close', (code, signal) => done({ code, signal }));
    });
    child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));

    const stdout = child.stdout!;
    async function* events(): AsyncGenerator<JobEvent> {
      for await (const line of lines(stdout.on('data', (chunk: Buffer) => log.write(chunk)))) {
        const event = parseJobEvent(line);
        if (event) yield event;
        else if (line.trim()) logger.debug({ line: line.slice(0, 500) }, 'training job: not a protocol line');
      }
    }

    const grace = this.options.graceMs;
    const job: RunningJob = {
      events: events(),
      exit,
      cancel: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), grace);
          const e = await exit;
          clearTimeout(timer);
          return e;
        }
        return exit;
      },
    };
    this.children.add(job);
    void exit.then(() => this.children.delete(job));
    return job;
  }

  async close(): Promise<void> {
    await Promise.all([...this.children].map((j) => j.cancel()));
  }
}
