// One consumer group's subscription on the embedded log: a worker per partition that claims the partition's
// lease, polls (or is woken by a publish in this process), delivers with retries and commits after the handler:
// one message at a time, or with `concurrency` several of different keys at once (consumeByKey).
// Separate from the bus because it is the part with timers, leases and crash behaviour.
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { isDomainError } from '../errors.js';
import { type EventBusLogger, deliverWithRetries } from './event-bus-common.js';
import type { SubscribeOptions, Subscription } from './event-bus.port.js';
import { type SqliteLog, toIncoming } from './sqlite-event-log.js';

export interface EmbeddedSubscriptionSettings {
  /** How often idle consumers look for writes from other processes. */
  pollIntervalMs: number;
  /** Messages fetched per partition at a time. */
  batchSize: number;
  /** How long a consumer's claim on a partition lasts without renewal. */
  leaseMs: number;
  /** stop() aborts the handlers' signal after this long. */
  drainTimeoutMs: number;
  logger: EventBusLogger;
}

export class EmbeddedSubscription implements Subscription {
  private readonly owner = `${process.pid}:${randomUUID()}`;
  private readonly stopController = new AbortController();
  private readonly handlerController = new AbortController();
  private readonly latestStart = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private workers: Promise<void>[] = [];
  private renewTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private crashed = false;
  private stopped: Promise<void> | undefined;
  private onDone: () => void = () => undefined;
  private readonly onPublish = (topic: string): void => {
    if (this.options.topics.includes(topic)) this.wakeAll();
  };

  constructor(
    private readonly log: SqliteLog,
    /** Emits 'publish' with the topic when this process wrote to the file. */
    private readonly waker: EventEmitter,
    private readonly settings: EmbeddedSubscriptionSettings,
    private readonly options: SubscribeOptions,
  ) {
    if (options.from === 'latest') {
      // Like Kafka's auto.offset.reset=latest: a group with no position starts at the end as of now.
      for (const topic of options.topics) {
        this.log
          .endOffsets(topic)
          .forEach((end, partition) => this.latestStart.set(`${topic}/${partition}`, end));
      }
    }
  }

