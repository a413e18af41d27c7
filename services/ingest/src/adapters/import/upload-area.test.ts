// The upload area on a real folder: archives written chunk by chunk, refused (and deleted) past the size
// limit or the quota, or when the upload breaks off; the quota counts archives still being written.
import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UploadArea } from './upload-area.js';

const SETTINGS = {
  maxArchiveBytes: 'LLMTWIN_INGEST_ARCHIVE_MAX_BYTES',
  quotaBytes: 'LLMTWIN_INGEST_UPLOAD_QUOTA_BYTES',
};

async function withArea(
  options: { maxArchiveBytes: number; quotaBytes: number },
  fn: (area: UploadArea, dir: string) => Promise<void>,
) {
  const root = await mkdtemp(path.join(tmpdir(), 'upload-area-'));
  const dir = path.join(root, 'uploads');
  try {
    await fn(new UploadArea(dir, { ...options, settingNames: SETTINGS }), dir);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal');
}

async function* chunks(n: number, size: number, failAt?: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < n; i++) {
    if (i === failAt) throw new Error('connection reset by peer');
    yield Buffer.alloc(size, i);
  }
}

describe('UploadArea', () => {
  it('writes an archive from its chunks and deletes it on discard', async () => {
    await withArea({ maxArchiveBytes: 1000, quotaBytes: 10_000 }, async (area, dir) => {
      const saved = await area.receive(chunks(3, 100));
      expect(saved.bytes).toBe(300);
      expect(path.dirname(saved.path)).toBe(dir);
      expect((await readFile(saved.path)).subarray(200, 202)).toEqual(Buffer.from([2, 2]));
      expect(area.usedBytes).toBe(300);
      await area.discard(saved.path);
      expect(await readdir(dir)).toEqual([]);
      expect(area.usedBytes).toBe(0);
    });
  });

  it('refuses an archive past the size limit, before storing it when its size is declared', async () => {
    await withArea({ maxArchiveBytes: 250, quotaBytes: 10_000 }, async (area, dir) => {
      const declared = await refusal(area.receive(chunks(3, 100), 300));
      expect(isDomainError(declared, 'invalid-argument')).toBe(true);
      expect(declared.message).toBe(
        'the archive is 300 bytes, over the archive size limit of 250 bytes (set by LLMTWIN_INGEST_ARCHIVE_MAX_BYTES): refused',
      );
      const undeclared = await refusal(area.receive(chunks(3, 100)));
      expect(undeclared.message).toMatch(/larger than 250 bytes, over the archive size limit/);
      expect(await readdir(dir)).toEqual([]);
      expect(area.usedBytes).toBe(0);
    });
  });

  it('refuses an upload that does not fit the quota next to the archives waiting, naming the setting', async () => {
    await withArea({ maxArchiveBytes: 1000, quotaBytes: 500 }, async (area, dir) => {
      const waiting = await area.receive(chunks(4, 100));
      const full = await refusal(area.receive(chunks(2, 100)));
      expect(isDomainError(full, 'resource-exhausted')).toBe(true);
      expect(full.message).toMatch(
        /the upload area is full: .* 500 bytes together \(the upload quota, set by LLMTWIN_INGEST_UPLOAD_QUOTA_BYTES\)/,
      );
      expect(await readdir(dir)).toEqual([path.basename(waiting.path)]);
      await area.discard(waiting.path);
      expect((await area.receive(chunks(2, 100))).bytes).toBe(200);
    });
  });

  it('deletes what was written when the upload breaks off, and refuses an empty one', async () => {
    await withArea({ maxArchiveBytes: 1000, quotaBytes: 10_000 }, async (area, dir) => {
      expect((await refusal(area.receive(chunks(5, 100, 3)))).message).toBe('connection reset by peer');
      expect((await refusal(area.receive([]))).message).toMatch(/the archive is empty/);
      expect(await readdir(dir)).toEqual([]);
      expect(area.usedBytes).toBe(0);
    });
  });

  it('sweeps every file but those still needed, and counts those against the quota', async () => {
    await withArea({ maxArchiveBytes: 1000, quotaBytes: 10_000 }, async (area, dir) => {
      await area.sweep(new Set());
      const kept = path.join(dir, 'a.zip');
      await writeFile(kept, Buffer.alloc(123));
      await writeFile(path.join(dir, 'old-export.zip'), 'left by a crash');
      const removed = await area.sweep(new Set([kept]));
      expect(removed).toEqual([path.join(dir, 'old-export.zip')]);
      expect(await readdir(dir)).toEqual(['a.zip']);
      expect(area.usedBytes).toBe(123);
    });
  });
});
