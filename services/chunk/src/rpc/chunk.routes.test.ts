// Every ChunkService RPC through an in-memory Connect transport (createRouterTransport over the module's own
// registration, with the error interceptor the hosts use), on the embedded warehouse and event log. The
// chunker is the real one (policyChunker); only its token counter is a FAKE (one token per whitespace word,
// plus two special tokens), because the real counter is the embedding model's tokenizer.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Code, type Client } from '@connectrpc/connect';
import { chunkv1, commonv1 } from '@llmtwin/contracts';
import { policyChunker } from '@llmtwin/chunking';
import { type EventBus, type Warehouse } from '@llmtwin/ports';
import { createLogger } from '@llmtwin/runtime';
import { openEmbeddedStorage, rejection, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { createChunkModule } from '../module.js';

const logger = createLogger('chunk-routes-test', { level: 'silent' });
const MAX_TOKENS = 40;

/** FAKE tokenizer: whitespace words, plus the two special tokens a BERT-style model adds. */
const fakeWordCounter = {
  maxTokens: MAX_TOKENS,
  model: 'fake-whitespace-words',
  countTokens: (text: string) => (text.match(/\S+/g) ?? []).length + 2,
};

const paragraph = (topic: string) =>
  `${topic} matters because every step of the pipeline reads it. ` +
  `A reader who follows the ${topic} section learns why the structure of the text is kept intact.`;
const ARTICLE = [
  '# Baking',
  paragraph('Flour'),
  '## Starter',
  paragraph('Starter'),
  paragraph('Feeding'),
  '## Oven',
  paragraph('Heat'),
].join('\n\n');

describe('ChunkService routes over an in-memory transport', () => {
  let storage: EmbeddedStorage | undefined;
  let warehouse: Warehouse;
  let bus: EventBus;
  let client: Client<typeof chunkv1.ChunkService>;

  beforeAll(async () => {
    storage = await openEmbeddedStorage('chunk-routes-');
    ({ warehouse, bus } = storage);
    const module = await createChunkModule({
      warehouse,
      eventBus: bus,
      chunker: policyChunker(fakeWordCounter),
      logger,
    });
    client = routesClient(chunkv1.ChunkService, module, logger);
  });

  afterAll(async () => {
    await storage?.close();
  });

  it('PreviewChunks splits a text with the live policy into bounded, ordered, deterministic chunks', async () => {
    const { chunks } = await client.previewChunks({ category: commonv1.Category.ARTICLE, text: ARTICLE });
    expect(chunks.length).toBeGreaterThan(1);
    chunks.forEach((c, i) => {
      expect(c.position).toBe(i);
      expect(c.id).toMatch(/^chk_[0-9a-f]{32}$/);
      expect(c.text).toBe(ARTICLE.slice(c.startOffset, c.endOffset));
      expect(c.tokenCount).toBe(fakeWordCounter.countTokens(c.text));
      expect(c.tokenCount).toBeLessThanOrEqual(MAX_TOKENS);
    });
    // Every word of the text is in some chunk, and the sections follow the headings.
    const covered = new Set(chunks.flatMap((c) => c.text.match(/\S+/g) ?? []));
    for (const word of ARTICLE.match(/\S+/g)!) expect(covered).toContain(word);
    expect(chunks.some((c) => /Starter/.test(c.section))).toBe(true);
    expect(chunks.some((c) => /Oven/.test(c.section))).toBe(true);

    const again = await client.previewChunks({ category: commonv1.Category.ARTICLE, text: ARTICLE });
    expect(again.chunks.map((c) => c.id)).toEqual(chunks.map((c) => c.id));

    const code = 'def one():\n    return 1\n\n\ndef two():\n    return 2\n';
    const pieces = await client.previewChunks({
      category: commonv1.Category.CODE,
      text: code,
      language: 'python',
    });
    expect(pieces.chunks.map((c) => c.text).join('')).toContain('def two()');
    expect((await client.previewChunks({ category: commonv1.Category.POST, text: '   ' })).chunks).toEqual(
      [],
    );
  });

  it('PreviewChunks refuses a request without a known category, saying which ones exist', async () => {
    const missing = await rejection(client.previewChunks({ text: ARTICLE }));
    expect(missing.code).toBe(Code.InvalidArgument);
    expect(missing.rawMessage).toMatch(/category is required \(category: article, post or code\)/);
    const unknown = await rejection(
      client.previewChunks({ category: 7 as commonv1.Category, text: ARTICLE }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
  });

  it('GetChunkingPolicy publishes the policy of each category with the tokenizer that counts it', async () => {
    const { policies } = await client.getChunkingPolicy({});
    expect(policies.map((p) => p.category)).toEqual([
      commonv1.Category.ARTICLE,
      commonv1.Category.POST,
      commonv1.Category.CODE,
    ]);
    for (const p of policies) {
      expect(p.maxTokens).toBe(MAX_TOKENS);
      expect(p.tokenizer).toBe('fake-whitespace-words');
      expect(p.overlapTokens).toBeGreaterThanOrEqual(0);
      expect(p.overlapTokens * 2).toBeLessThanOrEqual(p.maxTokens);
      expect(p.strategy).not.toBe('');
    }
  });
});
