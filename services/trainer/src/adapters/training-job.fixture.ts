// Test support for the real training job (services/trainer/python): runs `python -m llmtwin_train` from the
// prepared venv (or LLMTWIN_TRAINER_PYTHON) and collects its JSON-lines events.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { locateTrainerPython } from './trainer-python.js';

export interface JobEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface JobResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly events: JobEvent[];
  readonly stderr: string;
}

export const SMOLLM2_GGUF = path.join(
  process.env.LLMTWIN_CACHE_DIR?.trim() || path.join(os.homedir(), '.cache', 'llmtwin'),
  'models',
  'SmolLM2-135M-Instruct',
  'SmolLM2-135M-Instruct.Q4_1.gguf',
);

export function trainerPython(): { python: string; pythonPath: string } {
  const found = locateTrainerPython({ override: process.env.LLMTWIN_TRAINER_PYTHON });
  if (!found.prepared) throw new Error(found.problem ?? 'no trainer python');
  return found;
}

/**
 * Runs one job command to its end. `onEvent` sees each event as it arrives, with the child, so a test can
 * signal it at a chosen point.
 */
export function runJob(
  command: 'train' | 'perplexity' | 'generate',
  spec: object,
  dir: string,
  onEvent?: (event: JobEvent, child: ChildProcess) => void,
): Promise<JobResult> {
  const { python, pythonPath } = trainerPython();
  mkdirSync(dir, { recursive: true });
  const specFile = path.join(dir, `${command}-${Date.now()}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const child = spawn(python, ['-m', 'llmtwin_train', command, '--spec', specFile], {
    env: { ...process.env, PYTHONPATH: pythonPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: JobEvent[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      // Anything on stdout that is not an event is a protocol violation, so it fails the parse loudly.
      const event = JSON.parse(line) as JobEvent;
      events.push(event);
      onEvent?.(event, child);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, events, stderr }));
  });
}

export function writeJsonl(file: string, rows: readonly object[]): string {
  writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''));
  return file;
}

export const of = (events: readonly JobEvent[], name: string) => events.filter((e) => e.event === name);
