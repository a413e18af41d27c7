// The dataset builder over a synthetic author (test/corpus.ts) with the word-estimate tokenizer: hygiene
// counts, splits without leakage (near copies included), PII scrubbed, TRL-readable JSONL, determinism,
// LLM generation with failures, answer edits, and cancellation.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ArtifactStore } from '@llmtwin/ports';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { commonv1, registryv1, trainerv1 } from '@llmtwin/contracts';
import { isDomainError } from '@llmtwin/runtime/errors';
import { AUTHOR, InMemoryAnswerEdits, InMemorySnapshot, corpus, doc, prose } from '../../test/corpus.js';
import { FakeRecorder } from '../../test/doubles.js';
import { DatasetBuilder, type BuildProgress } from './dataset-builder.js';
import { resolveDatasetRequest } from './dataset-request.js';
import { ExtractiveGenerator, LlmGenerator, INSTRUCTION_SCHEMA } from './example-generators.js';
import {
  CHAT_SCHEMA_VERSION,
  PREFERENCE_SCHEMA_VERSION,
  validateJsonl,
  type ChatRecord,
  type PreferenceRecord,
} from './export-format.js';
import type { CompletionRequest, GeneratorLlm } from './generator-llm.port.js';
import { exactJaccard, shingles } from './minhash.js';
import { sha256Hex } from './text-hash.js';
import { wordEstimateTokenizer } from './tokenizer.port.js';

const request = (
  init: Omit<MessageInitShape<typeof trainerv1.BuildDatasetRequestSchema>, '$typeName'> = {},
) =>
  resolveDatasetRequest(
    create(trainerv1.BuildDatasetRequestSchema, {
      authorId: AUTHOR,
      maxTokens: 200n,
      seed: 42n,
      testFraction: 0.3,
      ...init,
    }),
    'extractive',
  );

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** The embedded artifact store in a fresh folder, with a reader for the split files. */
async function artifactFolder() {
  const dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-datasets-'));
  dirs.push(dir);
  const store: ArtifactStore = await createArtifactStore(`file:${dir}`);
  return Object.assign(store, {
    text: async (uri: string) => new TextDecoder().decode(await store.get(uri)),
    count: async () => {
      let n = 0;
      for await (const _ of store.list()) n++;
      return n;
    },
  });
}

async function setup(docs = corpus(), edits: InMemoryAnswerEdits | undefined = undefined) {
  const artifacts = await artifactFolder();
  const recorder = new FakeRecorder();
  const builder = new DatasetBuilder({
    snapshot: new InMemorySnapshot(docs),
    ...(edits ? { answerEdits: edits } : {}),
    tokenizer: wordEstimateTokenizer,
    artifacts,
    recorder,
  });
  return { builder, artifacts, recorder };
}

const lines = <T>(text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as T);

