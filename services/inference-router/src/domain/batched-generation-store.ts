// The generation store the router serves with: save() queues the record, and the queued records are
// written together, one warehouse write per batch (every `intervalMs`, or at once when `maxBatch` are
// queued), off the answer's path: one embedded-database transaction per batch costs less CPU than one per
// answer (bench/router-overhead.ts). Reads through this store (get, list, and so AnswerEdits) first write
// what is queued, so a client that saw the end of its answer finds its record at once from this process.
// Durability: close(), part of a clean shutdown, writes the last batch, so none is lost then; a crash loses
// at most the records of the last `intervalMs` (already answered), and other processes reading the
// warehouse directly see a record up to `intervalMs` late. A batch that fails to write is logged and
// queued again for the next one, unless a newer save of the same record replaced it.
import type { Warehouse } from '@llmtwin/ports';
import type { Logger } from 'pino';
import { GenerationStore, type GenerationRecord } from './generations.js';

export interface BatchedGenerationStoreOptions {
  /** Longest time a saved record waits to be written. Default 50 ms. */
  intervalMs?: number;
  /** Records that are written at once without waiting for the interval. Default 256. */
  maxBatch?: number;
}

export class BatchedGenerationStore extends GenerationStore {
  private queued = new Map<string, GenerationRecord>();
  private timer: NodeJS.Timeout | undefined;
  /** The batch being written, if any: writes go one after the other. */
  private writing: Promise<void> = Promise.resolve();
  private readonly intervalMs: number;
  private readonly maxBatch: number;

  constructor(
    warehouse: Warehouse,
    private readonly logger: Logger,
    options: BatchedGenerationStoreOptions = {},
  ) {
    super(warehouse);
    this.intervalMs = options.intervalMs ?? 50;
    this.maxBatch = options.maxBatch ?? 256;
  }

  /** Queues the record; it is written with the next batch (see the file's header for when). */
  override save(record: GenerationRecord): Promise<void> {
    this.queued.set(record._id, record);
    if (this.queued.size >= this.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
    return Promise.resolve();
  }

  /** Writes whatever is queued; resolves once it (and any batch before it) is written or has failed. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queued.size === 0) return this.writing;
    const batch = this.queued;
    this.queued = new Map();
    this.writing = this.writing.then(async () => {
      try {
        await this.records.putMany([...batch.values()]);
      } catch (err) {
        this.logger.error(
          { err, records: batch.size },
          'could not store a batch of generation records: queued again for the next batch',
        );
        for (const [id, record] of batch) if (!this.queued.has(id)) this.queued.set(id, record);
        this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
      }
    });
    return this.writing;
  }

  override async get(id: string, signal?: AbortSignal): Promise<GenerationRecord> {
    await this.flush();
    return super.get(id, signal);
  }

  override list(...args: Parameters<GenerationStore['list']>): ReturnType<GenerationStore['list']> {
    return this.flush().then(() => super.list(...args));
  }

  /** Writes the last batch and stops the timer (a clean shutdown). */
  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
