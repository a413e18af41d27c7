// `llmtwin dlq list|replay` on the embedded event log: an event that failed every retry is listed with its
// error and can be put back on its topic.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEventBus } from '@llmtwin/ports/adapters';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/llmtwin.js');
const topic = 'llmtwin.documents.raw.v1';

function cli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout })));
}

describe('llmtwin dlq', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'llmtwin-dlq-'));
    const bus = createEventBus(`log:${path.join(dataDir, 'events.db')}`);
    await bus.ensureTopics([topic]);
    await bus.publish(topic, [{ key: 'doc_poison', value: new Uint8Array([0xff]) }]);
    await new Promise<void>((resolve) => {
      void bus.subscribe({
        group: 'clean',
        topics: [topic],
        maxAttempts: 1,
        handler: async () => {
          setTimeout(resolve, 300);
          throw new Error('not a RawDocumentChanged');
        },
      });
    });
    await bus.close();
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('lists a dead letter with its error, and replays it onto its topic', async () => {
    const listed = await cli(['dlq', 'list', topic, '--data-dir', dataDir, '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        topic,
        key: 'doc_poison',
        group: 'clean',
        error: expect.stringContaining('not a RawDocumentChanged'),
      }),
    ]);

    const replayed = await cli(['dlq', 'replay', topic, '--data-dir', dataDir, '--json']);
    expect(JSON.parse(replayed.stdout)).toEqual({ topic, replayed: 1 });

    const bus = createEventBus(`log:${path.join(dataDir, 'events.db')}`);
    try {
      const messages = await bus.read(topic);
      expect(messages.map((m) => m.key)).toEqual(['doc_poison', 'doc_poison']);
    } finally {
      await bus.close();
    }
    // Replaying again puts nothing back twice.
    const again = await cli(['dlq', 'replay', topic, '--data-dir', dataDir, '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ topic, replayed: 0 });
  }, 60_000);
});
