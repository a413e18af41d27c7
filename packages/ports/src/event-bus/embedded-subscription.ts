// One consumer group's subscription on the embedded log: a worker per partition that claims the partition's
// lease, polls (or is woken by a publish in this process), delivers with retries and commits after the handler.
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

  private async consume(topic: string, partition: number): Promise<void> {
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