describe('DatasetBuilder (instruct, extractive)', () => {
  it('builds splits with no test passage in train, near copies across documents included', async () => {
    const { builder, artifacts, recorder } = await setup();
    const progress: BuildProgress[] = [];
    const result = await builder.build(request(), new ExtractiveGenerator(42n), (p) => progress.push(p));
    const draft = recorder.drafts[0]!;
    expect(result).toMatchObject({ datasetVersionId: 'dsv_1', created: true });
    expect(draft).toMatchObject({
      dataset: 'jane-instruct',
      kind: registryv1.DatasetKind.INSTRUCT,
      schemaVersion: CHAT_SCHEMA_VERSION,
    });

    const split = async (name: string) => {
      const s = draft.splits!.find((x) => x.name === name)!;
      const text = await artifacts.text(s.artifact!.uri!);
      expect(validateJsonl(text, CHAT_SCHEMA_VERSION)).toEqual([]);
      const records = lines<ChatRecord>(text);
      expect(BigInt(records.length)).toBe(s.examples);
      return records.map((r) => r.messages.at(-1)!.content);
    };
    const train = await split('train');
    const test = await split('test');
    expect(train.length).toBeGreaterThan(0);
    expect(test.length).toBeGreaterThan(0);
    for (const a of test) {
      for (const b of train) expect(exactJaccard(shingles(a), shingles(b))).toBeLessThan(0.8);
    }
    // The copies of doc03's paragraphs were removed, the originals (older) kept.
    const all = [...train, ...test];
    expect(all).toContain(prose(30));
    expect(all).toContain(prose(31));
    expect(all.filter((t) => t.toLowerCase().includes(prose(30).toLowerCase().slice(0, 40)))).toHaveLength(1);

    const stats = draft.stats!;
    expect(stats).toMatchObject({
      exactDuplicatesRemoved: 1n,
      nearDuplicatesRemoved: 1n,
      emailsScrubbed: 1n,
      phoneNumbersScrubbed: 1n,
      tokenizer: 'words-estimate/1',
      minTokens: 32n,
      maxTokens: 200n,
      nearDuplicateThreshold: 0.8,
      generationFailures: 0n,
    });
    expect(stats.examples).toBe(BigInt(all.length));
    expect(stats.passagesConsidered).toBeGreaterThan(stats.examples!);
    expect(stats.tokensPerExampleP50).toBeGreaterThan(0n);
    expect(stats.tokensPerExampleMax).toBeGreaterThanOrEqual(stats.tokensPerExampleP95!);
    expect(all.join('\n')).not.toMatch(/jane\.doe@example\.com|415 555/);
    expect(all.join('\n')).toMatch(/\[email\].*\[phone\]/);

    // Tombstones and drafts never contribute; sources carry the raw hash only for the version cleaned.
    const sources = draft.sources!;
    expect(sources.map((s) => s.documentId)).not.toContain('doc24');
    expect(sources.map((s) => s.documentId)).not.toContain('doc25');
    expect(sources.find((s) => s.documentId === 'doc01')).toMatchObject({
      version: 1n,
      rawContentHash: 'raw-doc01',
      sourceId: 'src_blog',
      canonicalUrl: 'https://jane.example.com/doc01',
      cleanedContentHash: await sha256Hex(corpus().find((d) => d.id === 'doc01')!.text),
    });
    expect(sources.find((s) => s.documentId === 'doc05')?.rawContentHash).toBe('');

    // content_hash = sha256 of the sha256sum-style manifest of the split files, in name order.
    const shaOf = (name: string) => draft.splits!.find((s) => s.name === name)!.artifact!.sha256;
    expect(draft.contentHash).toBe(
      await sha256Hex(`${shaOf('test')}  test.jsonl\n${shaOf('train')}  train.jsonl\n`),
    );
    expect(draft.generator).toMatchObject({ kind: 'extractive', modelId: 'extractive', seed: 42n });

    const last = progress.at(-1)!;
    expect(last.done).toBe(last.total);
    expect(last.total).toBe(all.length);
  });

  it('gives the same bytes for the same seed, and records nothing new the second time', async () => {
    const { builder, recorder } = await setup();
    const a = await builder.build(request(), new ExtractiveGenerator(42n), () => undefined);
    const b = await builder.build(request(), new ExtractiveGenerator(42n), () => undefined);
    expect(b).toMatchObject({ datasetVersionId: a.datasetVersionId, created: false });
    expect(b.draft.contentHash).toBe(a.draft.contentHash);
    const c = await builder.build(request({ seed: 7n }), new ExtractiveGenerator(7n), () => undefined);
    expect(c.draft.contentHash).not.toBe(a.draft.contentHash);
    expect(recorder.drafts).toHaveLength(2);
  });

  it('applies the filter: categories, platforms, publish window and languages', async () => {
    const { builder, recorder } = await setup();
    await builder.build(
      request({
        languages: ['en'],
        categories: [commonv1.Category.ARTICLE],
        platforms: [commonv1.Platform.SUBSTACK],
        publishedAfter: timestampFromMs(Date.UTC(2024, 0, 2)),
        publishedBefore: timestampFromMs(Date.UTC(2024, 0, 30)),
      }),
      new ExtractiveGenerator(42n),
      () => undefined,
    );
    const draft = recorder.drafts[0]!;
    const ids = draft.sources!.map((s) => s.documentId);
    expect(ids).not.toContain('doc00'); // before the window
    expect(ids).not.toContain('doc26'); // code
    expect(ids).not.toContain('doc23'); // German
    expect(ids).toContain('doc01');
    expect(draft.stats!.languageRemoved).toBeGreaterThan(0n);
    expect(draft.filter).toMatchObject({
      categories: [commonv1.Category.ARTICLE],
      platforms: [commonv1.Platform.SUBSTACK],
    });
    expect(draft.stats!.languages).toEqual(['en']);
  });

  it('counts passages outside the token bounds', async () => {
    const docs = [
      doc('doc01', 'Too short to be a passage.'),
      doc('doc02', `${prose(2)}\n\n${prose(3)}`),
      doc('doc03', `${prose(4)}\n\n${prose(5)}`),
    ];
    const { builder, recorder } = await setup(docs);
    await builder.build(
      request({ minTokens: 80n, maxTokens: 400n }),
      new ExtractiveGenerator(1n),
      () => undefined,
    );
    expect(recorder.drafts[0]!.stats!.tooShortRemoved).toBeGreaterThan(0n);
  });

  it('fails when the filter leaves nothing, or only one document', async () => {
    const { builder } = await setup();
    const none = await builder
      .build(
        request({ platforms: [commonv1.Platform.LINKEDIN] }),
        new ExtractiveGenerator(1n),
        () => undefined,
      )
      .catch((e: unknown) => e);
    expect(isDomainError(none, 'failed-precondition')).toBe(true);
    const one = await (
      await setup([doc('doc01', `${prose(1)}\n\n${prose(2)}`)])
    ).builder
      .build(request(), new ExtractiveGenerator(1n), () => undefined)
      .catch((e: unknown) => e);
    expect(isDomainError(one, 'failed-precondition')).toBe(true);
  });
});

