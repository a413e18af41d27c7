#!/usr/bin/env node
// Prepares the training job's Python environment (services/trainer/python) in the cache, never in the repo:
// `<LLMTWIN_CACHE_DIR or ~/.cache/llmtwin>/trainer-py-<first 12 hex of sha256(requirements.lock)>/venv`.
// The folder name follows the lock file, so an edit to the lock builds a new venv and an unchanged one is
// reused (under a second: the marker is read and the interpreter finds the packages).
//
// pip installs the lock exactly (--require-hashes --no-deps): every wheel is checked against its sha256.
// Our own package is not installed; the job runs with PYTHONPATH=services/trainer/python/src.
// The venv is built in a `.partial-<pid>` folder and renamed when complete, so a half-built one is never
// used; only `venv/bin/python -m ...` is ever run, because the console scripts keep the staging path.
//
// The rule that names the folder is shared with services/trainer/src/adapters/trainer-python.ts (the
// trainer's locator); trainer-python.test.ts checks that both print the same folder.
//
// Usage: node scripts/prepare-trainer.mjs [--force] [--print-venv]
//   LLMTWIN_CACHE_DIR  cache root (default ~/.cache/llmtwin)
//   PYTHON             a CPython 3.11 with the venv module (default python3): the lock is for 3.11
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const lockFile = join(repo, 'services', 'trainer', 'python', 'requirements.lock');
const MARKER = 'llmtwin-prepared.json';
const IMPORT_CHECK = 'import torch, transformers, peft, trl, datasets, gguf, accelerate';
// The check on every run when the venv is there: finds the packages without importing them (importing torch and
// transformers costs ~10 s of CPU, which `npm test` would pay each time); the full import ran when it was built.
const FIND_CHECK =
  'import importlib.util as u, sys; ' +
  'missing = [m for m in ("torch", "transformers", "peft", "trl", "datasets", "gguf", "accelerate") if u.find_spec(m) is None]; ' +
  'print(" ".join(missing), file=sys.stderr); sys.exit(1 if missing else 0)';

const args = new Set(process.argv.slice(2));
const log = (msg) => console.log(`[prepare-trainer] ${msg}`);

// The harness's rule (packages/testkit/src/infra/paths.ts): a blank value is unset, a relative one is from cwd.
const cacheRoot = process.env.LLMTWIN_CACHE_DIR?.trim()
  ? resolve(process.env.LLMTWIN_CACHE_DIR.trim())
  : join(homedir(), '.cache', 'llmtwin');
const lockText = readFileSync(lockFile);
const lockSha256 = createHash('sha256').update(lockText).digest('hex');
const dir = join(cacheRoot, `trainer-py-${lockSha256.slice(0, 12)}`);
const venv = join(dir, 'venv');
const python = join(venv, 'bin', 'python');

if (args.has('--print-venv')) {
  console.log(venv);
  process.exit(0);
}

function markerMatches() {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER), 'utf8')).lockSha256 === lockSha256;
  } catch {
    return false;
  }
}

function importsStack(py, check = IMPORT_CHECK) {
  const res = spawnSync(py, ['-c', check], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  return res.status === 0
    ? null
    : (res.stderr?.toString().trim().split('\n').slice(-3).join(' | ') ?? 'no output');
}

function run(cmd, argv) {
  const res = spawnSync(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.error) throw new Error(`${cmd} could not run: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${res.status}`);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

// A lock file made with link(2), so it appears with its content in one step; one left by a dead process is
// taken over. Two test runs starting at once on a fresh machine must not both download 3.5 GB.
async function withLock(fn) {
  const locks = join(cacheRoot, 'locks');
  mkdirSync(locks, { recursive: true });
  const file = join(locks, `trainer-py-${lockSha256.slice(0, 12)}.lock`);
  let announced = false;
  for (;;) {
    const staging = `${file}.${process.pid}`;
    writeFileSync(staging, String(process.pid));
    let got = false;
    try {
      linkSync(staging, file);
      got = true;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    } finally {
      rmSync(staging, { force: true });
    }
    if (got) break;
    let holder = NaN;
    try {
      holder = Number(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (!Number.isInteger(holder) || !alive(holder)) {
      try {
        unlinkSync(file);
      } catch {
        // another waiter took it over first
      }
      continue;
    }
    if (!announced) log(`waiting for process ${holder}, which is preparing ${dir}`);
    announced = true;
    await sleep(1000);
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

function basePython() {
  const py = process.env.PYTHON || 'python3';
  const res = spawnSync(py, ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  });
  if (res.error || res.status !== 0) {
    throw new Error(
      `${py} cannot create a venv (Debian: apt-get install python3.11-venv); set PYTHON to a CPython 3.11`,
    );
  }
  const version = res.stdout.trim();
  if (version !== '3.11') {
    throw new Error(
      `${py} is Python ${version}; requirements.lock is pinned for CPython 3.11: set PYTHON to a python3.11`,
    );
  }
  return py;
}

async function prepare() {
  if (!args.has('--force') && markerMatches() && existsSync(python)) {
    const broken = importsStack(python, FIND_CHECK);
    if (broken === null) return { built: false };
    log(`${venv} is there but does not import the stack (${broken}); rebuilding`);
  }
  return withLock(async () => {
    if (
      !args.has('--force') &&
      markerMatches() &&
      existsSync(python) &&
      importsStack(python, FIND_CHECK) === null
    ) {
      return { built: false };
    }
    const py = basePython();
    const packages = lockText.toString().match(/^[A-Za-z0-9][^\s=]*==\S+/gm) ?? [];
    log(
      `a cold machine downloads ${packages.length} pinned wheels from PyPI, about 3.5 GB: torch 2.15.0 ` +
        'with its CUDA libraries (nvidia-*, triton; torch does not import without them, even on CPU), ' +
        'transformers, peft, trl, datasets, gguf, accelerate, bitsandbytes; the venv takes about 6 GB',
    );
    const started = Date.now();
    const staging = `${dir}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    try {
      run(py, ['-m', 'venv', join(staging, 'venv')]);
      const stagingPython = join(staging, 'venv', 'bin', 'python');
      // No pip cache: it would keep a second 3.5 GB copy of the wheels for a venv that is built once per lock.
      run(stagingPython, [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-cache-dir',
        '--progress-bar',
        'off',
        '--require-hashes',
        '--no-deps',
        '--only-binary',
        ':all:',
        '-r',
        lockFile,
      ]);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      throw error;
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    const broken = importsStack(python);
    if (broken !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`installed, but \`${python} -c "${IMPORT_CHECK}"\` fails: ${broken}`);
    }
    const seconds = Math.round((Date.now() - started) / 1000);
    // Written last: a folder without it is unfinished or foreign and is rebuilt.
    writeFileSync(
      join(dir, MARKER),
      `${JSON.stringify({ lockSha256, basePython: py, preparedAt: new Date().toISOString(), seconds }, null, 2)}\n`,
    );
    return { built: true, seconds };
  });
}

try {
  const result = await prepare();
  log(result.built ? `built ${venv} in ${result.seconds} s` : `ready: ${venv}`);
  log(
    `the job runs as: PYTHONPATH=services/trainer/python/src ${python} -m llmtwin_train <train|perplexity|generate> --spec <file>`,
  );
} catch (error) {
  console.error(`[prepare-trainer] ${error.message}`);
  process.exit(1);
}
