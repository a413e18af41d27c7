// Builds one dataset version from an author's cleaned snapshot:
//   read     cleaned documents of the author within the filter (no tombstones, drafts or empty texts) and
//            the raw documents' hashes and sources;
//   passages language filter (per document), PII scrub, paragraph-aware passages in the target tokenizer,
//            min/max token bounds;
//   hygiene  exact duplicates, then near-duplicates (MinHash/LSH) over the whole dataset, oldest kept;
//   splits   whole documents to train or test, then every train passage that nearly copies a test passage
//            is dropped;
//   examples an instruction per passage (and a rejected answer for preference datasets), plus the answer
//            edits people made (preference only);
//   export   chat-messages/1 or prompt-chosen-rejected/1 JSONL per split, validated, stored as artifacts,
//            and the version recorded in the registry.
// Every step checks the AbortSignal; a cancelled build stores and records nothing after it was cancelled.
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { commonv1, registryv1 } from '@llmtwin/contracts';
import { failedPrecondition, DomainError } from '@llmtwin/runtime/errors';
import { kindEnum, type DatasetRequest } from './dataset-request.js';
import type { Artifact } from '@llmtwin/ports';
import type { DatasetArtifactStore, DatasetRecorder, DatasetVersionDraft } from './dataset-recorder.port.js';
import { removeExactDuplicates, removeNearDuplicates, removeTestOverlap } from './deduplicate.js';
import {
  EXTRACTIVE_TEMPLATE_VERSION,
  GenerationError,
  INSTRUCT_TEMPLATE_VERSION,
  REJECTED_TEMPLATE_VERSION,
  type ExampleGenerator,
  type PassageContext,
} from './example-generators.js';
import {
  CHAT_SCHEMA_VERSION,
  JSONL_MEDIA_TYPE,
  PREFERENCE_SCHEMA_VERSION,
  toJsonl,
  validateJsonl,
  type ChatRecord,
  type PreferenceRecord,
  type SchemaVersion,
} from './export-format.js';
import { scrubPii } from './hygiene.js';
import { TermStatistics, keyPoints } from './key-terms.js';
import { documentLanguage } from './language.js';
import { fingerprint, type Fingerprint } from './minhash.js';
import { splitPassages } from './passages.js';
import type {
  AnswerEditReader,
  CleanedDocument,
  RawDocumentRef,
  SnapshotReader,
} from './snapshot-reader.port.js';
import { assignSplits, type SplitName } from './splits.js';
import { sha256Hex, unitInterval } from './text-hash.js';
import type { Tokenizer } from './tokenizer.port.js';

export interface BuilderDeps {
  snapshot: SnapshotReader;
  /** Answer edits for preference datasets; none means no feedback pairs. */
  answerEdits?: AnswerEditReader;
  /** The tokenizer, or how to load it (on the first build, so that a trainer starts without waiting for it). */
  tokenizer: Tokenizer | (() => Promise<Tokenizer>);
  artifacts: DatasetArtifactStore;
  recorder: DatasetRecorder;
}

export interface BuildProgress {
  done: number;
  total: number;
  message: string;
}

export interface BuildResult {
  datasetVersionId: string;
  created: boolean;
  draft: DatasetVersionDraft;
}

interface Candidate {
  doc: CleanedDocument;
  index: number;
  text: string;
  tokens: number;
  fingerprint: Fingerprint;
}

interface Example {
  split: SplitName;
  /** Sort key: document id and passage index, or the generation id of an answer edit. */
  order: string;
  record: ChatRecord | PreferenceRecord;
  tokens: number;
  documentId?: string;
}

type Stats = Omit<registryv1.DatasetStats, '$typeName' | '$unknown'>;

