// The embedded event log's storage: one SQLite file holding topics, messages, group positions and partition
// leases, and the transactions that must be atomic. Kept apart from the bus so that what is durable, and how,
// reads in one place; the bus and its subscriptions only call these methods.
//
// Durability: WAL mode. A transaction that publishes (messages, dead letters, replays) runs with
// synchronous=FULL, so publish() resolves only after the WAL is fsynced: an acknowledged event survives a process
// crash and also an OS crash or power cut. That matters because producers mark their outbox rows as sent once
// publish() resolves; an event lost after that would leave a permanent gap. Offset commits and leases run with
// synchronous=NORMAL, which in WAL mode is still durable across a process crash (the commit is in the WAL file,
// in the OS page cache) and never corrupts; a power cut may forget the last commits, which only re-delivers
// messages, as at-least-once allows.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { failedPrecondition, notFound, unavailable } from '../errors.js';
import { deadLetterHeaders, withoutDlqHeaders } from './event-bus-common.js';
import { type IncomingMessage, type OutgoingMessage, deadLetterTopic } from './event-bus.port.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS topics (
  name TEXT PRIMARY KEY,
  partitions INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  msg_offset INTEGER NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  headers TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  UNIQUE (topic, partition, msg_offset)
);
CREATE TABLE IF NOT EXISTS group_offsets (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  owner TEXT NOT NULL,
  pid INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
`;

export interface MessageRow {
  seq: number;
  topic: string;
  partition: number;
  msg_offset: number;
  key: string;
  value: Buffer;
  headers: string;
  timestamp: number;
}

interface LeaseRow {
  owner: string;
  pid: number;
  expires_at: number;
}

/** FNV-1a over the key's UTF-8 bytes: stable across processes and versions, which the partition choice must be. */
export function partitionForKey(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function toIncoming(row: MessageRow): Omit<IncomingMessage, 'attempt'> {
  return {
    topic: row.topic,
    partition: row.partition,
    offset: String(row.msg_offset),
    key: row.key,
    value: new Uint8Array(row.value),
    headers: JSON.parse(row.headers) as { [name: string]: string },
    timestamp: row.timestamp,
  };
}

/** The SQLite side: every statement the bus runs, and the transactions that must be atomic. */
export class SqliteLog {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly partitionsForNewTopics: number;

  constructor(file: string, partitions: number) {
    this.partitionsForNewTopics = partitions;
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      this.db = new Database(file, { timeout: 5_000 });
      const mode = this.db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
      this.db.pragma('synchronous = NORMAL');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(`the file has event-log schema ${version}; this build knows up to ${SCHEMA_VERSION}`);
      }
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (err) {
      throw unavailable(`cannot open the embedded event log at ${file}: ${(err as Error).message}`, err);
    }
    const db = this.db;
    this.stmts = {
      topic: db.prepare<[string], { partitions: number }>('SELECT partitions FROM topics WHERE name = ?'),
      createTopic: db.prepare('INSERT OR IGNORE INTO topics (name, partitions, created_at) VALUES (?, ?, ?)'),
      end: db.prepare<[string, number], { end: number | null }>(
        'SELECT MAX(msg_offset) + 1 AS end FROM messages WHERE topic = ? AND partition = ?',
      ),
      insert: db.prepare(
        `INSERT INTO messages (topic, partition, msg_offset, key, value, headers, timestamp)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      fetch: db.prepare<[string, number, number, number], MessageRow>(
        `SELECT * FROM messages WHERE topic = ? AND partition = ? AND msg_offset >= ?
         ORDER BY msg_offset LIMIT ?`,
      ),
      read: db.prepare<[string, number], MessageRow>(
        'SELECT * FROM messages WHERE topic = ? ORDER BY seq LIMIT ?',
      ),
      committed: db.prepare<[string, string, number], { next_offset: number }>(
        'SELECT next_offset FROM group_offsets WHERE group_id = ? AND topic = ? AND partition = ?',
      ),
      // Positions only move forward: a late commit from a consumer that lost its lease cannot rewind the group.
      commit: db.prepare(
        `INSERT INTO group_offsets (group_id, topic, partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (group_id, topic, partition) DO UPDATE
         SET next_offset = excluded.next_offset, updated_at = excluded.updated_at
         WHERE excluded.next_offset > group_offsets.next_offset`,
      ),
      lease: db.prepare<[string, string, number], LeaseRow>(
        'SELECT owner, pid, expires_at FROM leases WHERE group_id = ? AND topic = ? AND partition = ?',
      ),
      takeLease: db.prepare(
        `INSERT INTO leases (group_id, topic, partition, owner, pid, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (group_id, topic, partition) DO UPDATE
         SET owner = excluded.owner, pid = excluded.pid, expires_at = excluded.expires_at`,
      ),
      renewLeases: db.prepare('UPDATE leases SET expires_at = ? WHERE owner = ?'),
      releaseLeases: db.prepare('DELETE FROM leases WHERE owner = ?'),
      sqliteVersion: db.prepare<[], { v: string }>('SELECT sqlite_version() AS v'),
    };
  }

  /** Runs a write transaction that takes the write lock up front, with the given sync level. */
  private write<T>(durable: boolean, fn: () => T): T {
    if (durable) this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      if (durable) this.db.pragma('synchronous = NORMAL');
    }
  }

  partitionsOf(topic: string): number | undefined {
    return this.stmts.topic.get(topic)?.partitions;
  }

  ensureTopics(topics: readonly string[]): void {
    this.write(true, () => {
      for (const topic of topics) this.stmts.createTopic.run(topic, this.partitionsForNewTopics, Date.now());
    });
  }

  private endOf(topic: string, partition: number): number {
    return this.stmts.end.get(topic, partition)?.end ?? 0;
  }

  private appendInTx(topic: string, messages: readonly OutgoingMessage[]): void {
    const partitions = this.partitionsOf(topic);
    if (partitions === undefined) {
      throw failedPrecondition(`topic ${topic} does not exist: create it with ensureTopics() first`);
    }
    const ends = new Map<number, number>();
    const now = Date.now();
    for (const message of messages) {
      const partition = partitionForKey(message.key, partitions);
      const offset = ends.get(partition) ?? this.endOf(topic, partition);
      this.stmts.insert.run(
        topic,
        partition,
        offset,
        message.key,
        Buffer.from(message.value.buffer, message.value.byteOffset, message.value.byteLength),
        JSON.stringify(message.headers ?? {}),
        now,
      );
      ends.set(partition, offset + 1);
    }
  }

  append(topic: string, messages: readonly OutgoingMessage[]): void {
    this.write(true, () => this.appendInTx(topic, messages));
  }

  fetch(topic: string, partition: number, from: number, limit: number): MessageRow[] {
    return this.stmts.fetch.all(topic, partition, from, limit);
  }

  read(topic: string, limit: number): MessageRow[] {
    return this.stmts.read.all(topic, limit);
  }

  committed(group: string, topic: string, partition: number): number | undefined {
    return this.stmts.committed.get(group, topic, partition)?.next_offset;
  }

  commit(group: string, topic: string, partition: number, nextOffset: number): void {
    this.write(false, () => this.stmts.commit.run(group, topic, partition, nextOffset, Date.now()));
  }

  /**
   * The dead letter and the group's move past the message happen together or not at all. `nextOffset` is
   * where the group's position goes: by default just past the message; a consumer with messages still in
   * flight before it passes the end of what is finished instead.
   */
  deadLetter(
    group: string,
    message: Omit<IncomingMessage, 'attempt'>,
    error: string,
    attempts: number,
    nextOffset = Number(message.offset) + 1,
  ): void {
    this.write(true, () => {
      this.appendInTx(deadLetterTopic(message.topic), [
        {
          key: message.key,
          value: message.value,
          headers: deadLetterHeaders({ ...message, attempt: attempts }, group, error, attempts),
        },
      ]);
      this.stmts.commit.run(group, message.topic, message.partition, nextOffset, Date.now());
    });
  }

  /** Republishes what `replayGroup` has not replayed yet and records how far it got, atomically. */
  replay(topic: string, replayGroup: string): number {
    const dlq = deadLetterTopic(topic);
    return this.write(true, () => {
      const partitions = this.partitionsOf(dlq);
      if (partitions === undefined) return 0;
      const rows: MessageRow[] = [];
      for (let partition = 0; partition < partitions; partition++) {
        const from = this.committed(replayGroup, dlq, partition) ?? 0;
        const pending = this.fetch(dlq, partition, from, Number.MAX_SAFE_INTEGER);
        const last = pending.at(-1);
        if (last) this.stmts.commit.run(replayGroup, dlq, partition, last.msg_offset + 1, Date.now());
        rows.push(...pending);
      }
      rows.sort((a, b) => a.seq - b.seq);
      this.appendInTx(
        topic,
        rows.map((row) => ({
          key: row.key,
          value: row.value,
          headers: withoutDlqHeaders(JSON.parse(row.headers) as { [name: string]: string }),
        })),
      );
      return rows.length;
    });
  }

  lag(group: string, topic: string): number {
    const partitions = this.partitionsOf(topic);
    if (partitions === undefined) throw notFound(`topic ${topic} does not exist`);
    let lag = 0;
    for (let partition = 0; partition < partitions; partition++) {
      lag += Math.max(0, this.endOf(topic, partition) - (this.committed(group, topic, partition) ?? 0));
    }
    return lag;
  }

  endOffsets(topic: string): number[] {
    const partitions = this.partitionsOf(topic) ?? 0;
    return Array.from({ length: partitions }, (_, partition) => this.endOf(topic, partition));
  }

  /**
   * Claims the partition for `owner` when it is free, expired, already ours, or held by a process on this host
   * that no longer exists (a crashed consumer need not wait out its lease).
   */
  claim(group: string, topic: string, partition: number, owner: string, leaseMs: number): boolean {
    const now = Date.now();
    const current = this.stmts.lease.get(group, topic, partition);
    if (current && current.owner === owner && current.expires_at - now > leaseMs / 2) return true;
    if (current && current.owner !== owner && current.expires_at > now && processAlive(current.pid))
      return false;
    return this.write(false, () => {
      const row = this.stmts.lease.get(group, topic, partition);
      const free = !row || row.owner === owner || row.expires_at <= Date.now() || !processAlive(row.pid);
      if (free) this.stmts.takeLease.run(group, topic, partition, owner, process.pid, Date.now() + leaseMs);
      return free;
    });
  }

  renewLeases(owner: string, leaseMs: number): void {
    this.write(false, () => this.stmts.renewLeases.run(Date.now() + leaseMs, owner));
  }

  releaseLeases(owner: string): void {
    this.write(false, () => this.stmts.releaseLeases.run(owner));
  }

  sqliteVersion(): string {
    return this.stmts.sqliteVersion.get()?.v ?? 'unknown';
  }

  close(): void {
    this.db.close();
  }
}
