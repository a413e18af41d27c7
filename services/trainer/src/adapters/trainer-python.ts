// Where the training job's Python lives. scripts/prepare-trainer.mjs (`npm run trainer:prepare`) builds a
// virtual environment from services/trainer/python/requirements.lock into
// `<cache>/trainer-py-<first 12 hex of sha256(requirements.lock)>/venv` and writes a marker there last; this
// is the same rule for the service, which only looks and never builds (trainer-python.test.ts checks that
// the script and this file name the same folder).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MARKER = 'llmtwin-prepared.json';

/** services/trainer/python: pyproject.toml, requirements.lock and src/llmtwin_train. */
export const TRAINER_PYTHON_PROJECT = fileURLToPath(new URL('../../python', import.meta.url));

export interface TrainerPython {
  /** The interpreter to run the job with: `<python> -m llmtwin_train <command> --spec <file>`. */
  readonly python: string;
  /** What PYTHONPATH must hold so that `-m llmtwin_train` finds the package (it is not pip-installed). */
  readonly pythonPath: string;
  /** The venv folder, or null when the interpreter came from the override. */
  readonly venv: string | null;
  /** False when the venv is missing or unfinished; `problem` then says what to run. */
  readonly prepared: boolean;
  readonly problem: string | null;
}

/** The cache root of the scripts and the test harness: LLMTWIN_CACHE_DIR, else ~/.cache/llmtwin. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.LLMTWIN_CACHE_DIR;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return path.resolve(fromEnv);
  return path.join(os.homedir(), '.cache', 'llmtwin');
}

/** The first 12 hex digits of sha256(requirements.lock): the venv folder's key. */
export function trainerLockHash(lockFile = path.join(TRAINER_PYTHON_PROJECT, 'requirements.lock')): string {
  return createHash('sha256').update(readFileSync(lockFile)).digest('hex').slice(0, 12);
}

/** The venv that `npm run trainer:prepare` builds for the current lock file. */
export function trainerVenvDir(cacheDir: string): string {
  return path.join(cacheDir, `trainer-py-${trainerLockHash()}`, 'venv');
}

/**
 * Finds the job's interpreter: `override` (the trainer's config passes LLMTWIN_TRAINER_PYTHON) as given,
 * else the prepared venv in `cacheDir`. Never throws for a missing venv: the caller decides whether that is
 * fatal, and `problem` says what to run.
 */
export function locateTrainerPython(
  options: { readonly override?: string | undefined; readonly cacheDir?: string } = {},
): TrainerPython {
  const pythonPath = path.join(TRAINER_PYTHON_PROJECT, 'src');
  const override = options.override?.trim();
  if (override) {
    const ok = existsSync(override);
    return {
      python: override,
      pythonPath,
      venv: null,
      prepared: ok,
      problem: ok ? null : `LLMTWIN_TRAINER_PYTHON=${override}: no such file`,
    };
  }
  const venv = trainerVenvDir(options.cacheDir ?? defaultCacheDir());
  const python = path.join(venv, 'bin', 'python');
  const prepared = existsSync(python) && existsSync(path.join(path.dirname(venv), MARKER));
  return {
    python,
    pythonPath,
    venv,
    prepared,
    problem: prepared
      ? null
      : `the training job's Python environment is not prepared at ${venv}: run \`npm run trainer:prepare\` (about 3.5 GB from PyPI, once per requirements.lock)`,
  };
}