function emptyStats(req: DatasetRequest, tokenizer: string): Stats {
  return {
    passagesConsidered: 0n,
    examples: 0n,
    exactDuplicatesRemoved: 0n,
    nearDuplicatesRemoved: 0n,
    nearDuplicateThreshold: req.nearDuplicateThreshold,
    tooShortRemoved: 0n,
    tooLongRemoved: 0n,
    languageRemoved: 0n,
    emailsScrubbed: 0n,
    phoneNumbersScrubbed: 0n,
    tokensPerExampleMean: 0,
    tokensPerExampleP50: 0n,
    tokensPerExampleP95: 0n,
    tokensPerExampleMax: 0n,
    tokenizer,
    minTokens: BigInt(req.minTokens),
    maxTokens: BigInt(req.maxTokens),
    languages: req.languages,
    generationFailures: 0n,
    feedbackPairs: 0n,
  };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DomainError('cancelled', 'the dataset build was cancelled');
}

function inFilter(doc: CleanedDocument, req: DatasetRequest): boolean {
  if (doc.tombstone || doc.draft || !doc.text.trim()) return false;
  if (req.categories.length && !req.categories.includes(doc.category)) return false;
  if (req.platforms.length && !req.platforms.includes(doc.platform)) return false;
  if (req.publishedAfter !== undefined || req.publishedBefore !== undefined) {
    if (doc.publishedAt === null) return false;
    if (req.publishedAfter !== undefined && doc.publishedAt < req.publishedAfter) return false;
    if (req.publishedBefore !== undefined && doc.publishedAt >= req.publishedBefore) return false;
  }
  return true;
}

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: readonly number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0;

export class DatasetBuilder {
  constructor(private readonly deps: BuilderDeps) {}

  private async readDocuments(req: DatasetRequest, signal?: AbortSignal): Promise<CleanedDocument[]> {
    const category = req.categories.length === 1 ? req.categories[0] : undefined;
    const docs: CleanedDocument[] = [];
    for await (const doc of this.deps.snapshot.cleanedDocuments(req.authorId, category, signal)) {
      throwIfAborted(signal);
      if (doc.authorId === req.authorId && inFilter(doc, req)) docs.push(doc);
    }
    // Oldest first, so that de-duplication keeps the original rather than a later copy.
    return docs.sort(
      (a, b) => (a.publishedAt ?? Infinity) - (b.publishedAt ?? Infinity) || a.id.localeCompare(b.id),
    );
  }

  private async readRaw(authorId: string, signal?: AbortSignal): Promise<Map<string, RawDocumentRef>> {
    const raw = new Map<string, RawDocumentRef>();
    for await (const ref of this.deps.snapshot.rawDocuments(authorId, signal)) raw.set(ref.id, ref);
    return raw;
  }

  /** Language filter, PII scrub, passages and token bounds, counted into stats. */
  private passages(
    docs: readonly CleanedDocument[],
    req: DatasetRequest,
    stats: Stats,
    tokenizer: Tokenizer,
  ): Candidate[] {
    const out: Candidate[] = [];
    for (const doc of docs) {
      // Code carries a programming language, not a natural one: the language filter is for prose.
      const filtered =
        req.languages.length > 0 &&
        doc.category !== commonv1.Category.CODE &&
        !req.languages.includes(documentLanguage(doc.language, doc.text));
      if (filtered) {
        const count = splitPassages(doc.text, req, tokenizer).length;
        stats.passagesConsidered += BigInt(count);
        stats.languageRemoved += BigInt(count);
        continue;
      }
      const scrubbed = scrubPii(doc.text);
      stats.emailsScrubbed += BigInt(scrubbed.emails);
      stats.phoneNumbersScrubbed += BigInt(scrubbed.phones);
      const passages = splitPassages(scrubbed.text, req, tokenizer);
      stats.passagesConsidered += BigInt(passages.length);
      passages.forEach((p, index) => {
        if (p.tokens < req.minTokens) stats.tooShortRemoved++;
        else if (p.tokens > req.maxTokens) stats.tooLongRemoved++;
        else out.push({ doc, index, text: p.text, tokens: p.tokens, fingerprint: fingerprint(p.text) });
      });
    }
    return out;
  }

