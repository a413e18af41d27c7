// The SIGKILL scenario shared by the Kafka and embedded tests: a consumer process dies mid-batch, a second
// consumer of the same group takes over, and nothing is lost while the uncommitted work is delivered again.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import type { EventBus, Subscription } from './event-bus.port.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../../..');
const fixture = path.join(here, 'sigkill-consumer.fixture.ts');

interface Record {
  kind: 'received' | 'processed';
  partition: number;
  offset: number;
  value: string;
}

function readRecord(file: string): Record[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('received ') || line.startsWith('processed '))
    .map((line) => {
      const [kind, partition, offset, value] = line.split(' ');
      return {
        kind: kind as Record['kind'],
        partition: Number(partition),
        offset: Number(offset),
        value: value!,
      };
    });
}

export async function runSigkillScenario(params: {
  url: string;
  /** The test's own bus on the same backend: publishes, then consumes after the kill. */
  bus: EventBus;
  /** How long the second consumer may take to get the partitions (Kafka waits out the dead member's session). */
  takeoverTimeoutMs: number;
}): Promise<void> {
  const { url, bus } = params;
  const dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-sigkill-'));
  const recordFile = path.join(dir, 'record.txt');
  const topic = `sigkill.${randomUUID().slice(0, 8)}`;
  const group = `sigkill-${randomUUID().slice(0, 8)}`;
  const total = 24;
  let child: ChildProcess | undefined;
  let subscription: Subscription | undefined;
  let childOutput = '';
  try {
    await bus.ensureTopics([topic]);
    await bus.publish(
      topic,
      Array.from({ length: total }, (_, i) => ({
        key: `doc-${i % 6}`,
        value: new TextEncoder().encode(`m${i}`),
      })),
    );
    const published = await bus.read(topic);
    expect(published).toHaveLength(total);

    child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      cwd: repoRoot,
      env: {
        ...process.env,
        EB_URL: url,
        EB_TOPIC: topic,
        EB_GROUP: group,
        EB_RECORD: recordFile,
        EB_DELAY_MS: '400',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (childOutput += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (childOutput += chunk.toString()));
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));

    // Kill while handlers are mid-way: some messages processed, at least one received and not finished.
    const midBatch = (): boolean => {
      const records = readRecord(recordFile);
      const processed = records.filter((r) => r.kind === 'processed').length;
      return processed >= 4 && records.length - processed > processed;
    };
    await poll(() => midBatch() || child!.exitCode !== null, {
      what: 'the child consumer to be mid-batch',
      timeoutMs: params.takeoverTimeoutMs,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; child output:\n${childOutput}`);
    });
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    await exited;

    const records = readRecord(recordFile);
    const id = (r: { partition: number; offset: number | string }): string => `${r.partition}/${r.offset}`;
    const received = records.filter((r) => r.kind === 'received');
    const processed = new Set(records.filter((r) => r.kind === 'processed').map(id));
    const inFlight = received.filter((r) => !processed.has(id(r))).map(id);
    expect(inFlight.length).toBeGreaterThan(0);
    // Within a partition the next message starts only after the previous one was committed.
    const committed = received
      .filter((r) => received.some((later) => later.partition === r.partition && later.offset > r.offset))
      .map(id);
    expect(committed.length).toBeGreaterThan(0);

    const second: string[] = [];
    subscription = await bus.subscribe({
      group,
      topics: [topic],
      handler: async (message) => {
        second.push(id(message));
      },
    });
    const everyMessage = published.map(id);
    await poll(() => everyMessage.every((m) => processed.has(m) || second.includes(m)), {
      what: 'every message to be processed by one consumer or the other',
      timeoutMs: params.takeoverTimeoutMs,
    });

    // No loss: each published message was processed at least once.
    for (const m of everyMessage) expect(processed.has(m) || second.includes(m)).toBe(true);
    // What the killed consumer had not committed was delivered again...
    for (const m of inFlight) expect(second).toContain(m);
    // ...and what it had committed was not.
    for (const m of committed) expect(second).not.toContain(m);
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await subscription?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