  start(onDone: () => void): void {
    this.onDone = onDone;
    this.waker.on('publish', this.onPublish);
    // Renewal keeps the claim alive while a slow handler runs; workers only read the lease when idle.
    this.renewTimer = setInterval(() => {
      try {
        this.log.renewLeases(this.owner, this.settings.leaseMs);
      } catch (err) {
        this.settings.logger.warn({ err, group: this.options.group }, 'renewing event-log leases failed');
      }
    }, this.settings.leaseMs / 3);
    this.renewTimer.unref();
    for (const topic of this.options.topics) {
      const partitions = this.log.partitionsOf(topic) ?? 0;
      for (let partition = 0; partition < partitions; partition++) {
        this.workers.push(this.consume(topic, partition));
      }
    }
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private keepGoing = (): boolean => !this.stopping;

  private consume(topic: string, partition: number): Promise<void> {
    const concurrency = this.options.concurrency ?? 1;
    return concurrency > 1
      ? this.consumeByKey(topic, partition, concurrency)
      : this.consumeInOrder(topic, partition);
  }

  /** One message at a time, in partition order. */
  private async consumeInOrder(topic: string, partition: number): Promise<void> {
    const { group } = this.options;
    const { logger, pollIntervalMs, batchSize, leaseMs } = this.settings;
    let position: number | undefined;
    while (!this.stopping) {
      try {
        if (!this.log.claim(group, topic, partition, this.owner, leaseMs)) {
          position = undefined;
          await this.idle(pollIntervalMs);
          continue;
        }
        position ??=
          this.log.committed(group, topic, partition) ?? this.latestStart.get(`${topic}/${partition}`) ?? 0;
        const rows = this.log.fetch(topic, partition, position, batchSize);
        if (rows.length === 0) {
          await this.idle(pollIntervalMs);
          continue;
        }
        for (const row of rows) {
          if (this.stopping) break;
          const message = toIncoming(row);
          const outcome = await deliverWithRetries({
            message,
            options: this.options,
            signal: this.handlerController.signal,
            stopSignal: this.stopController.signal,
            keepGoing: this.keepGoing,
            logger,
          });
          // A crashed consumer commits nothing more: whatever it was doing is delivered again.
          if (this.crashed || outcome.kind === 'interrupted') return;
          if (outcome.kind === 'processed') {
            this.log.commit(group, topic, partition, row.msg_offset + 1);
          } else {
            this.log.deadLetter(group, message, outcome.error, outcome.attempts);
            logger.warn(
              { topic, partition, offset: message.offset, group, error: outcome.error },
              'event dead-lettered after its last attempt',
            );
          }
          position = row.msg_offset + 1;
        }
      } catch (err) {
        if (this.crashed) return;
        // Re-read the committed position: whatever was not committed is delivered again.
        position = undefined;
        logger.warn({ err, topic, partition, group }, 'embedded event consumer failed; retrying');
        await this.idle(pollIntervalMs);
      }
    }
  }

  /**
   * Up to `concurrency` fetched messages at once, each key's strictly in order (a message starts only after
   * the previous one of its key finished). The group's position moves only over the unbroken run of finished
   * messages from the oldest fetched one, so whatever a crash interrupts (and anything after it, finished or
   * not) is delivered again.
   */
  private async consumeByKey(topic: string, partition: number, concurrency: number): Promise<void> {
    const { group } = this.options;
    const { logger, pollIntervalMs, batchSize, leaseMs } = this.settings;
    while (!this.stopping) {
      // Offsets fetched and not yet behind the committed position, oldest first; which of them finished.
      const fetched: number[] = [];
      const finished = new Set<number>();
      // The last message started or queued per key: the next one of that key runs after it.
      const tails = new Map<string, Promise<void>>();
      const running = new Set<Promise<void>>();
      let failure: { err: unknown } | undefined;
      let wakeWorker: (() => void) | undefined;
      /** Where the position may go once `offset` is finished too: past the unbroken finished run. */
      const reach = (offset?: number): number | undefined => {
        let next: number | undefined;
        for (const o of fetched) {
          if (o !== offset && !finished.has(o)) break;
          next = o + 1;
        }
        return next;
      };
      const dropFinished = (): void => {
        while (fetched.length > 0 && finished.has(fetched[0]!)) finished.delete(fetched.shift()!);
      };
      const handle = async (row: ReturnType<SqliteLog['fetch']>[number]): Promise<void> => {
        // Stopping: a message not yet started stays unprocessed (and uncommitted) for the next consumer.
        if (this.stopping) return;
        const message = toIncoming(row);
        const outcome = await deliverWithRetries({
          message,
          options: this.options,
          signal: this.handlerController.signal,
          stopSignal: this.stopController.signal,
          keepGoing: this.keepGoing,
          logger,
        });
        if (this.crashed || outcome.kind === 'interrupted') return;
        if (outcome.kind === 'processed') {
          finished.add(row.msg_offset);
          const next = reach();
          if (next !== undefined) this.log.commit(group, topic, partition, next);
        } else {
          // The dead letter and the position move together; the position stops at the oldest unfinished message
          // (where it already is when that one is older than this).
          const next = reach(row.msg_offset) ?? fetched[0]!;
          this.log.deadLetter(group, message, outcome.error, outcome.attempts, next);
          finished.add(row.msg_offset);
          logger.warn(
            { topic, partition, offset: message.offset, group, error: outcome.error },
            'event dead-lettered after its last attempt',
          );
        }
        dropFinished();
      };
      const start = (row: ReturnType<SqliteLog['fetch']>[number]): void => {
        fetched.push(row.msg_offset);
        // A failed predecessor (the log itself failed) leaves this one unstarted: its key stays in order.
        const task = (tails.get(row.key) ?? Promise.resolve()).then(() => handle(row));
        tails.set(row.key, task);
        const tracked: Promise<void> = task
          .catch((err: unknown) => {
            failure ??= { err };
          })
          .finally(() => {
            running.delete(tracked);
            if (tails.get(row.key) === task) tails.delete(row.key);
            wakeWorker?.();
          });
        running.add(tracked);
      };
      const wait = (ms: number): Promise<void> =>
        new Promise((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            this.waiters.delete(done);
            wakeWorker = undefined;
            resolve();
          };
          const timer = setTimeout(done, ms);
          this.waiters.add(done);
          wakeWorker = done;
        });

      let position: number | undefined;
      try {
        while (!this.stopping && !failure) {
          if (!this.log.claim(group, topic, partition, this.owner, leaseMs)) {
            // Another consumer holds the partition now: finish what is running, then start over.
            await Promise.all(running);
            await this.idle(pollIntervalMs);
            break;
          }
          position ??=
            this.log.committed(group, topic, partition) ?? this.latestStart.get(`${topic}/${partition}`) ?? 0;
          const room = concurrency - running.size;
          const rows = room > 0 ? this.log.fetch(topic, partition, position, Math.min(room, batchSize)) : [];
          for (const row of rows) {
            start(row);
            position = row.msg_offset + 1;
          }
          if (rows.length === 0) await wait(pollIntervalMs);
        }
      } catch (err) {
        failure ??= { err };
      }
      // Stopping, crashed or failed: let the running handlers finish (they commit what they may).
      await Promise.all(running);
      if (this.crashed) return;
      if (failure && !this.stopping) {
        // Re-read the committed position: whatever was not committed is delivered again.
        logger.warn(
          { err: failure.err, topic, partition, group },
          'embedded event consumer failed; retrying',
        );
        await this.idle(pollIntervalMs);
      }
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.drain();
    return this.stopped;
  }

  private async drain(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.wakeAll();
    const timer = setTimeout(() => this.handlerController.abort(), this.settings.drainTimeoutMs);
    try {
      await Promise.all(this.workers);
    } finally {
      clearTimeout(timer);
      this.detach();
    }
    if (!this.crashed) {
      try {
        this.log.releaseLeases(this.owner);
      } catch (err) {
        this.settings.logger.warn({ err, group: this.options.group }, 'releasing event-log leases failed');
      }
    }
  }

  private detach(): void {
    clearInterval(this.renewTimer);
    this.waker.off('publish', this.onPublish);
    this.onDone();
  }

  /** See EmbeddedEventBus.abandon(). The leases go too, as another process would find this one's pid gone. */
  crash(): void {
    this.crashed = true;
    this.stopping = true;
    this.stopController.abort();
    this.handlerController.abort();
    this.wakeAll();
    this.detach();
    try {
      this.log.releaseLeases(this.owner);
    } catch (err) {
      if (!isDomainError(err)) this.settings.logger.warn({ err }, 'releasing event-log leases failed');
    }
    this.stopped ??= Promise.resolve();
  }
}
