import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from '@jest/globals';

import { locateTrainerPython, trainerVenvDir } from './trainer-python.js';

const script = fileURLToPath(new URL('../../../../scripts/prepare-trainer.mjs', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'trainer-python-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('locateTrainerPython', () => {
  it('names the same venv folder as scripts/prepare-trainer.mjs for the same cache', () => {
    const printed = spawnSync(process.execPath, [script, '--print-venv'], {
      env: { ...process.env, LLMTWIN_CACHE_DIR: tmp },
      encoding: 'utf8',
    });
    expect(printed.status).toBe(0);
    expect(printed.stdout.trim()).toBe(trainerVenvDir(tmp));
    expect(path.basename(path.dirname(printed.stdout.trim()))).toMatch(/^trainer-py-[0-9a-f]{12}$/);
  });

  it('reports an unprepared venv with the command to run, and a prepared one once the marker is there', () => {
    const before = locateTrainerPython({ cacheDir: tmp });
    expect(before.prepared).toBe(false);
    expect(before.problem).toContain('npm run trainer:prepare');
    const venv = trainerVenvDir(tmp);
    mkdirSync(path.join(venv, 'bin'), { recursive: true });
    writeFileSync(path.join(venv, 'bin', 'python'), '');
    expect(locateTrainerPython({ cacheDir: tmp }).prepared).toBe(false);
    writeFileSync(path.join(path.dirname(venv), 'llmtwin-prepared.json'), '{}');
    const after = locateTrainerPython({ cacheDir: tmp });
    expect(after).toMatchObject({ prepared: true, problem: null, python: path.join(venv, 'bin', 'python') });
    expect(after.pythonPath).toMatch(/services\/trainer\/python\/src$/);
  });

  it('takes an override as given and says when it does not exist', () => {
    const missing = path.join(tmp, 'nope', 'python');
    expect(locateTrainerPython({ override: missing, cacheDir: tmp })).toMatchObject({
      python: missing,
      venv: null,
      prepared: false,
    });
    expect(locateTrainerPython({ override: process.execPath }).prepared).toBe(true);
  });
});
