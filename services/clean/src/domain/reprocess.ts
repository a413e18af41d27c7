// Reprocess: rebuilds the cleaned snapshot from the warehouse (ingest's raw documents), e.g. after the
// cleaning rules changed. Runs in the background; every rewritten record emits documents.cleaned.v1 with a
// backfill id, so chunk and embed follow.
import { randomUUID } from 'node:crypto';
import type { ingestv1 } from '@llmtwin/contracts';
import type { Logger } from 'pino';
import { cleanRawDocument, type RawDocumentCleaner } from './clean-document.js';

export type ListRawIdsFn = (authorId: string, signal?: AbortSignal) => AsyncIterable<string>;

export class Reprocessor {
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly deps: RawDocumentCleaner & { listRawIds: ListRawIdsFn; logger: Logger }) {}

  /** Lists the documents to reprocess, starts cleaning them in the background and returns the run. */
  async start(request: { authorId: string; documentIds: readonly string[] }) {
    const ids: string[] = [...request.documentIds];
    if (ids.length === 0) {
      for await (const id of this.deps.listRawIds(request.authorId, this.abort.signal)) ids.push(id);
    }
    const backfillId = randomUUID();
    const run = this.run(backfillId, ids).finally(() => this.running.delete(run));
    this.running.add(run);
    return { backfillId, queued: ids.length, done: run };
  }

  private async run(backfillId: string, ids: readonly string[]): Promise<void> {
    const signal = this.abort.signal;
    let failed = 0;
    for (const id of ids) {
      if (signal.aborted) break;
      try {
        const doc: ingestv1.RawDocument = await this.deps.fetchRaw(id, signal);
        await cleanRawDocument(this.deps, doc, { backfillId, signal });
      } catch (err) {
        failed++;
        this.deps.logger.warn({ err, documentId: id, backfillId }, 'reprocess: document failed');
      }
    }
    this.deps.logger.info({ backfillId, documents: ids.length, failed }, 'reprocess finished');
  }

  /** Stops at the next document; waits for the runs to settle. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running]);
  }

  /** For tests: resolves when every run started so far has finished. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
