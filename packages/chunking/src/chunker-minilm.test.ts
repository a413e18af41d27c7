// The chunker against the real all-MiniLM-L6-v2 WordPiece tokenizer that scripts/prepare-models.mjs puts in
// the model cache (CI prepares it before the tests). Without it this suite fails, saying how to prepare it.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { expectInvariants } from './chunk-invariants.fixture.js';
import { chunkDocument, defaultPolicy, type Category, type ChunkInput } from './chunker.js';
import { approximateWordPieceCounter, type TokenCounter } from './tokenizer.js';

const cacheDir = process.env.LLMTWIN_CACHE_DIR || join(homedir(), '.cache', 'llmtwin');
const folder = join(cacheDir, 'models', 'all-MiniLM-L6-v2');

let minilm: TokenCounter;

beforeAll(async () => {
  if (!existsSync(join(folder, 'tokenizer.json'))) {
    throw new Error(
      `the all-MiniLM-L6-v2 tokenizer is not in ${folder}: run \`node scripts/prepare-models.mjs\` ` +
        '(LLMTWIN_CACHE_DIR picks another cache root) before the tests',
    );
  }
  env.allowRemoteModels = false;
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(folder, {
    local_files_only: true,
  });
  // The same count the embedder reports: [CLS] + text + [SEP], with no truncation.
  minilm = { maxTokens: 256, model: 'all-MiniLM-L6-v2', countTokens: (t) => tokenizer.encode(t).length };
});

const fixtures = fileURLToPath(new URL('../../../services/ingest/test/fixtures/', import.meta.url));
const PAGES = [
  'medium-json/xdamman-mediumexporter/history-9fa2e0e4/examples/jstape.md',
  'medium-json/xdamman-mediumexporter/history-9fa2e0e4/examples/bestartupmanifesto.md',
  'substack/kepano-defuddle/tests/expected/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.md',
];
const CODE_FILE = fileURLToPath(new URL('./chunker.ts', import.meta.url));

function run(text: string, category: Category, language?: string, max?: number) {
  const counter: TokenCounter = max ? { ...minilm, maxTokens: max } : minilm;
  const policy = defaultPolicy(category, counter);
  const input: ChunkInput = { documentId: 'doc_9', version: 1, authorId: 'auth_9', category, text, language };
  const chunks = chunkDocument(input, policy, counter);
  expectInvariants(input, policy, counter, chunks);
  return chunks;
}

describe('chunking with the all-MiniLM-L6-v2 tokenizer', () => {
  it('counts the special tokens as overhead and knows the model limit', () => {
    expect(minilm.countTokens('')).toBe(2);
    expect(minilm.countTokens('hello world')).toBe(4);
  });

  it.each(PAGES)('keeps every chunk of %s within 256 real tokens', (rel) => {
    const chunks = run(readFileSync(fixtures + rel, 'utf8'), 'article');
    expect(chunks.length).toBeGreaterThan(2);
    // Packing is greedy: most chunks come close to the limit rather than being cut short.
    const full = chunks.filter((c) => c.tokenCount > 256 * 0.5).length;
    expect(full / chunks.length).toBeGreaterThan(0.5);
  });

  it('chunks code, a long paragraph and CJK/emoji text within the real limit', () => {
    expect(run(readFileSync(CODE_FILE, 'utf8'), 'code', 'typescript').length).toBeGreaterThan(3);
    const para = Array.from(
      { length: 300 },
      (_, i) => `Sentence ${i} explains tokenization of naïve café text.`,
    ).join(' ');
    expect(run(para, 'post', undefined, 64).length).toBeGreaterThan(10);
    const mixed = '分块是把长文本切成小段的过程。🙂 Emoji 🚀 and 日本語のテキスト。'.repeat(80);
    expect(run(mixed, 'article', undefined, 48).length).toBeGreaterThan(5);
  });

  it('the approximate counter over-counts English prose relative to the real one', () => {
    const approx = approximateWordPieceCounter(256);
    const text = readFileSync(fixtures + PAGES[0]!, 'utf8').slice(0, 4000);
    expect(approx.countTokens(text)).toBeGreaterThanOrEqual(minilm.countTokens(text));
  });
});
