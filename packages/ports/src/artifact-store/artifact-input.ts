// What both adapters share: URIs, media types, input checks, cancellation and the sha256-checking stream.

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';

import { DomainError, invalidArgument, notFound } from '../errors.js';
import { ARTIFACT_URI_PREFIX, type ArtifactContent, type ArtifactUri } from './artifact-store.port.js';

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function artifactUri(sha256: string): ArtifactUri {
  return `${ARTIFACT_URI_PREFIX}${sha256}`;
}

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/** The sha256 an artifact URI names; 'invalid-argument' for anything that is not exactly such a URI. */
export function sha256FromUri(uri: unknown): string {
  if (typeof uri === 'string' && uri.startsWith(ARTIFACT_URI_PREFIX)) {
    const hex = uri.slice(ARTIFACT_URI_PREFIX.length);
    if (SHA256_HEX.test(hex)) return hex;
  }
  const shown = typeof uri === 'string' ? JSON.stringify(uri.slice(0, 200)) : typeof uri;
  throw invalidArgument(
    `${shown} is not an artifact URI: expected ${ARTIFACT_URI_PREFIX}<64 lowercase hex digits>`,
    [{ field: 'uri', message: 'not an artifact URI' }],
  );
}

/** Lower-cased hex digits, at most 64; 'invalid-argument' otherwise. */
export function normalizeSha256Prefix(prefix: unknown): string {
  if (prefix === undefined) return '';
  if (typeof prefix === 'string' && /^[0-9a-fA-F]{0,64}$/.test(prefix)) return prefix.toLowerCase();
  throw invalidArgument('sha256Prefix must be at most 64 hex digits', [
    { field: 'sha256Prefix', message: 'not hex digits' },
  ]);
}

// RFC 6838 type/subtype names and RFC 9110 parameters, ASCII only: the value becomes an HTTP header on S3, so
// nothing that could end or fold a header line gets through.
const TOKEN = "[A-Za-z0-9!#$&^_.+'*`|~-]+";
const MEDIA_TYPE = new RegExp(
  `^(${TOKEN})/(${TOKEN})((?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[\\x20-\\x21\\x23-\\x5b\\x5d-\\x7e]*"))*)$`,
);

/** The media type to store: the default when none is given, type and subtype lower-cased. */
export function normalizeMediaType(mediaType: unknown): string {
  if (mediaType === undefined) return DEFAULT_MEDIA_TYPE;
  const match = typeof mediaType === 'string' && mediaType.length <= 255 ? MEDIA_TYPE.exec(mediaType) : null;
  if (match === null) {
    throw invalidArgument(
      `${JSON.stringify(String(mediaType).slice(0, 100))} is not a media type such as application/gguf or text/plain; charset=utf-8`,
      [{ field: 'mediaType', message: 'not a media type' }],
    );
  }
  const [, type = '', subtype = '', parameters = ''] = match;
  return `${type.toLowerCase()}/${subtype.toLowerCase()}${parameters}`;
}

export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelled(what, signal);
}

export function cancelled(what: string, signal?: AbortSignal): DomainError {
  return new DomainError('cancelled', `${what} was cancelled`, { cause: signal?.reason });
}

/**
 * The content's chunks, checked: a Uint8Array, or an async iterable (a Node Readable included) of
 * Uint8Arrays. Strings are refused rather than encoded, because an artifact's hash must not depend on an
 * encoding chosen here.
 */
export async function* contentChunks(content: ArtifactContent): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) {
    yield content;
    return;
  }
  if (content === null || typeof content !== 'object' || !(Symbol.asyncIterator in content)) {
    throw invalidArgument('artifact content must be a Uint8Array or an async iterable of Uint8Array chunks', [
      { field: 'content', message: 'not bytes' },
    ]);
  }
  for await (const chunk of content as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw invalidArgument(
        `artifact content streams must yield Uint8Array chunks, not ${typeof chunk === 'string' ? 'strings (encode them first)' : typeof chunk}`,
        [{ field: 'content', message: 'not bytes' }],
      );
    }
    yield chunk;
  }
}

/**
 * Passes bytes through, hashing them, and holds back the last chunk until the end: then it either delivers
 * it or fails with 'internal' when the bytes do not hash to `sha256` (or `sizeBytes`, when known, does not
 * match). A consumer that reaches the end without an error has got exactly the stored artifact.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private held: Uint8Array | undefined;
  private seen = 0;

  constructor(
    private readonly sha256: string,
    private readonly sizeBytes: number | undefined,
    private readonly where: string,
  ) {
    super();
  }

  override _transform(chunk: Uint8Array, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.seen += chunk.byteLength;
    const previous = this.held;
    this.held = chunk;
    if (this.sizeBytes !== undefined && this.seen > this.sizeBytes) {
      callback(this.corrupt(`more than the ${this.sizeBytes} bytes it should have`));
      return;
    }
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (this.sizeBytes !== undefined && this.seen !== this.sizeBytes) {
      callback(this.corrupt(`${this.seen} bytes instead of ${this.sizeBytes}`));
    } else if (actual !== this.sha256) {
      callback(this.corrupt(`bytes with sha256 ${actual}`));
    } else {
      callback(null, this.held);
    }
  }

  private corrupt(what: string): DomainError {
    return new DomainError(
      'internal',
      `artifact ${artifactUri(this.sha256)} is corrupt in ${this.where}: the stored copy has ${what}; store the original again`,
    );
  }
}

/** Destroys `stream` with a 'cancelled' error when `signal` aborts, until the stream closes. */
export function cancelStreamOn(stream: Readable, signal: AbortSignal | undefined, what: string): void {
  if (signal === undefined) return;
  const onAbort = (): void => {
    stream.destroy(cancelled(what, signal));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}

/** Reads a stream to its end into one buffer. */
export async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/**
 * The chunks of what a caller gave to store. A failure of the caller's own stream (or file) is reported as
 * such ('failed-precondition'), not as a fault of the store.
 */
export async function* readSource(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of chunks) yield chunk;
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new DomainError(
      'failed-precondition',
      `the content to store could not be read: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** Opens a local file for putFile: 'not-found', 'invalid-argument' (not a file) or 'failed-precondition'. */
export async function openSourceFile(file: unknown): Promise<FileHandle> {
  if (typeof file !== 'string' || file === '') {
    throw invalidArgument('putFile needs a file path', [{ field: 'path', message: 'empty' }]);
  }
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`there is no file ${file} to store`);
    throw new DomainError('failed-precondition', `cannot read ${file} (${(err as Error).message})`, {
      cause: err,
    });
  }
  try {
    if (!(await handle.stat()).isFile()) {
      throw invalidArgument(`${file} is not a regular file`, [{ field: 'path', message: 'not a file' }]);
    }
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}
