// The registry's outbox: no record change without its event, and no gap between them.
//
// The warehouse has no transactions, so every aggregate record carries its own pending markers:
//   1. compare-and-set the record (on `rev`) WITH the markers of what the change must publish, and of the
//      derived records it must write (stage-transition history, lookup projections);
//   2. deliver: write the derived records (idempotent, newer-wins), publish the events (acknowledged), in
//      marker order;
//   3. remove exactly those markers (compare-and-set on `rev`, which removing does not bump).
// A crash between 1 and 3 leaves markers; the relay (`flush`, run by the shared OutboxSweeper at start-up and
// periodically) delivers them. Markers are a list, so a second change made before the first was delivered
// cannot overwrite the first one's event. Delivery is at-least-once; consumers drop duplicates by event id.
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { registryeventsv1, topics } from '@llmtwin/contracts';
import {
  publishEvent,
  type Collection,
  type EventBus,
  type Filter,
  type Record as StoredRecord,
  type Value,
} from '@llmtwin/ports';
import { conflict } from '@llmtwin/runtime/errors';
import { newEventId } from './common.js';

export type RegistryEventCase = MessageInitShape<typeof registryeventsv1.RegistryEventSchema>['event'];

export type OutboxMarker = {
  id: string;
  /** Event key (the artifact id); empty when the marker only carries derived writes. */
  key: string;
  /** The RegistryEvent as it was when the change was made, binary. */
  event: Uint8Array;
  at: number;
  /** What the aggregate's deliverer must write before publishing (see each aggregate). */
  effects: { [field: string]: Value };
};

export interface OutboxRecord extends StoredRecord {
  /** Bumped by every change of the record's data; the compare-and-set key. */
  rev: number;
  outbox?: OutboxMarker[];
  /** True while markers are pending: the relay's indexed scan key. */
  outboxPending?: boolean;
}

/** A marker publishing `event` under `key` (and writing `effects`), stamped `at`. */
export function eventMarker(
  key: string,
  event: RegistryEventCase | undefined,
  at: number,
  effects: { [field: string]: Value } = {},
): OutboxMarker {
  const id = newEventId();
  const bytes = event
    ? toBinary(
        registryeventsv1.RegistryEventSchema,
        create(registryeventsv1.RegistryEventSchema, { eventId: id, eventTime: timestampFromMs(at), event }),
      )
    : new Uint8Array();
  return { id, key: event ? key : '', event: bytes, at, effects };
}

/** `record` at the next revision, with `markers` appended to whatever is still pending. */
export function withMarkers<T extends OutboxRecord>(record: T, markers: readonly OutboxMarker[]): T {
  const outbox = [...(record.outbox ?? []), ...markers];
  return { ...record, rev: record.rev + 1, outbox, outboxPending: outbox.length > 0 };
}

export const MAX_CAS_ATTEMPTS = 8;

export class Outbox<T extends OutboxRecord> {
  constructor(
    readonly records: Collection<T>,
    private readonly bus: EventBus,
    /** Writes the derived records a record's markers name, before their events go out. */
    private readonly applyEffects?: (
      record: T,
      markers: readonly OutboxMarker[],
      signal?: AbortSignal,
    ) => Promise<void>,
  ) {}

  async init(): Promise<void> {
    await this.records.ensureIndex({ fields: [{ field: 'outboxPending', direction: 'asc' }] });
  }

  /** Delivers the record's pending markers (derived writes, then events), then removes them. */
  async deliver(record: T, signal?: AbortSignal): Promise<void> {
    const markers = record.outbox ?? [];
    if (markers.length === 0) return;
    await this.applyEffects?.(record, markers, signal);
    for (const m of markers) {
      if (m.event.byteLength === 0) continue;
      const event = fromBinary(registryeventsv1.RegistryEventSchema, m.event);
      await publishEvent(
        this.bus,
        topics.registry,
        registryeventsv1.RegistryEventSchema,
        m.key,
        event,
        undefined,
        signal,
      );
    }
    await this.clear(record._id, new Set(markers.map((m) => m.id)), signal);
  }

  /** Publishes every marker left by a crash (or a failed publish). Returns how many records it delivered. */
  async flush(signal?: AbortSignal): Promise<number> {
    let delivered = 0;
    for await (const record of this.records.scan({ outboxPending: true }, { batchSize: 100 }, signal)) {
      await this.deliver(record, signal);
      delivered++;
    }
    return delivered;
  }

  private async clear(id: string, done: ReadonlySet<string>, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.records.get(id, signal);
      const pending = current?.outbox ?? [];
      if (!current || !pending.some((m) => done.has(m.id))) return;
      const outbox = pending.filter((m) => !done.has(m.id));
      // `rev` stays: a writer that read the record before this removal still wins its compare-and-set and
      // re-appends markers already delivered, which only means a duplicate event, never a lost one.
      const next = { ...current, outbox, outboxPending: outbox.length > 0 };
      if (await this.records.replaceIf(next, { rev: current.rev }, signal)) return;
    }
    // Leaving the markers means the relay publishes them again later: a duplicate, not a loss.
  }
}

/**
 * Writes `record` unless the stored one is at least as new (by the numeric `seq` field): derived records
 * written by concurrent deliverers of different markers end at the newest.
 */
export async function putIfNewer<R extends StoredRecord & { seq: number }>(
  collection: Collection<R>,
  record: R,
  signal?: AbortSignal,
): Promise<void> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    if (await collection.replaceIf(record, { seq: { $lt: record.seq } } as Filter, signal)) return;
    if (await collection.replaceIf(record, null, signal)) return;
    const stored = await collection.get(record._id, signal);
    if (stored && stored.seq >= record.seq) return;
  }
  throw conflict(`${collection.name} ${record._id} kept changing while it was being written; try again`);
}
