// The evaluation's model runtime: the training job's own Python package, `python -m llmtwin_train perplexity`
// and `… generate` (docs/training.md, "Job protocol"). Each call is one process that loads the base once and
// runs every adapter over it; its inputs (spec and JSONL files) go into the work dir, its stderr to
// a log file beside them, so that a failure can be read after the fact. Aborting the signal stops the process
// (SIGTERM, then SIGKILL after a grace period) and the call rejects with 'cancelled'.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DomainError } from '@llmtwin/runtime/errors';
import type {
  AnswerGenerator,
  GeneratedAnswer,
  GenerationPrompt,
  ModelRole,
  ModelsUnderTest,
  PerplexityRunner,
  PerplexityScore,
  RunOptions,
} from '../domain/evaluation/model-runner.port.js';

export interface PythonEvaluationOptions {
  /** The interpreter with the job's dependencies (LLMTWIN_TRAINER_PYTHON or the prepared venv). */
  python: string;
  /** PYTHONPATH entries that hold the llmtwin_train package (services/trainer/python/src), prepended to the
   *  inherited one; empty when the package is installed (the image). */
  pythonPath?: string;
  /** torch threads. */
  threads: number;
  /** How long a stopped process may take before SIGKILL. Default 5 s. */
  graceMs?: number;
  /** Extra environment for the process (HF_HOME, offline flags). */
  env?: Record<string, string>;
}

type Event = Record<string, unknown> & { event: string };

const ROLES = new Set<string>(['base', 'candidate', 'production']);

export class PythonEvaluation implements PerplexityRunner, AnswerGenerator {
  constructor(private readonly options: PythonEvaluationOptions) {}

  async perplexity(
    models: ModelsUnderTest,
    texts: readonly string[],
    options: RunOptions & { maxSeqLength: number },
  ): Promise<Partial<Record<ModelRole, PerplexityScore>>> {
    const dir = await this.dir(options.workDir);
    const textsFile = path.join(dir, 'texts.jsonl');
    await writeFile(textsFile, texts.map((text) => JSON.stringify({ text }) + '\n').join(''));
    const events = await this.run(
      'perplexity',
      { ...this.models(models), texts: textsFile, maxSeqLength: options.maxSeqLength },
      dir,
      options.signal,
    );
    const result: Partial<Record<ModelRole, PerplexityScore>> = {};
    for (const e of events) {
      if (e.event !== 'perplexity' || !ROLES.has(String(e.role))) continue;
      // null is how the job writes a non-finite value (a diverged model): an infinite perplexity fails the gate.
      const perplexity = typeof e.perplexity === 'number' ? e.perplexity : Number.POSITIVE_INFINITY;
      result[e.role as ModelRole] = { perplexity, tokens: Number(e.tokens ?? 0) };
    }
    return result;
  }

  async generate(
    models: ModelsUnderTest,
    prompts: readonly GenerationPrompt[],
    options: RunOptions & { maxNewTokens: number },
  ): Promise<GeneratedAnswer[]> {
    const dir = await this.dir(options.workDir);
    const promptsFile = path.join(dir, 'prompts.jsonl');
    await writeFile(
      promptsFile,
      prompts.map((p) => JSON.stringify({ id: p.id, messages: p.messages }) + '\n').join(''),
    );
    const events = await this.run(
      'generate',
      { ...this.models(models), prompts: promptsFile, maxNewTokens: options.maxNewTokens },
      dir,
      options.signal,
    );
    return events
      .filter((e) => e.event === 'answer' && ROLES.has(String(e.role)))
      .map((e) => ({ role: e.role as ModelRole, id: String(e.id), text: String(e.text ?? '') }));
  }

  private models(m: ModelsUnderTest) {
    return {
      baseModel: m.baseModel,
      baseGguf: m.baseGguf ?? null,
      adapters: { candidate: m.adapters.candidate, production: m.adapters.production ?? null },
      threads: this.options.threads,
    };
  }

  private async dir(workDir: string): Promise<string> {
    const dir = path.resolve(workDir);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Runs one command to its end and returns its events; rejects on an error event, a failed exit or abort. */
  private async run(command: 'perplexity' | 'generate', spec: object, dir: string, signal: AbortSignal) {
    if (signal.aborted) throw new DomainError('cancelled', 'the evaluation was cancelled');
    const specFile = path.join(dir, `${command}-spec.json`);
    const logFile = path.join(dir, `${command}.log`);
    await writeFile(specFile, JSON.stringify(spec, null, 2));
    const pythonPath = [this.options.pythonPath, process.env['PYTHONPATH']]
      .filter(Boolean)
      .join(path.delimiter);
    const child = spawn(this.options.python, ['-m', 'llmtwin_train', command, '--spec', specFile], {
      cwd: dir,
      env: {
        ...process.env,
        ...this.options.env,
        ...(pythonPath ? { PYTHONPATH: pythonPath } : {}),
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = createWriteStream(logFile);
    let stderrTail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
    });

    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      stopped = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), this.options.graceMs ?? 5000);
    };
    signal.addEventListener('abort', onAbort, { once: true });

    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
        child.once('close', (code, sig) => resolve({ code, signal: sig }));
      },
    );
    const events: Event[] = [];
    try {
      for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
        const event = parseEvent(line);
        if (event) events.push(event);
        else if (line.trim()) log.write(`(stdout, not a protocol line) ${line}\n`);
      }
      const ended = await exit;
      if (stopped || signal.aborted) throw new DomainError('cancelled', 'the evaluation was cancelled');
      if (ended.error) {
        throw new DomainError(
          'failed-precondition',
          `could not start ${this.options.python} for the evaluation (${ended.error.message}): ` +
            'run npm run trainer:prepare or set LLMTWIN_TRAINER_PYTHON',
          { cause: ended.error },
        );
      }
      const error = events.find((e) => e.event === 'error');
      if (error || ended.code !== 0) {
        const why = error
          ? String(error.message)
          : `exit ${ended.code ?? ended.signal}; ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
        throw new DomainError('internal', `llmtwin_train ${command} failed: ${why} (log: ${logFile})`);
      }
      return events;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      log.end();
    }
  }
}

function parseEvent(line: string): Event | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && typeof (value as { event?: unknown }).event === 'string'
      ? (value as Event)
      : undefined;
  } catch {
    return undefined;
  }
}
