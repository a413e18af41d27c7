// Where the tests find saved platform data: committed sets under services/ingest/test/fixtures, and the
// unlicensed local-only sets beside the repository (../shared/fixtures/local-only), never copied in.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
export const committedFixtures = resolve(repoRoot, 'services/ingest/test/fixtures');
export const localOnlyFixtures = resolve(repoRoot, '../shared/fixtures/local-only');

export function fixtureBytes(relative: string): Uint8Array {
  return new Uint8Array(readFileSync(resolve(committedFixtures, relative)));
}

export function fixtureJson<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(resolve(committedFixtures, relative), 'utf8')) as T;
}

export function fixtureText(relative: string): string {
  return readFileSync(resolve(committedFixtures, relative), 'utf8');
}
