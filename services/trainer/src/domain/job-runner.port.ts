// Where a training job's Python process runs: a child process of the trainer (embedded) or a Kubernetes Job on
// a GPU node. Either way the job reads a spec file and writes the protocol's JSON lines on stdout
// (docs/training.md, "Job protocol"); the runner hands those back as events and reports how the job ended.
import type { Hyper } from './presets.js';

/** The spec file the job reads (docs/training.md). Paths are absolute and valid where the job runs. */
export interface TrainingSpec {
  runId: string;
  workDir: string;
  baseModel: string;
  baseGguf?: string | undefined;
  sft: { train: string; eval: string };
  dpo: { train: string } | null;
  hyper: Hyper;
  resume: boolean;
  outputs: { ggufLora: boolean; merged: boolean };
  threads: number;
}

export interface JobHardware {
  accelerator: string;
  deviceName: string;
  deviceCount: number;
  deviceMemoryBytes: number;
  cpuCount: number;
  memoryBytes: number;
  host: string;
}

export type JobEvent =
  | { event: 'start'; pid: number; hardware: JobHardware; totalSteps: number; resumedFrom: number | null }
  | { event: 'phase'; phase: string }
  | { event: 'metrics'; phase: string; step: number; totalSteps: number; metrics: Record<string, number> }
  | { event: 'checkpoint'; phase: string; step: number; path: string }
  | { event: 'artifact'; kind: 'peft-adapter' | 'gguf-lora' | 'merged'; path: string; mediaType: string }
  | { event: 'done'; steps: number; trainTokens: number; trainSeconds: number; tokensPerSecond: number }
  | { event: 'error'; message: string };

export interface JobExit {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal's name (SIGKILL, SIGTERM, ...) when one ended it. */
  signal: string | null;
}

export interface StartOptions {
  /** Where the job writes (checkpoints, outputs); already holds the spec's input files. */
  workDir: string;
  /** Extra environment for the job. */
  env: Record<string, string>;
  /** Where the job's stdout and stderr are kept (job.log in the work dir). */
  logFile: string;
  /** Aborting it while the job waits for a slot gives the slot up; once started, use cancel(). */
  signal?: AbortSignal;
  /** Called when the job has a slot and starts (it may wait behind others first). */
  onStarted?: (where: string) => void;
}

export interface RunningJob {
  /** The protocol's events, in order; ends when the job's output ends. */
  readonly events: AsyncIterable<JobEvent>;
  /** Resolves once the job has ended (after its last event). */
  readonly exit: Promise<JobExit>;
  /** Asks the job to stop (it saves a checkpoint), forcing it after a grace period; resolves when it ended. */
  cancel(): Promise<JobExit>;
}

export interface JobRunner {
  /** "process" or "kubernetes": what the job records say ran it. */
  readonly kind: string;
  start(spec: TrainingSpec, options: StartOptions): Promise<RunningJob>;
  /** Ends every job it started (the trainer is stopping). */
  close(): Promise<void>;
}

/** A protocol line as an event, or undefined when the line is not one (logged, never fatal). */
export function parseJobEvent(line: string): JobEvent | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { event?: unknown }).event === 'string'
    )
      return value as JobEvent;
  } catch {
    return undefined;
  }
  return undefined;
}

/** Splits a stream of text chunks into lines (the last, unterminated one included). */
export async function* lines(chunks: AsyncIterable<string | Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of chunks) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  rest += decoder.decode();
  if (rest) yield rest;
}