/** A model double that answers from a script, to inject bad outputs and count calls. */
class ScriptedLlm implements GeneratorLlm {
  readonly model = 'writer';
  readonly requests: CompletionRequest[] = [];
  constructor(private readonly answer: (req: CompletionRequest, call: number) => string) {}
  async complete(req: CompletionRequest, signal?: AbortSignal) {
    signal?.throwIfAborted();
    this.requests.push(req);
    return this.answer(req, this.requests.length);
  }
}

describe('DatasetBuilder with a language model', () => {
  it('asks for JSON instructions, records the generator, and counts unusable outputs as failures', async () => {
    const llm = new ScriptedLlm((req, call) =>
      req.jsonSchema
        ? call % 5 === 0
          ? 'no json here'
          : JSON.stringify({ instruction: `Tell me about topic number ${call}.` })
        : 'A generic answer.',
    );
    const { builder, recorder, artifacts } = await setup();
    await builder.build(
      request({ kind: registryv1.DatasetKind.PREFERENCE }),
      new LlmGenerator(llm, { temperature: 0, seed: 42n }),
      () => undefined,
    );
    const draft = recorder.drafts[0]!;
    expect(draft.generator).toMatchObject({
      kind: 'llm',
      modelId: 'writer',
      promptTemplateVersion: 'dataset-instruct/1+dataset-rejected/1',
      temperature: 0,
      seed: 42n,
    });
    expect(draft.stats!.generationFailures).toBeGreaterThan(0n);
    const instructionCalls = llm.requests.filter((r) => r.jsonSchema);
    expect(instructionCalls[0]!.jsonSchema).toEqual(INSTRUCTION_SCHEMA);
    expect(instructionCalls[0]!.messages[1]!.content).toMatch(/^Title: Notes on /);
    const train = await artifacts.text(draft.splits!.find((s) => s.name === 'train')!.artifact!.uri!);
    expect(validateJsonl(train, PREFERENCE_SCHEMA_VERSION)).toEqual([]);
    const first = lines<PreferenceRecord>(train)[0]!;
    expect(first.prompt[0]!.content).toMatch(/^Tell me about topic number \d+\.$/);
    expect(first.rejected[0]!.content).toBe('A generic answer.');
  });

  it('fails the build when every instruction failed', async () => {
    const { builder, recorder } = await setup();
    const err = await builder
      .build(
        request(),
        new LlmGenerator(new ScriptedLlm(() => '{}'), { temperature: 0, seed: 1n }),
        () => undefined,
      )
      .catch((e: unknown) => e);
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect(recorder.drafts).toHaveLength(0);
  });

  it('stops when cancelled, storing and recording nothing', async () => {
    const controller = new AbortController();
    const llm = new ScriptedLlm((_, call) => {
      if (call === 3) controller.abort();
      return JSON.stringify({ instruction: 'Tell me something specific.' });
    });
    const { builder, recorder, artifacts } = await setup();
    const err = await builder
      .build(
        request(),
        new LlmGenerator(llm, { temperature: 0, seed: 1n }),
        () => undefined,
        controller.signal,
      )
      .catch((e: unknown) => e);
    expect(isDomainError(err, 'cancelled')).toBe(true);
    expect(llm.requests).toHaveLength(3);
    expect(recorder.drafts).toHaveLength(0);
    expect(await artifacts.count()).toBe(0);
  });
});

describe('DatasetBuilder (preference)', () => {
  it('adds answer edits as pairs: prompt = query, chosen = the edit, rejected = the answer', async () => {
    const edits = new InMemoryAnswerEdits([
      {
        generationId: 'gen_1',
        query: 'How do you start?',
        originalAnswer: 'Generic.',
        editedAnswer: 'With a walk. Mail me: a@b.io',
      },
      { generationId: 'gen_2', query: 'Same?', originalAnswer: 'Same.', editedAnswer: 'Same.' },
      { generationId: 'gen_3', query: '', originalAnswer: 'x', editedAnswer: 'y' },
    ]);
    const { builder, recorder, artifacts } = await setup(corpus(), edits);
    await builder.build(
      request({ kind: registryv1.DatasetKind.PREFERENCE }),
      new ExtractiveGenerator(42n),
      () => undefined,
    );
    const draft = recorder.drafts[0]!;
    expect(draft.stats!.feedbackPairs).toBe(1n);
    expect(draft.generator!.promptTemplateVersion).toBe('extractive-instruct/1');
    const records = (
      await Promise.all(
        draft.splits!.map(async (s) => lines<PreferenceRecord>(await artifacts.text(s.artifact!.uri!))),
      )
    ).flat();
    expect(records).toContainEqual({
      prompt: [{ role: 'user', content: 'How do you start?' }],
      chosen: [{ role: 'assistant', content: 'With a walk. Mail me: [email]' }],
      rejected: [{ role: 'assistant', content: 'Generic.' }],
    });
    const fromPassages = records.filter((r) => r.prompt[0]!.content !== 'How do you start?');
    for (const r of fromPassages) {
      expect(r.rejected[0]!.content).toMatch(/^There are many ways to look at /);
      expect(r.chosen[0]!.content).not.toBe(r.rejected[0]!.content);
    }
  });
});
