/** @jest-environment ./packages/ports/src/embedder/onnx-test-environment.mjs */
// End to end with the REAL embedder (all-MiniLM-L6-v2 prepared by scripts/prepare-models.mjs) and the real
// chunker: raw events → clean → chunk → embed → a dense search finds the right document.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { createChunkModule } from '@llmtwin/chunk';
import { policyChunker } from '@llmtwin/chunking';
import { createCleanModule } from '@llmtwin/clean';
import { createEmbedder } from '@llmtwin/ports/adapters';
import type { Embedder } from '@llmtwin/ports';
import { drained, publishRaw, startPipeline, stopPipeline, type Pipeline } from '@llmtwin/testkit/pipeline';
import { LIVE_ALIAS } from '../domain/collections.js';
import { createEmbedModule } from '../module.js';

const cacheDir = process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin');
const modelDir = path.join(cacheDir, 'models', 'all-MiniLM-L6-v2');

describe('feature pipeline with the real embedder', () => {
  let embedder: Embedder;
  let p: Pipeline;
  beforeAll(async () => {
    if (!existsSync(path.join(modelDir, 'config.json'))) {
      throw new Error(
        `the embedding model is not prepared in ${modelDir}: run \`node scripts/prepare-models.mjs\``,
      );
    }
    embedder = await createEmbedder('onnx:all-MiniLM-L6-v2', { cacheDir });
    p = await startPipeline(
      { createCleanModule, createChunkModule, createEmbedModule },
      embedder,
      policyChunker(embedder),
    );
  });
  afterAll(async () => {
    if (p) await stopPipeline(p);
    await embedder?.close();
  });

  it('indexes articles so that a dense query finds the right one', async () => {
    const long = (s: string) =>
      Array.from(
        { length: 3 },
        (_, i) => `${s} (part ${i + 1}), explained with care for readers who are new to it.`,
      );
    await publishRaw(p.bus, {
      id: 'doc_cook',
      version: 1,
      title: 'Baking bread',
      paragraphs: long('Knead the dough, let the yeast rise overnight and bake the loaf in a hot oven'),
    });
    await publishRaw(p.bus, {
      id: 'doc_db',
      version: 1,
      title: 'Database indexes',
      paragraphs: long('A B-tree index lets the database find rows by key without scanning the whole table'),
    });
    await drained(p);
    expect(await p.vectors.count(LIVE_ALIAS, { documentIds: ['doc_cook'] })).toBeGreaterThan(0);
    expect(await p.vectors.count(LIVE_ALIAS, { documentIds: ['doc_db'] })).toBeGreaterThan(0);
    const [vector] = await embedder.embed(['how do I make sourdough at home?'], 'query');
    const hits = await p.vectors.search(LIVE_ALIAS, { mode: 'dense', vector: vector!, limit: 3 });
    expect(hits[0]?.metadata.documentId).toBe('doc_cook');
    expect(await p.bus.deadLetters('llmtwin.chunks.v1')).toEqual([]);
  });
});
