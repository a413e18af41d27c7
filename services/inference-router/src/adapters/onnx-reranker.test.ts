/** @jest-environment ./packages/ports/src/embedder/onnx-test-environment.mjs */
// No cross-encoder can be had from the package registries this project builds from, so these tests use the
// prepared all-MiniLM-L6-v2 folder: its tokenizer is the bert-base-uncased WordPiece that the ms-marco MiniLM
// cross-encoders share, and its ONNX encoder, relabelled as a classifier, exercises the real load and
// forward path up to the missing logits. Relevance itself is not tested here.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { isDomainError } from '@llmtwin/runtime';
import { OnnxReranker, PairTemplate, batchTensors } from './onnx-reranker.js';

const cacheDir = process.env.LLMTWIN_CACHE_DIR || join(homedir(), '.cache', 'llmtwin');
const minilm = join(cacheDir, 'models', 'all-MiniLM-L6-v2');
const script = fileURLToPath(new URL('../../../../scripts/prepare-models.mjs', import.meta.url));

let template: PairTemplate;
let work: string;

beforeAll(async () => {
  if (!existsSync(join(minilm, 'llmtwin-model.json'))) {
    const res = spawnSync(process.execPath, [script], {
      encoding: 'utf8',
      env: { ...process.env, LLMTWIN_CACHE_DIR: cacheDir },
    });
    if (res.status !== 0) {
      throw new Error(
        `the test model is missing and scripts/prepare-models.mjs failed:\n${res.stdout}\n${res.stderr}`,
      );
    }
  }
  env.allowRemoteModels = false;
  template = new PairTemplate(await AutoTokenizer.from_pretrained(minilm, { local_files_only: true }));
  work = mkdtempSync(join(tmpdir(), 'llmtwin-reranker-test-'));
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const CLS = 101;
const SEP = 102;

/** A copy of the MiniLM folder whose config.json is edited by `change`. */
function modelFolder(name: string, change: (config: Record<string, unknown>) => void): string {
  const folder = join(work, name);
  cpSync(minilm, folder, { recursive: true });
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
  change(config);
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
  return folder;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('PairTemplate (BERT WordPiece)', () => {
  it('builds [CLS] query [SEP] passage [SEP] with the passage as segment 1', () => {
    const q = template.ids('how many people live in berlin?');
    const p = template.ids('berlin has 3.5 million inhabitants.');
    const pair = template.build(q, p, 512);
    expect(template.specialTokenCount).toBe(3);
    expect(pair.ids).toEqual([CLS, ...q, SEP, ...p, SEP]);
    expect(pair.typeIds).toEqual([0, ...q.map(() => 0), 0, ...p.map(() => 1), 1]);
    expect(template.padId).toBe(0);
  });

  it('cuts a long passage to the limit and keeps the closing [SEP]', () => {
    const q = template.ids('what causes scurvy?');
    const p = template.ids('vitamin c deficiency '.repeat(300));
    const pair = template.build(q, p, 512);
    expect(pair.ids).toHaveLength(512);
    expect(pair.typeIds).toHaveLength(512);
    expect(pair.ids.slice(0, q.length + 2)).toEqual([CLS, ...q, SEP]);
    expect(pair.ids.at(-1)).toBe(SEP);
    expect(pair.ids.slice(q.length + 2, -1)).toEqual(p.slice(0, 512 - 3 - q.length));
  });

  it('trims the longer side first, then both alternately, as longest_first does', () => {
    const q = Array.from({ length: 10 }, (_, i) => 1000 + i);
    const p = Array.from({ length: 30 }, (_, i) => 2000 + i);
    // room 17: passage 30 → 10 (equal), then 3 more: passage 2, query 1.
    const pair = template.build(q, p, 20);
    expect(pair.ids).toEqual([CLS, ...q.slice(0, 9), SEP, ...p.slice(0, 8), SEP]);
  });
});

describe('batchTensors', () => {
  it('pads rows to the widest with pad id, mask 0 and segment 0', () => {
    const t = batchTensors(
      [
        { ids: [CLS, 5, SEP, 6, 7, SEP], typeIds: [0, 0, 0, 1, 1, 1] },
        { ids: [CLS, 5, SEP, 6, SEP], typeIds: [0, 0, 0, 1, 1] },
      ],
      0,
    );
    expect(t.input_ids!.dims).toEqual([2, 6]);
    expect(Array.from(t.input_ids!.data as BigInt64Array, Number)).toEqual([
      CLS,
      5,
      SEP,
      6,
      7,
      SEP,
      CLS,
      5,
      SEP,
      6,
      SEP,
      0,
    ]);
    expect(Array.from(t.attention_mask!.data as BigInt64Array, Number)).toEqual([
      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    ]);
    expect(Array.from(t.token_type_ids!.data as BigInt64Array, Number)).toEqual([
      0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0,
    ]);
  });
});

describe('OnnxReranker.load', () => {
  it('says what a model folder needs when it is missing', async () => {
    const err = await failure(OnnxReranker.load(join(work, 'no-such-model')));
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect(err.message).toContain('no config.json');
    expect(err.message).toContain('onnx/model.onnx');
  });

  it('refuses an embedding model: it is not a cross-encoder', async () => {
    const err = await failure(OnnxReranker.load(minilm));
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect(err.message).toMatch(/BertModel, not a cross-encoder/);
  });

  it('refuses a classifier with more labels than relevance needs', async () => {
    const folder = modelFolder('three-labels', (c) => {
      c.architectures = ['BertForSequenceClassification'];
      c.id2label = { 0: 'a', 1: 'b', 2: 'c' };
    });
    const err = await failure(OnnxReranker.load(folder));
    expect(err.message).toContain('has 3 labels');
  });

  it('runs the encoder on real pairs and fails clearly when it gives no logits', async () => {
    // An encoder relabelled as a classifier: it loads and runs, but its output is hidden states.
    const folder = modelFolder('relabelled', (c) => {
      c.architectures = ['BertForSequenceClassification'];
      c.id2label = { 0: 'LABEL_0' };
    });
    const reranker = await OnnxReranker.load(folder, { threads: 1, batchSize: 2 });
    try {
      expect(reranker.name).toBe('relabelled:q8');
      expect(reranker.maxTokens).toBe(512);
      await expect(reranker.rerank('a query', [])).resolves.toEqual([]);
      const err = await failure(reranker.rerank('what causes scurvy?', ['vitamin c deficiency', 'rain']));
      expect(isDomainError(err, 'unavailable')).toBe(true);
      expect(err.message).toContain('no [pairs × labels] logits');
      const aborted = new AbortController();
      aborted.abort();
      await expect(reranker.rerank('q', ['p'], aborted.signal)).rejects.toThrow();
    } finally {
      await reranker.close();
    }
    await expect(reranker.rerank('q', ['p'])).rejects.toThrow(/closed/);
  }, 60_000);
});
