// Where uploaded archives wait for their import job: written to disk as the bytes arrive (never whole in
// memory), inside a size limit per archive and a quota for the whole area, and deleted as soon as they are
// refused or imported. An export can hold more than the writing (Substack's subscriber lists, with readers'
// e-mail addresses): the raw per-document payloads in the warehouse are the record, so no copy of an archive
// outlives its import.
import { invalidArgument } from '@llmtwin/runtime';
import { DomainError } from '@llmtwin/runtime/errors';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export interface UploadAreaOptions {
  /** Largest archive accepted, in bytes. */
  maxArchiveBytes: number;
  /** Most bytes all archives waiting in the area may hold together. */
  quotaBytes: number;
  /** The settings that raise each limit, named in the refusals. */
  settingNames?: { maxArchiveBytes?: string; quotaBytes?: string };
}

const raise = (setting: string | undefined) => (setting ? ` (set by ${setting})` : '');

export class UploadArea {
  /** Bytes of every archive in the area, those being written included. */
  private used = 0;
  private readonly sizes = new Map<string, number>();

  constructor(
    readonly dir: string,
    private readonly options: UploadAreaOptions,
  ) {}

  /**
   * Deletes every file the given paths do not name: archives left by a crash mid-upload, and archives kept by
   * earlier versions, which never deleted them. Then counts what is left against the quota.
   */
  async sweep(keep: ReadonlySet<string>): Promise<string[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const removed: string[] = [];
    this.used = 0;
    this.sizes.clear();
    for (const name of await readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (keep.has(file)) {
        const size = (await stat(file)).size;
        this.sizes.set(file, size);
        this.used += size;
      } else {
        await rm(file, { recursive: true, force: true });
        removed.push(file);
      }
    }
    return removed;
  }

  /** Bytes the area holds now. */
  get usedBytes(): number {
    return this.used;
  }

  private tooLarge(declaredBytes?: number): DomainError {
    const { maxArchiveBytes, settingNames } = this.options;
    const size = declaredBytes ? `${declaredBytes} bytes` : `larger than ${maxArchiveBytes} bytes`;
    return invalidArgument(
      `the archive is ${size}, over the archive size limit of ${maxArchiveBytes} bytes` +
        `${raise(settingNames?.maxArchiveBytes)}: refused`,
    );
  }

  private overQuota(): DomainError {
    const { quotaBytes, settingNames } = this.options;
    return new DomainError(
      'resource-exhausted',
      `the upload area is full: archives waiting to be imported may hold ${quotaBytes} bytes together ` +
        `(the upload quota${settingNames?.quotaBytes ? `, set by ${settingNames.quotaBytes}` : ''}) and this ` +
        `one does not fit now: wait for the ` +
        `imports in progress to finish, or raise the quota`,
    );
  }

  /**
   * Writes an archive into the area chunk by chunk and returns its path. Refuses (and deletes what was
   * written) as soon as the archive passes the size limit or the quota, or when the upload fails midway.
   * `declaredBytes` (0: unknown) lets an archive known to be too large be refused before a byte is stored.
   */
  async receive(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    declaredBytes = 0,
    signal?: AbortSignal,
  ): Promise<{ path: string; bytes: number }> {
    const { maxArchiveBytes, quotaBytes } = this.options;
    if (declaredBytes > maxArchiveBytes) throw this.tooLarge(declaredBytes);
    if (this.used + declaredBytes > quotaBytes) throw this.overQuota();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // The user's file name stays out of the path: it is only a label, and no name can then clash or escape.
    const file = path.join(this.dir, `${randomUUID()}.zip`);
    const handle = await open(file, 'wx', 0o600);
    this.sizes.set(file, 0);
    let bytes = 0;
    try {
      for await (const chunk of chunks) {
        signal?.throwIfAborted();
        if (bytes + chunk.byteLength > maxArchiveBytes) throw this.tooLarge();
        if (this.used + chunk.byteLength > quotaBytes) throw this.overQuota();
        // Counted before the write so that concurrent uploads cannot together pass the quota.
        this.used += chunk.byteLength;
        bytes += chunk.byteLength;
        this.sizes.set(file, bytes);
        await handle.write(chunk);
      }
      signal?.throwIfAborted();
      if (bytes === 0) throw invalidArgument('the archive is empty: send the bytes of the export (.zip)');
      await handle.close();
      return { path: file, bytes };
    } catch (err) {
      await handle.close().catch(() => undefined);
      await this.discard(file);
      throw err;
    }
  }

  /** Deletes an archive (refused, or imported); a path outside the area is left alone. */
  async discard(file: string): Promise<void> {
    if (path.dirname(path.resolve(file)) !== path.resolve(this.dir)) return;
    await rm(file, { force: true });
    this.used -= this.sizes.get(file) ?? 0;
    this.sizes.delete(file);
  }
}
