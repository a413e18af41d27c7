// The clean service as a module: the cleaned snapshot, fed by documents.raw events, with an outbox relay so
// that no cleaned record exists without its documents.cleaned event.
import { createClient } from '@connectrpc/connect';
import { cleanv1, ingestv1 } from '@llmtwin/contracts';
import { adapterDependencies, OutboxSweeper, type ServiceDirectory, type ServiceModule } from '@llmtwin/host';
import type { EventBus, Subscription, Warehouse } from '@llmtwin/ports';
import { createLogger, notFound } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { subscribeRawDocuments } from './consumers/raw-document.consumer.js';
import type { FetchRawFn } from './domain/clean-document.js';
import { registerCleanRoutes } from './rpc/clean.routes.js';
import { cleanRaw, type CleanRawFn } from './domain/clean-raw.js';
import { CleanedDocumentStore } from './domain/cleaned-documents.js';
import { Reprocessor, type ListRawIdsFn } from './domain/reprocess.js';

export interface CleanDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
  logger?: Logger;
  /** How to reach ingest (for payloads too large for the event, and for Reprocess). */
  directory?: ServiceDirectory;
  /** Overrides for tests; default: IngestService.GetDocument / ListDocuments through the directory. */
  fetchRaw?: FetchRawFn;
  listRawIds?: ListRawIdsFn;
  cleanRaw?: CleanRawFn;
  outboxSweepMs?: number;
  maxAttempts?: number;
  retryBackoffMs?: number;
  /** Raw documents handled at once per partition (never two of one document). Default CLEAN_CONCURRENCY. */
  concurrency?: number;
}

export interface CleanModule extends ServiceModule {
  readonly store: CleanedDocumentStore;
  readonly reprocessor: Reprocessor;
}

function ingestClient(directory: ServiceDirectory | undefined) {
  if (!directory) {
    return () => {
      throw notFound('the clean service has no directory to reach ingest (LLMTWIN_INGEST_URL)');
    };
  }
  let client: ReturnType<typeof createClient<typeof ingestv1.IngestService>> | undefined;
  return () => (client ??= createClient(ingestv1.IngestService, directory.transport('ingest')));
}

export async function createCleanModule(deps: CleanDeps): Promise<CleanModule> {
  const logger = deps.logger ?? createLogger('clean');
  const store = new CleanedDocumentStore(deps.warehouse, deps.eventBus);
  const ingest = ingestClient(deps.directory);
  const fetchRaw: FetchRawFn =
    deps.fetchRaw ??
    (async (id, signal) => {
      const res = await ingest().getDocument({ id }, signal ? { signal } : {});
      if (!res.document) throw notFound(`ingest returned no document for ${id}`);
      return res.document;
    });
  const listRawIds: ListRawIdsFn =
    deps.listRawIds ??
    async function* (authorId, signal) {
      let pageToken = '';
      do {
        const res = await ingest().listDocuments(
          { authorId, includeTombstones: true, page: { pageSize: 500, pageToken } },
          signal ? { signal } : {},
        );
        for (const d of res.documents) yield d.id;
        pageToken = res.page?.nextPageToken ?? '';
      } while (pageToken);
    };
  const clean = deps.cleanRaw ?? cleanRaw;
  const reprocessor = new Reprocessor({ store, cleanRaw: clean, fetchRaw, listRawIds, logger });
  let subscription: Subscription | undefined;
  const outbox = new OutboxSweeper(() => store.flushOutbox(), logger, deps.outboxSweepMs);

  await store.init();

  return {
    name: 'clean',
    services: [cleanv1.CleanService],
    store,
    reprocessor,
    register: (router) => registerCleanRoutes(router, { store, reprocessor, cleanRaw: clean }),
    dependencies: adapterDependencies(deps),
    async start() {
      await outbox.start();
      subscription = await subscribeRawDocuments(deps.eventBus, {
        store,
        cleanRaw: clean,
        fetchRaw,
        logger,
        ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
        ...(deps.retryBackoffMs !== undefined ? { retryBackoffMs: deps.retryBackoffMs } : {}),
        ...(deps.concurrency !== undefined ? { concurrency: deps.concurrency } : {}),
      });
    },
    async stop() {
      await subscription?.stop();
      await reprocessor.stop();
      await outbox.stop();
    },
  };
}
