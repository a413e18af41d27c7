// Consumes documents.raw.v1 (group 'registry'): a tombstoned document taints the dataset versions built from
// it and the model versions trained on them. Other changes mean nothing to the registry.
import { ingesteventsv1, topics } from '@llmtwin/contracts';
import { eventHandler, type EventBus, type Subscription } from '@llmtwin/ports';
import type { Logger } from 'pino';
import type { Taint, TaintOutcome } from '../domain/taint.js';

export async function handleRawDocumentChanged(
  taint: Taint,
  event: ingesteventsv1.RawDocumentChanged,
  signal?: AbortSignal,
): Promise<TaintOutcome | undefined> {
  const doc = event.document;
  const tombstoned = event.change === ingesteventsv1.ChangeKind.TOMBSTONED || doc?.tombstone === true;
  if (!doc?.id || !tombstoned) return undefined;
  return taint.documentDeleted(
    {
      documentId: doc.id,
      version: Number(doc.version),
      sourceId: doc.sourceId,
      canonicalUrl: doc.canonicalUrl,
      title: doc.title,
    },
    signal,
  );
}

export async function subscribeRawDocuments(deps: {
  eventBus: EventBus;
  taint: Taint;
  logger: Logger;
  maxAttempts?: number;
  retryBackoffMs?: number;
}): Promise<Subscription> {
  await deps.eventBus.ensureTopics([topics.documentsRaw, topics.registry]);
  return deps.eventBus.subscribe({
    group: 'registry',
    topics: [topics.documentsRaw],
    ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.retryBackoffMs !== undefined ? { retryBackoffMs: deps.retryBackoffMs } : {}),
    handler: eventHandler(ingesteventsv1.RawDocumentChangedSchema, async (event, message, signal) => {
      const outcome = await handleRawDocumentChanged(deps.taint, event, signal);
      if (outcome && (outcome.datasetVersions.length > 0 || outcome.modelVersions.length > 0)) {
        deps.logger.info(
          { documentId: event.document?.id, ...outcome, attempt: message.attempt },
          'deleted document tainted what was built from it',
        );
      }
    }),
  });
}