  private async examplesFromPassages(
    passages: readonly (Candidate & { split: SplitName })[],
    req: DatasetRequest,
    generator: ExampleGenerator,
    stats: Stats,
    tokenizer: Tokenizer,
    progress: (p: BuildProgress) => void,
    signal?: AbortSignal,
  ): Promise<Example[]> {
    const terms = new TermStatistics();
    for (const p of passages) terms.add(p.text);
    const examples: Example[] = [];
    let done = 0;
    progress({ done, total: passages.length, message: `writing examples with ${generator.info.modelId}` });
    for (const p of passages) {
      throwIfAborted(signal);
      const title = scrubPii(p.doc.title).text;
      const ctx: PassageContext = {
        documentId: p.doc.id,
        passageIndex: p.index,
        title,
        text: p.text,
        category: p.doc.category,
        codePath: p.doc.codePath,
        tokens: p.tokens,
        key: keyPoints(p.text, terms),
      };
      try {
        const instruction = await generator.instruction(ctx, signal);
        const user = { role: 'user' as const, content: instruction };
        const mine = { role: 'assistant' as const, content: p.text };
        let record: ChatRecord | PreferenceRecord;
        let tokens: number;
        if (req.kind === 'preference') {
          const rejected = scrubPii(await generator.rejectedAnswer(instruction, ctx, signal)).text;
          record = { prompt: [user], chosen: [mine], rejected: [{ role: 'assistant', content: rejected }] };
          tokens = tokenizer.count(instruction) + Math.max(p.tokens, tokenizer.count(rejected));
        } else {
          record = { messages: [user, mine] };
          tokens = tokenizer.count(instruction) + p.tokens;
        }
        examples.push({
          split: p.split,
          order: `${p.doc.id}\u0000${String(p.index).padStart(6, '0')}`,
          record,
          tokens,
          documentId: p.doc.id,
        });
      } catch (err) {
        throwIfAborted(signal);
        // A model that answered badly (or not at all) costs this passage, not the dataset.
        if (!(err instanceof GenerationError) && !isModelFailure(err)) throw err;
        stats.generationFailures++;
      }
      progress({
        done: ++done,
        total: passages.length,
        message: `writing examples with ${generator.info.modelId}`,
      });
    }
    return examples;
  }

  private async feedbackExamples(
    req: DatasetRequest,
    stats: Stats,
    tokenizer: Tokenizer,
    signal?: AbortSignal,
  ): Promise<Example[]> {
    const reader = this.deps.answerEdits;
    if (!reader || req.kind !== 'preference') return [];
    const out: Example[] = [];
    for await (const edit of reader.answerEdits(req.authorId, signal)) {
      throwIfAborted(signal);
      const prompt = scrubPii(edit.query).text.trim();
      const chosen = scrubPii(edit.editedAnswer).text.trim();
      const rejected = scrubPii(edit.originalAnswer).text.trim();
      if (!prompt || !chosen || !rejected || chosen === rejected) continue;
      const u = unitInterval(await sha256Hex(`${req.seed}:${edit.generationId}`));
      out.push({
        split: u < req.testFraction ? 'test' : 'train',
        order: `\u0001${edit.generationId}`,
        record: {
          prompt: [{ role: 'user', content: prompt }],
          chosen: [{ role: 'assistant', content: chosen }],
          rejected: [{ role: 'assistant', content: rejected }],
        },
        tokens: tokenizer.count(prompt) + Math.max(tokenizer.count(chosen), tokenizer.count(rejected)),
      });
    }
    stats.feedbackPairs = BigInt(out.length);
    return out;
  }

