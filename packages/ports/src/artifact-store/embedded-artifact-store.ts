// The embedded artifact store: files under one folder, named by their sha256.
//
//   <dir>/sha256/<first 2 hex>/<sha256>        the bytes
//   <dir>/sha256/<first 2 hex>/<sha256>.json   {"mediaType": "..."}
//   <dir>/tmp/                                  writes in progress
//
// A write goes to a file in tmp/ (same filesystem), is flushed to disk, and is then renamed into place: the
// rename is the commit, so a reader never sees half an artifact, whether the writer finishes, fails or dies.
// The media type is written (the same way) before the bytes, so a visible artifact always has it. Several
// processes may share the folder. Reads check the bytes against the name.

import { createHash, randomBytes } from 'node:crypto';
import { constants, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { DomainError, invalidArgument, notFound, unavailable } from '../errors.js';
import {
  artifactUri,
  cancelled,
  cancelStreamOn,
  contentChunks,
  DEFAULT_MEDIA_TYPE,
  isSha256Hex,
  normalizeMediaType,
  normalizeSha256Prefix,
  openSourceFile,
  readAll,
  readSource,
  sha256FromUri,
  throwIfCancelled,
  VerifyingStream,
} from './artifact-input.js';
import type {
  Artifact,
  ArtifactContent,
  ArtifactStore,
  ArtifactSummary,
  ArtifactUri,
  ListOptions,
  PutOptions,
} from './artifact-store.port.js';

export interface EmbeddedArtifactStoreOptions {
  /** The folder; created when missing. */
  readonly dir: string;
  /**
   * Files in tmp/ untouched for this long are left by writers that died, and are removed when a store
   * opens the folder. Live writers touch their file with every chunk. Default one hour.
   */
  readonly staleTempMs?: number;
}

const TEMP_SUFFIX = '.partial';

export class EmbeddedArtifactStore implements ArtifactStore {
  readonly adapter = 'embedded';
  readonly dir: string;
  private readonly objectsDir: string;
  private readonly tempDir: string;
  private closed = false;

  constructor(options: EmbeddedArtifactStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir.trim() === '') {
      throw invalidArgument('the embedded artifact store needs a folder', [
        { field: 'dir', message: 'empty' },
      ]);
    }
    this.dir = path.resolve(options.dir);
    this.objectsDir = path.join(this.dir, 'sha256');
    this.tempDir = path.join(this.dir, 'tmp');
    try {
      mkdirSync(this.objectsDir, { recursive: true });
      mkdirSync(this.tempDir, { recursive: true });
    } catch (err) {
      throw this.translate(err, `opening the artifact folder ${this.dir}`);
    }
    removeStaleTempFiles(this.tempDir, options.staleTempMs ?? 60 * 60 * 1000);
  }

  async put(content: ArtifactContent, options: PutOptions = {}): Promise<Artifact> {
    this.checkOpen();
    const mediaType = normalizeMediaType(options.mediaType);
    throwIfCancelled(options.signal, 'storing an artifact');
    return this.store(contentChunks(content), mediaType, options.signal);
  }

  async putFile(file: string, options: PutOptions = {}): Promise<Artifact> {
    this.checkOpen();
    const mediaType = normalizeMediaType(options.mediaType);
    throwIfCancelled(options.signal, `storing ${file}`);
    const handle = await openSourceFile(file);
    try {
      return await this.store(handle.createReadStream({ autoClose: false }), mediaType, options.signal);
    } finally {
      await handle.close();
    }
  }

  async get(uri: ArtifactUri, signal?: AbortSignal): Promise<Uint8Array> {
    return readAll(await this.open(uri, signal));
  }

  async open(uri: ArtifactUri, signal?: AbortSignal): Promise<Readable> {
    const sha256 = sha256FromUri(uri);
    this.checkOpen();
    throwIfCancelled(signal, `reading ${uri}`);
    const file = this.blobPath(sha256);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw notFound(`artifact ${uri} is not stored in ${this.dir}`);
      throw this.translate(err, `reading ${uri}`);
    }
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (err) {
      await handle.close();
      throw this.translate(err, `reading ${uri}`);
    }
    const verifier = new VerifyingStream(sha256, size, file);
    const source = handle.createReadStream();
    // pipeline() would leave the verifier open when the source fails; errors must reach the reader.
    source.on('error', (err) => verifier.destroy(this.translate(err, `reading ${uri}`)));
    verifier.once('close', () => source.destroy());
    source.pipe(verifier);
    cancelStreamOn(verifier, signal, `reading ${uri}`);
    return verifier;
  }

  async stat(uri: ArtifactUri, signal?: AbortSignal): Promise<Artifact | undefined> {
    const sha256 = sha256FromUri(uri);
    this.checkOpen();
    throwIfCancelled(signal, `looking up ${uri}`);
    let sizeBytes: number;
    try {
      sizeBytes = (await stat(this.blobPath(sha256))).size;
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw this.translate(err, `looking up ${uri}`);
    }
    return { uri: artifactUri(sha256), sha256, sizeBytes, mediaType: await this.readMediaType(sha256) };
  }

  async exists(uri: ArtifactUri, signal?: AbortSignal): Promise<boolean> {
    return (await this.stat(uri, signal)) !== undefined;
  }

  async delete(uri: ArtifactUri, signal?: AbortSignal): Promise<boolean> {
    const sha256 = sha256FromUri(uri);
    this.checkOpen();
    throwIfCancelled(signal, `deleting ${uri}`);
    try {
      // The bytes go first: once they are gone the artifact is, and a media type file left by a crash
      // here is overwritten by the next put of the same bytes.
      await rm(this.blobPath(sha256));
    } catch (err) {
      if (isCode(err, 'ENOENT')) return false;
      throw this.translate(err, `deleting ${uri}`);
    }
    await rm(this.metaPath(sha256), { force: true }).catch(() => undefined);
    return true;
  }

  async *list(options: ListOptions = {}): AsyncGenerator<ArtifactSummary> {
    const prefix = normalizeSha256Prefix(options.sha256Prefix);
    this.checkOpen();
    const fanOuts = (await this.readDir(this.objectsDir)).filter(
      (name) => /^[0-9a-f]{2}$/.test(name) && name.startsWith(prefix.slice(0, 2)),
    );
    for (const fanOut of fanOuts.sort()) {
      const names = (await this.readDir(path.join(this.objectsDir, fanOut))).filter(
        (name) => isSha256Hex(name) && name.startsWith(prefix),
      );
      for (const sha256 of names.sort()) {
        throwIfCancelled(options.signal, 'listing artifacts');
        this.checkOpen();
        let sizeBytes: number;
        try {
          sizeBytes = (await stat(this.blobPath(sha256))).size;
        } catch (err) {
          if (isCode(err, 'ENOENT')) continue; // deleted since the folder was read
          throw this.translate(err, 'listing artifacts');
        }
        yield { uri: artifactUri(sha256), sha256, sizeBytes };
      }
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    this.checkOpen();
    throwIfCancelled(signal, 'ping');
    try {
      await access(this.objectsDir, constants.R_OK | constants.W_OK);
      await access(this.tempDir, constants.R_OK | constants.W_OK);
    } catch (err) {
      throw unavailable(
        `the artifact folder ${this.dir} cannot be used (${errorText(err)}); check that it exists and is writable`,
        err,
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // -------------------------------------------------------------------------------------------------------

  private async store(
    chunks: AsyncIterable<Uint8Array>,
    mediaType: string,
    signal: AbortSignal | undefined,
  ): Promise<Artifact> {
    const temp = this.tempPath();
    const hash = createHash('sha256');
    let sizeBytes = 0;
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'wx');
      for await (const chunk of readSource(chunks)) {
        if (signal?.aborted) throw cancelled('storing an artifact', signal);
        hash.update(chunk);
        sizeBytes += chunk.byteLength;
        await writeFully(handle, chunk);
      }
      // Flushed before the rename, so a power cut after the rename cannot leave a named file with holes.
      await handle.sync();
      await handle.close();
      handle = undefined;
      const sha256 = hash.digest('hex');
      throwIfCancelled(signal, 'storing an artifact');
      return await this.commit(temp, sha256, sizeBytes, mediaType);
    } catch (err) {
      throw this.translate(err, 'storing an artifact');
    } finally {
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  private async commit(
    temp: string,
    sha256: string,
    sizeBytes: number,
    mediaType: string,
  ): Promise<Artifact> {
    const blob = this.blobPath(sha256);
    const existing = await stat(blob).catch((err: unknown) => {
      if (isCode(err, 'ENOENT')) return undefined;
      throw err;
    });
    // Stored already: the first media type stays. A stored copy of the wrong size is corrupt (a disk error,
    // a hand edit) and is replaced by these bytes, which are known to be right.
    if (existing?.size === sizeBytes) {
      return { uri: artifactUri(sha256), sha256, sizeBytes, mediaType: await this.readMediaType(sha256) };
    }
    await mkdir(path.dirname(blob), { recursive: true });
    const metaTemp = this.tempPath();
    const meta = await open(metaTemp, 'wx');
    try {
      await meta.writeFile(`${JSON.stringify({ mediaType })}\n`);
      await meta.sync();
    } finally {
      await meta.close();
    }
    await rename(metaTemp, this.metaPath(sha256));
    await rename(temp, blob);
    await syncDir(path.dirname(blob));
    return { uri: artifactUri(sha256), sha256, sizeBytes, mediaType };
  }

  private async readMediaType(sha256: string): Promise<string> {
    try {
      const parsed = JSON.parse(await readFile(this.metaPath(sha256), 'utf8')) as { mediaType?: unknown };
      return typeof parsed.mediaType === 'string' ? parsed.mediaType : DEFAULT_MEDIA_TYPE;
    } catch {
      // Stored by hand, or its media type file was lost: the bytes are still the artifact.
      return DEFAULT_MEDIA_TYPE;
    }
  }

  private async readDir(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if (isCode(err, 'ENOENT') && dir !== this.objectsDir) return [];
      throw this.translate(err, 'listing artifacts');
    }
  }

  private blobPath(sha256: string): string {
    return path.join(this.objectsDir, sha256.slice(0, 2), sha256);
  }

  private metaPath(sha256: string): string {
    return `${this.blobPath(sha256)}.json`;
  }

  private tempPath(): string {
    return path.join(this.tempDir, `${process.pid}-${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`);
  }

  private checkOpen(): void {
    if (this.closed) throw unavailable('the embedded artifact store is closed');
  }

  private translate(err: unknown, what: string): DomainError {
    if (err instanceof DomainError) return err;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new DomainError('resource-exhausted', `${what}: no space left in ${this.dir}`, { cause: err });
    }
    if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
      return unavailable(
        `${what}: the artifact folder ${this.dir} cannot be used (${errorText(err)}); check that it exists and is writable`,
        err,
      );
    }
    return new DomainError('internal', `${what} failed: ${errorText(err)}`, { cause: err });
  }
}

const UNAVAILABLE_CODES = new Set([
  'ENOENT',
  'EACCES',
  'EPERM',
  'EROFS',
  'EIO',
  'ENOTDIR',
  'EMFILE',
  'ENFILE',
]);

async function writeFully(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

// The rename is durable only once the folder that holds the new name is flushed too.
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a folder; the data itself is already on disk.
    if (!isCode(err, 'EINVAL') && !isCode(err, 'EISDIR')) throw err;
  } finally {
    await handle.close();
  }
}

function removeStaleTempFiles(dir: string, staleMs: number): void {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(TEMP_SUFFIX)) continue;
    const file = path.join(dir, name);
    try {
      if (now - statSync(file).mtimeMs > staleMs) rmSync(file, { force: true });
    } catch {
      // Finished or removed by its writer in the meantime.
    }
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
