// Helpers shared by the importer tests on committed exports and on local-only ones.
import { expect } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ExtractedDocument } from '../../domain/extracted-document.js';

export function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)],
  );
}

export const byUrlEnd = (docs: ExtractedDocument[], end: string): ExtractedDocument => {
  const found = docs.filter((d) => d.canonicalUrl.endsWith(end));
  expect(found).toHaveLength(1);
  return found[0]!;
};

export const iso = (d: ExtractedDocument): string | null =>
  d.publishedAt === null ? null : new Date(d.publishedAt).toISOString();
