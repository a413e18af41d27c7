// `npm run bench -- <name> <data folder> [--out <file>] [options]`: runs bench/<name>.ts, so the same command
// scores any copy of a benchmark set.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// Modules the benchmarks share (the load generator, the router benchmark's upstream): not benchmarks.
const helpers = new Set(['run', 'load', 'upstream']);
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !helpers.has(f.slice(0, -3)))
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(
    `usage: npm run bench -- <name> <data folder> [--out <file>]\nbenchmarks: ${available.join(', ')}`,
  );
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, `${name}.ts`), ...rest], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
