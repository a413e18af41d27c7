// The registry module consumes documents.raw.v1 as group "registry": a tombstone taints what was built from
// the document; other changes are ignored; a redelivered tombstone changes nothing.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { ingesteventsv1, ingestv1, topics } from '@llmtwin/contracts';
import { publishEvent } from '@llmtwin/ports';
import type { ServiceModule } from '@llmtwin/host';
import { createLogger } from '@llmtwin/runtime';
import { createRegistryModule } from '../module.js';
import { openRegistry, trainedModel, type RegistryFixture } from '../registry.fixture.js';
import { handleRawDocumentChanged } from './raw-document.consumer.js';

let f: RegistryFixture;
let module: ServiceModule | undefined;
beforeEach(async () => {
  f = await openRegistry();
});
afterEach(async () => {
  await module?.stop?.();
  module = undefined;
  await f.close();
});

const changed = (change: ingesteventsv1.ChangeKind, documentId: string, version: bigint) =>
  create(ingesteventsv1.RawDocumentChangedSchema, {
    eventId: `e-${documentId}-${version}`,
    change,
    eventTime: timestampNow(),
    document: create(ingestv1.RawDocumentSchema, {
      id: documentId,
      version,
      tombstone: change === ingesteventsv1.ChangeKind.TOMBSTONED,
      sourceId: 'src_blog',
      canonicalUrl: `https://blog.example.com/${documentId}`,
      title: documentId,
    }),
  });

/** Waits (bounded) until `check` holds; the consumer runs in the background. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe('raw-document consumer', () => {
  it('taints the dataset and model versions of a tombstoned document, through the running module', async () => {
    const { dv, mv } = await trainedModel(f.registry);
    module = await createRegistryModule({
      warehouse: f.warehouse,
      eventBus: f.bus,
      logger: createLogger('registry', { level: 'silent' }),
    });
    await module.start?.();
    const publish = (e: ingesteventsv1.RawDocumentChanged) =>
      publishEvent(f.bus, topics.documentsRaw, ingesteventsv1.RawDocumentChangedSchema, e.document!.id, e);
    await publish(changed(ingesteventsv1.ChangeKind.UPDATED, 'doc_1', 2n));
    await publish(changed(ingesteventsv1.ChangeKind.TOMBSTONED, 'doc_2', 2n));
    await eventually(
      async () => (await f.registry.models.get(mv.id)).tainted,
      'the model version is tainted',
    );
    expect((await f.registry.datasets.get(dv.id)).taintReason).toBe(
      'document doc_2 (https://blog.example.com/doc_2), source src_blog was deleted',
    );
    await eventually(
      async () => (await f.bus.lag('registry', topics.documentsRaw)) === 0,
      'the group caught up',
    );
    // The update deleted nothing.
    expect(await f.registry.deleted.records.get('doc_1')).toBeUndefined();
  });

  it('ignores changes other than tombstones and changes nothing on redelivery', async () => {
    const { mv } = await trainedModel(f.registry);
    expect(
      await handleRawDocumentChanged(
        f.registry.taint,
        changed(ingesteventsv1.ChangeKind.CREATED, 'doc_1', 1n),
      ),
    ).toBeUndefined();
    const tombstone = changed(ingesteventsv1.ChangeKind.TOMBSTONED, 'doc_1', 2n);
    expect(await handleRawDocumentChanged(f.registry.taint, tombstone)).toMatchObject({
      modelVersions: [mv.id],
    });
    const events = (await f.events()).length;
    expect(await handleRawDocumentChanged(f.registry.taint, tombstone)).toEqual({
      datasetVersions: [],
      modelVersions: [],
    });
    expect((await f.events()).length).toBe(events);
  });
});
