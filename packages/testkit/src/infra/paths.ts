import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where downloaded jars and built binaries live between runs, keyed by pinned version so that bumping a pin
 * rebuilds and an unchanged pin never does. Override with LLMTWIN_CACHE_DIR (CI caches this folder).
 */
export function cacheDir(): string {
  const fromEnv = process.env.LLMTWIN_CACHE_DIR;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return path.resolve(fromEnv);
  return path.join(os.homedir(), '.cache', 'llmtwin');
}

/** The monorepo root: the harness reads the pins in tools/ from there. */
export function repoRoot(): string {
  // Walking up from this file (not from cwd) keeps it right when jest or a script runs from a sub-folder.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'tools')) && isWorkspaceRoot(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('test harness: cannot find the repository root (a package.json with workspaces)');
    dir = parent;
  }
}

function isWorkspaceRoot(dir: string): boolean {
  const file = path.join(dir, 'package.json');
  if (!existsSync(file)) return false;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { workspaces?: unknown };
  return Array.isArray(pkg.workspaces);
}

export function toolsDir(tool: 'kafka' | 'ferretdb'): string {
  return path.join(repoRoot(), 'tools', tool);
}

/** Short content hash of the files that define a build, so an edit to them invalidates the cache entry. */
export function hashFiles(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(path.basename(file));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 10);
}
