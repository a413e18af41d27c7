// The outbox over the two ports: no record written without its event, and no gap between them. The warehouse
// has no transactions across a record and the bus, so the record carries its own outbox marker:
//   1. compare-and-set the record WITH `outbox` = the marker of the event to publish;
//   2. publish the event (acknowledged, durable), keyed by the record's id;
//   3. clear the marker, only if it is still this event's (a newer write's marker stays for its own event).
// A crash between 1 and 3 leaves the marker; the relay (`flush`, run by @llmtwin/host's OutboxSweeper at
// start-up and periodically) publishes it. Delivery is therefore at-least-once; consumers drop duplicates.
// Here rather than in @llmtwin/host because domain code (ingest's raw documents, clean's cleaned snapshot)
// writes through it, and domain code may use the ports but not the host.
import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import { randomUUID } from 'node:crypto';
import { publishEvent } from './event-bus/typed-events.js';
import type { EventBus } from './event-bus/event-bus.port.js';
import type { Collection, Filter, Record as StoredRecord } from './warehouse/warehouse.port.js';

/** What a record carries while its event is unpublished; services add their own fields. */
export interface OutboxMarker {
  [key: string]: string | number | boolean;
  eventId: string;
  pending: true;
  /** When the change was made: the event's time. */
  at: number;
}

export interface OutboxRecord<M extends OutboxMarker> extends StoredRecord {
  outbox?: M;
}

/** A new marker: a fresh event id, pending, stamped `at`, with the service's own fields. */
export function outboxMarker<F extends { [key: string]: string | number | boolean }>(
  at: number,
  fields: F,
): OutboxMarker & F {
  return { ...fields, eventId: randomUUID(), pending: true, at };
}

export interface OutboxEvent<R, M, Desc extends DescMessage> {
  topic: string;
  schema: Desc;
  /** The event a record's marker stands for; it is published keyed by the record's id. */
  build: (record: R, marker: M) => MessageInitShape<Desc>;
}

export class OutboxStore<M extends OutboxMarker, R extends OutboxRecord<M>, Desc extends DescMessage> {
  constructor(
    readonly records: Collection<R>,
    private readonly bus: EventBus,
    private readonly event: OutboxEvent<R, M, Desc>,
  ) {}

  /** The topic, and the index the relay scans by. */
  async init(): Promise<void> {
    await this.bus.ensureTopics([this.event.topic]);
    await this.records.ensureIndex({ fields: [{ field: 'outbox.pending', direction: 'asc' }] });
  }

  /**
   * Steps 1 to 3 for `record`, which carries its marker: returns false, having written and published
   * nothing, when the stored record does not match `expected` (see Collection.replaceIf).
   */
  async write(record: R, expected: Filter | null, signal?: AbortSignal): Promise<boolean> {
    if (!(await this.records.replaceIf(record, expected, signal))) return false;
    await this.publish(record, signal);
    return true;
  }

  /** Steps 2 and 3 for a record already written: publishes its marker's event and clears the marker. */
  async publish(record: R, signal?: AbortSignal): Promise<void> {
    const marker = record.outbox;
    if (!marker) return;
    await publishEvent(
      this.bus,
      this.event.topic,
      this.event.schema,
      record._id,
      this.event.build(record, marker),
      undefined,
      signal,
    );
    // Not abandoned with the caller's signal: the event is out, and a marker left behind only means the relay
    // publishes it a second time.
    await this.records.update(
      record._id,
      { unset: ['outbox'] },
      { where: { 'outbox.eventId': marker.eventId } },
    );
  }

  /** The relay: publishes every event whose record is written but whose marker is still set. Returns how many. */
  async flush(signal?: AbortSignal): Promise<number> {
    let published = 0;
    for await (const record of this.records.scan({ 'outbox.pending': true }, { batchSize: 100 }, signal)) {
      await this.publish(record, signal);
      published++;
    }
    return published;
  }
}
