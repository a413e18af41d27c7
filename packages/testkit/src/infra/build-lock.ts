import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { cacheDir } from './paths.js';
import { identityOf, isAlive, type ProcessIdentity } from './process-identity.js';

/**
 * Runs `fn` while holding an exclusive lock file in the cache, so that two test runs starting on a fresh
 * machine at once do not both spend ten minutes building Weaviate. A lock left by a dead process is taken
 * over. `fn` must re-check whether the artifact appeared while it waited.
 */
export async function withBuildLock<T>(
  name: string,
  log: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const dir = path.join(cacheDir(), 'locks');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.lock`);
  let announced = false;
  for (;;) {
    if (tryAcquire(file)) break;
    const holder = readHolder(file);
    if (holder === 'gone') continue;
    if (holder === 'unreadable' || !isAlive(holder)) {
      unlinkQuietly(file);
      continue;
    }
    if (!announced) {
      log(`waiting for process ${holder.pid}, which is preparing ${name}`);
      announced = true;
    }
    await sleep(1000);
  }
  try {
    return await fn();
  } finally {
    unlinkQuietly(file);
  }
}

// link(2) creates the lock with its content in one step, so no one ever reads a half-written lock.
function tryAcquire(file: string): boolean {
  const staging = `${file}.${process.pid}`;
  writeFileSync(staging, JSON.stringify(identityOf(process.pid)));
  try {
    linkSync(staging, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    unlinkQuietly(staging);
  }
}

function readHolder(file: string): ProcessIdentity | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  try {
    return JSON.parse(text) as ProcessIdentity;
  } catch {
    return 'unreadable';
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}