  async build(
    req: DatasetRequest,
    generator: ExampleGenerator,
    progress: (p: BuildProgress) => void,
    signal?: AbortSignal,
  ): Promise<BuildResult> {
    const tokenizer =
      typeof this.deps.tokenizer === 'function' ? await this.deps.tokenizer() : this.deps.tokenizer;
    const stats = emptyStats(req, tokenizer.name);
    progress({ done: 0, total: 0, message: 'reading the cleaned snapshot' });
    const docs = await this.readDocuments(req, signal);
    const raw = await this.readRaw(req.authorId, signal);
    throwIfAborted(signal);
    if (docs.length === 0) {
      throw failedPrecondition(
        `author ${req.authorId} has no cleaned documents within the filter: ingest some, or widen the filter`,
      );
    }

    const candidates = this.passages(docs, req, stats, tokenizer);
    const exact = await removeExactDuplicates(candidates);
    stats.exactDuplicatesRemoved = BigInt(exact.removed);
    const near = removeNearDuplicates(exact.kept, req.nearDuplicateThreshold);
    let nearRemoved = near.removed;
    throwIfAborted(signal);

    const splitOf = await assignSplits(
      [
        ...new Map(
          near.kept.map((c) => [c.doc.id, { id: c.doc.id, publishedAt: c.doc.publishedAt }]),
        ).values(),
      ],
      { testFraction: req.testFraction, seed: req.seed, strategy: req.splitBy },
    );
    const test = near.kept.filter((c) => splitOf.get(c.doc.id) === 'test');
    const overlap = removeTestOverlap(
      near.kept.filter((c) => splitOf.get(c.doc.id) === 'train'),
      test,
      req.nearDuplicateThreshold,
    );
    nearRemoved += overlap.removed;
    stats.nearDuplicatesRemoved = BigInt(nearRemoved);
    const usable = [
      ...overlap.kept.map((c) => ({ ...c, split: 'train' as const })),
      ...test.map((c) => ({ ...c, split: 'test' as const })),
    ].sort((a, b) => a.doc.id.localeCompare(b.doc.id) || a.index - b.index);

    const examples = [
      ...(await this.examplesFromPassages(usable, req, generator, stats, tokenizer, progress, signal)),
      ...(await this.feedbackExamples(req, stats, tokenizer, signal)),
    ].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    throwIfAborted(signal);
    if (usable.length > 0 && stats.generationFailures === BigInt(usable.length)) {
      throw failedPrecondition(
        `every instruction failed with ${generator.info.modelId} (${usable.length} passages): check the model, ` +
          'or build with generator_model "extractive"',
      );
    }
    const bySplit = {
      train: examples.filter((e) => e.split === 'train'),
      test: examples.filter((e) => e.split === 'test'),
    };
    if (bySplit.train.length === 0 || bySplit.test.length === 0) {
      throw failedPrecondition(
        `the snapshot gave ${bySplit.train.length} train and ${bySplit.test.length} test examples: both splits ` +
          'need some, so the author needs at least two documents with usable passages',
      );
    }

    const tokens = examples.map((e) => e.tokens).sort((a, b) => a - b);
    stats.examples = BigInt(examples.length);
    stats.tokensPerExampleMean = tokens.reduce((s, t) => s + t, 0) / tokens.length;
    stats.tokensPerExampleP50 = BigInt(percentile(tokens, 50));
    stats.tokensPerExampleP95 = BigInt(percentile(tokens, 95));
    stats.tokensPerExampleMax = BigInt(tokens[tokens.length - 1] ?? 0);

    const schemaVersion: SchemaVersion =
      req.kind === 'preference' ? PREFERENCE_SCHEMA_VERSION : CHAT_SCHEMA_VERSION;
    const files = (['train', 'test'] as const).map((name) => {
      const text = toJsonl(bySplit[name].map((e) => e.record));
      const problems = validateJsonl(text, schemaVersion);
      if (problems.length > 0) {
        throw new DomainError(
          'internal',
          `${name}.jsonl does not follow ${schemaVersion}: ${problems.slice(0, 3).join('; ')}`,
        );
      }
      return {
        name,
        file: `${name}.jsonl`,
        bytes: new TextEncoder().encode(text),
        examples: bySplit[name].length,
      };
    });
    const hashes = await Promise.all(files.map((f) => sha256Hex(f.bytes)));
    // Like `sha256sum train.jsonl test.jsonl | sha256sum`, in name order.
    const manifest = files
      .map((f, i) => ({ line: `${hashes[i]}  ${f.file}\n`, file: f.file }))
      .sort((a, b) => a.file.localeCompare(b.file))
      .map((l) => l.line)
      .join('');
    const contentHash = await sha256Hex(manifest);

    progress({ done: usable.length, total: usable.length, message: 'storing the split files' });
    throwIfAborted(signal);
    const stored: Artifact[] = [];
    for (const f of files) {
      stored.push(
        await this.deps.artifacts.put(f.bytes, {
          mediaType: JSONL_MEDIA_TYPE,
          ...(signal ? { signal } : {}),
        }),
      );
    }

    const used = new Set(examples.flatMap((e) => (e.documentId ? [e.documentId] : [])));
    const sources = await Promise.all(
      docs
        .filter((d) => used.has(d.id))
        .sort((a, b) => a.id.localeCompare(b.id))
        .map(async (d) => {
          const r = raw.get(d.id);
          return {
            documentId: d.id,
            version: BigInt(d.version),
            cleanedContentHash: await sha256Hex(d.text),
            // Only the hash of the very version that was cleaned; ingest may be a version ahead.
            rawContentHash: r && r.version === d.version ? r.contentHash : '',
            sourceId: r?.sourceId ?? '',
            canonicalUrl: d.canonicalUrl,
            title: d.title,
          };
        }),
    );

    const info = generator.info;
    const templates =
      info.kind === 'llm'
        ? req.kind === 'preference'
          ? `${INSTRUCT_TEMPLATE_VERSION}+${REJECTED_TEMPLATE_VERSION}`
          : INSTRUCT_TEMPLATE_VERSION
        : EXTRACTIVE_TEMPLATE_VERSION;
    const draft: DatasetVersionDraft = {
      dataset: req.dataset,
      kind: kindEnum[req.kind],
      authorId: req.authorId,
      splits: files.map((f, i) => ({
        name: f.name,
        examples: BigInt(f.examples),
        artifact: {
          uri: stored[i]!.uri,
          sha256: stored[i]!.sha256,
          sizeBytes: BigInt(stored[i]!.sizeBytes),
          mediaType: stored[i]!.mediaType,
          name: f.file,
        },
      })),
      schemaVersion,
      generator: {
        kind: info.kind,
        modelId: info.modelId,
        promptTemplateVersion: templates,
        temperature: info.temperature,
        seed: info.seed,
      },
      stats,
      contentHash,
      sources,
      splitBy: req.splitBy,
      filter: {
        categories: req.categories,
        platforms: req.platforms,
        ...(req.publishedAfter !== undefined ? { publishedAfter: timestampFromMs(req.publishedAfter) } : {}),
        ...(req.publishedBefore !== undefined
          ? { publishedBefore: timestampFromMs(req.publishedBefore) }
          : {}),
      },
    };
    progress({ done: usable.length, total: usable.length, message: 'recording the dataset version' });
    throwIfAborted(signal);
    const recorded = await this.deps.recorder.record(draft, signal);
    return { datasetVersionId: recorded.id, created: recorded.created, draft };
  }
}

/** A model that could not be reached or refused: the passage is lost, the build goes on. */
function isModelFailure(err: unknown): boolean {
  if (err instanceof DomainError)
    return ['unavailable', 'deadline-exceeded', 'resource-exhausted'].includes(err.kind);
  return err instanceof Error && err.name === 'LlmError';
}
