// Rebuilds the embedded snapshot from the cleaned snapshot into a NEW collection, then points the live alias
// at it in one step (VectorStore.setAlias) only when it is complete, so searches never see a half-built
// index; the old collection is dropped afterwards.
//
// Live changes keep flowing while it runs: the chunks consumer writes every change to the live collection
// AND to the target (it finds the target in the running reindex record). A copy of an older version can
// still land after the consumer wrote a newer one; the consumer records a version before writing vectors, so
// after copying a document the reindex reads that record and removes what it copied if a newer version (or a
// tombstone) has been applied meanwhile. One reindex runs at a time, in one replica.
import { randomUUID } from 'node:crypto';
import type { cleanv1 } from '@llmtwin/contracts';
import type { VectorStore, Warehouse } from '@llmtwin/ports';
import { failedPrecondition, invalidArgument, notFound } from '@llmtwin/runtime/errors';
import type { Logger } from 'pino';
import type { Chunker } from '@llmtwin/chunking';
import type { Embedder } from '@llmtwin/ports';
import { LIVE_ALIAS, physicalCollectionName } from './collections.js';
import { embedStateCollection, reindexCollection, type ReindexRecord } from './embed-state.js';
import { applyDocument } from './vector-records.js';
import { categoryName, type DocumentChunks } from './vector-records.js';

export type ListCleanedFn = (signal?: AbortSignal) => AsyncIterable<cleanv1.CleanedDocument>;

export interface ReindexDeps {
  warehouse: Warehouse;
  vectorStore: VectorStore;
  embedder: Embedder;
  chunker: Chunker;
  listCleaned: ListCleanedFn;
  logger: Logger;
  now?: () => number;
}

export class Reindexer {
  private readonly abort = new AbortController();
  private readonly running = new Map<string, Promise<void>>();
  private readonly records;

  constructor(private readonly deps: ReindexDeps) {
    this.records = reindexCollection(deps.warehouse);
  }

  /** A reindex left 'running' by a crash can never finish: fail it and drop its half-built collection. */
  async recover(): Promise<void> {
    for (const r of await this.records.find({ state: 'running' })) {
      if (this.running.has(r._id)) continue;
      await this.records.update(r._id, {
        set: { state: 'failed', error: 'interrupted by a restart', endedAt: this.now() },
      });
      await this.deps.vectorStore.dropCollection(r.target).catch(() => undefined);
      this.deps.logger.warn({ reindexId: r._id, target: r.target }, 'reindex interrupted; marked failed');
    }
  }

  async start(options: { authorId: string }): Promise<ReindexRecord> {
    if (options.authorId) {
      throw invalidArgument(
        'a reindex rebuilds the whole embedded snapshot; per-author reindex is not supported: leave author_id empty',
        [{ field: 'author_id', message: 'must be empty' }],
      );
    }
    const [busy] = await this.records.find({ state: 'running' }, { limit: 1 });
    if (busy) throw failedPrecondition(`reindex ${busy._id} is still running; wait for it (GetReindex)`);
    const previous = (await this.deps.vectorStore.resolveAlias(LIVE_ALIAS)) ?? '';
    const target = physicalCollectionName(this.deps.embedder.model, new Date(this.now()));
    if (target === previous)
      throw failedPrecondition('a reindex was started this very millisecond; try again');
    await this.deps.vectorStore.ensureCollection(target, { dimensions: this.deps.embedder.dimensions });
    const record: ReindexRecord = {
      _id: `rdx_${randomUUID()}`,
      state: 'running',
      target,
      previous,
      authorId: '',
      documentsTotal: 0,
      documentsDone: 0,
      chunksEmbedded: 0,
      error: '',
      startedAt: this.now(),
      endedAt: null,
    };
    // From here on the consumer also writes into the target.
    await this.records.insert(record);
    const run = this.run(record)
      .catch(async (err: unknown) => {
        this.deps.logger.error({ err, reindexId: record._id }, 'reindex failed');
        await this.records.update(record._id, {
          set: { state: 'failed', error: String((err as Error)?.message ?? err), endedAt: this.now() },
        });
        await this.deps.vectorStore.dropCollection(target).catch(() => undefined);
      })
      .finally(() => this.running.delete(record._id));
    this.running.set(record._id, run);
    return record;
  }

  async get(id: string): Promise<ReindexRecord> {
    const r = id ? await this.records.get(id) : undefined;
    if (!r) throw notFound(`reindex "${id}" does not exist`);
    return r;
  }

  /** Resolves when the given (or every) reindex started here has ended. */
  async wait(id?: string): Promise<void> {
    await Promise.allSettled(id ? [this.running.get(id)] : [...this.running.values()]);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.wait();
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private async run(record: ReindexRecord): Promise<void> {
    const { vectorStore, embedder, chunker } = this.deps;
    const signal = this.abort.signal;
    const state = embedStateCollection(this.deps.warehouse);
    let total = 0;
    let done = 0;
    let chunks = 0;
    for await (const cleaned of this.deps.listCleaned(signal)) {
      signal.throwIfAborted();
      total++;
      const ref = cleaned.ref;
      // Drafts are not published writing and are never retrieved (chunk gives them no chunks either).
      if (cleaned.tombstone || cleaned.draft || !ref?.documentId) {
        done++;
        continue;
      }
      const version = Number(ref.version);
      const category = categoryName(cleaned.category);
      if (category !== 'article' && category !== 'post' && category !== 'code') {
        done++;
        continue;
      }
      const pieces = await chunker.chunk({
        documentId: ref.documentId,
        version,
        authorId: ref.authorId,
        category,
        text: cleaned.text,
        language: cleaned.language,
        title: cleaned.title,
      });
      const doc: DocumentChunks = {
        documentId: ref.documentId,
        version,
        authorId: ref.authorId,
        category: cleaned.category,
        platform: cleaned.platform,
        canonicalUrl: cleaned.canonicalUrl,
        title: cleaned.title,
        publishTime: cleaned.publishTime,
        chunks: pieces,
      };
      const vectors =
        pieces.length > 0
          ? await embedder.embed(
              pieces.map((p) => p.text),
              'passage',
              signal,
            )
          : [];
      await applyDocument(vectorStore, record.target, doc, vectors, false, signal);
      const applied = await state.get(ref.documentId, signal);
      if (applied && applied.version > version) {
        // The consumer applied a newer version (or a tombstone) meanwhile: what was copied is stale.
        await vectorStore.deleteWhere(
          record.target,
          { documentIds: [ref.documentId], documentVersionBelow: version + 1 },
          signal,
        );
      }
      done++;
      chunks += pieces.length;
      if (done % 20 === 0) {
        await this.records.update(record._id, {
          set: { documentsTotal: total, documentsDone: done, chunksEmbedded: chunks },
        });
      }
    }
    signal.throwIfAborted();
    await vectorStore.setAlias(LIVE_ALIAS, record.target);
    await this.records.update(record._id, {
      set: {
        state: 'swapped',
        documentsTotal: total,
        documentsDone: done,
        chunksEmbedded: chunks,
        endedAt: this.now(),
      },
    });
    if (record.previous && record.previous !== record.target) {
      await vectorStore
        .dropCollection(record.previous)
        .catch((err: unknown) =>
          this.deps.logger.warn(
            { err, collection: record.previous },
            'could not drop the replaced collection',
          ),
        );
    }
    this.deps.logger.info(
      { reindexId: record._id, target: record.target, documents: done, chunks },
      'reindex swapped in',
    );
  }
}
