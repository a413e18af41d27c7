// The artifact store on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, SeaweedFS, S3Proxy, ...)
// through the `minio` client: SigV4-signed requests, multipart uploads for large artifacts.
//
// Objects are `<prefix>sha256/<sha256>`, with the media type as their Content-Type. An S3 PUT (single or
// multipart) is atomic: the object appears whole or not at all. Because the key is the hash, it must be
// known before the upload starts: a file is hashed, then uploaded; a stream is first spooled to a local
// temporary file while it is hashed (so nothing is held in memory whole). Uploads are checked: over plain
// HTTP the client signs each request's payload sha256, which the server verifies; and the bytes actually
// sent are hashed again, so a file that changed between hashing and uploading is caught and its object
// removed.

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Client as MinioClient } from 'minio';

import { DomainError, invalidArgument, notFound, unavailable } from '../errors.js';
import {
  artifactUri,
  cancelled,
  cancelStreamOn,
  contentChunks,
  DEFAULT_MEDIA_TYPE,
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

export interface S3ArtifactStoreOptions {
  /** `http(s)://host[:port]` of the S3 API (for AWS: `https://s3.<region>.amazonaws.com`). */
  readonly endpoint: string;
  readonly bucket: string;
  /** Key prefix inside the bucket, e.g. `llmtwin/`; '' by default. Several stores can share a bucket. */
  readonly prefix?: string;
  /** Signing region; `us-east-1` by default (what most S3-compatible servers expect). */
  readonly region?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Path-style requests (`host/bucket/key`), which S3-compatible servers need; default true. */
  readonly pathStyle?: boolean;
  /**
   * Objects larger than this go up as multipart uploads in parts of this size, each held in memory while it
   * is sent: it bounds the memory an upload takes. Default 64 MiB; S3's minimum is 5 MiB.
   */
  readonly partSizeBytes?: number;
  /** Where streams are spooled before upload; the OS temporary folder by default. */
  readonly spoolDir?: string;
  /** How long ping() waits for the server. Default 5 s. */
  readonly pingTimeoutMs?: number;
}

const KEY_FOLDER = 'sha256/';

export class S3ArtifactStore implements ArtifactStore {
  readonly adapter = 's3';
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: MinioClient;
  private readonly agent: http.Agent;
  private readonly spoolDir: string;
  private readonly pingTimeoutMs: number;
  private readonly where: string;
  private closed = false;

  constructor(options: S3ArtifactStoreOptions) {
    const endpoint = parseEndpoint(options.endpoint);
    this.bucket = checkBucket(options.bucket);
    this.prefix = checkPrefix(options.prefix ?? '');
    if (!options.accessKeyId || !options.secretAccessKey) {
      throw invalidArgument('the S3 artifact store needs an access key id and a secret access key', [
        { field: 'credentials', message: 'missing' },
      ]);
    }
    this.where = `s3://${this.bucket}/${this.prefix} at ${endpoint.origin}`;
    this.agent =
      endpoint.protocol === 'https:'
        ? new https.Agent({ keepAlive: true })
        : new http.Agent({ keepAlive: true });
    this.client = new MinioClient({
      endPoint: endpoint.hostname,
      ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
      useSSL: endpoint.protocol === 'https:',
      accessKey: options.accessKeyId,
      secretKey: options.secretAccessKey,
      ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
      region: options.region ?? 'us-east-1',
      pathStyle: options.pathStyle ?? true,
      partSize: options.partSizeBytes ?? 64 * 1024 * 1024,
      transportAgent: this.agent,
      // The client's retry re-sends request bodies it has already consumed and logs with console.warn;
      // callers get 'unavailable' instead and decide.
      retryOptions: { disableRetry: true },
    });
    this.spoolDir = options.spoolDir ?? os.tmpdir();
    this.pingTimeoutMs = options.pingTimeoutMs ?? 5000;
  }

  async put(content: ArtifactContent, options: PutOptions = {}): Promise<Artifact> {
    this.checkOpen();
    const mediaType = normalizeMediaType(options.mediaType);
    const { signal } = options;
    throwIfCancelled(signal, 'storing an artifact');
    if (content instanceof Uint8Array) {
      const sha256 = createHash('sha256').update(content).digest('hex');
      const stored = await this.storedAs(sha256, content.byteLength, signal);
      if (stored !== undefined) return stored;
      const body = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
      await this.call(`storing ${artifactUri(sha256)}`, signal, () =>
        this.client.putObject(
          this.bucket,
          this.key(sha256),
          body,
          body.byteLength,
          objectMetadata(mediaType),
        ),
      );
      return { uri: artifactUri(sha256), sha256, sizeBytes: content.byteLength, mediaType };
    }
    const spool = path.join(
      this.spoolDir,
      `llmtwin-artifact-${process.pid}-${randomBytes(8).toString('hex')}`,
    );
    try {
      const { sha256, sizeBytes } = await spoolTo(spool, contentChunks(content), signal);
      return await this.upload(spool, sha256, sizeBytes, mediaType, signal);
    } finally {
      await rm(spool, { force: true });
    }
  }

  async putFile(file: string, options: PutOptions = {}): Promise<Artifact> {
    this.checkOpen();
    const mediaType = normalizeMediaType(options.mediaType);
    const { signal } = options;
    throwIfCancelled(signal, `storing ${file}`);
    const handle = await openSourceFile(file);
    let sha256: string;
    let sizeBytes = 0;
    try {
      const hash = createHash('sha256');
      for await (const chunk of readSource(handle.createReadStream({ autoClose: false }))) {
        if (signal?.aborted) throw cancelled(`storing ${file}`, signal);
        hash.update(chunk);
        sizeBytes += chunk.byteLength;
      }
      sha256 = hash.digest('hex');
    } finally {
      await handle.close();
    }
    return this.upload(file, sha256, sizeBytes, mediaType, signal);
  }

  async get(uri: ArtifactUri, signal?: AbortSignal): Promise<Uint8Array> {
    return readAll(await this.open(uri, signal));
  }

  async open(uri: ArtifactUri, signal?: AbortSignal): Promise<Readable> {
    const sha256 = sha256FromUri(uri);
    this.checkOpen();
    const what = `reading ${uri}`;
    throwIfCancelled(signal, what);
    const response = await this.call(what, signal, () =>
      this.client.getObject(this.bucket, this.key(sha256)),
    );
    const length = Number((response as Partial<IncomingMessage>).headers?.['content-length'] ?? Number.NaN);
    const verifier = new VerifyingStream(sha256, Number.isInteger(length) ? length : undefined, this.where);
    response.on('error', (err) => verifier.destroy(this.translate(err, what)));
    // A response that ends early (the server died mid-body) is an error, not a short artifact.
    response.once('aborted', () =>
      verifier.destroy(unavailable(`${what}: the connection to ${this.where} broke`)),
    );
    verifier.once('close', () => response.destroy());
    response.pipe(verifier);
    cancelStreamOn(verifier, signal, what);
    return verifier;
  }

  async stat(uri: ArtifactUri, signal?: AbortSignal): Promise<Artifact | undefined> {
    const sha256 = sha256FromUri(uri);
    this.checkOpen();
    throwIfCancelled(signal, `looking up ${uri}`);
    return this.statObject(sha256, signal);
  }

  async exists(uri: ArtifactUri, signal?: AbortSignal): Promise<boolean> {
    return (await this.stat(uri, signal)) !== undefined;
  }

  async delete(uri: ArtifactUri, signal?: AbortSignal): Promise<boolean> {
    const sha256 = sha256FromUri(uri);
    this.checkOpen();
    // S3's DELETE succeeds whether or not the object was there, so whether it was is asked first.
    if ((await this.statObject(sha256, signal)) === undefined) return false;
    await this.call(`deleting ${uri}`, signal, () => this.client.removeObject(this.bucket, this.key(sha256)));
    return true;
  }

  async *list(options: ListOptions = {}): AsyncGenerator<ArtifactSummary> {
    const sha256Prefix = normalizeSha256Prefix(options.sha256Prefix);
    this.checkOpen();
    throwIfCancelled(options.signal, 'listing artifacts');
    const folder = `${this.prefix}${KEY_FOLDER}`;
    const stream = this.client.listObjectsV2(this.bucket, `${folder}${sha256Prefix}`, true);
    try {
      for await (const item of stream as AsyncIterable<{ name?: string; size?: number }>) {
        throwIfCancelled(options.signal, 'listing artifacts');
        this.checkOpen();
        const sha256 = item.name?.slice(folder.length) ?? '';
        // Anything else under the folder (a multipart upload's stub on some servers, a stray object) is
        // not an artifact.
        if (item.name !== `${folder}${sha256}` || !/^[0-9a-f]{64}$/.test(sha256)) continue;
        yield { uri: artifactUri(sha256), sha256, sizeBytes: item.size ?? 0 };
      }
    } catch (err) {
      throw this.translate(err, 'listing artifacts', options.signal);
    } finally {
      (stream as unknown as Readable).destroy();
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    this.checkOpen();
    throwIfCancelled(signal, 'ping');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(unavailable(`ping: ${this.where} did not answer within ${this.pingTimeoutMs} ms`)),
        this.pingTimeoutMs,
      );
    });
    try {
      const found = await Promise.race([
        this.call('ping', signal, () => this.client.bucketExists(this.bucket)),
        late,
      ]);
      if (!found) {
        throw unavailable(`ping: bucket ${this.bucket} does not exist at ${this.where}; create it`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.agent.destroy();
  }

  // -------------------------------------------------------------------------------------------------------

  private key(sha256: string): string {
    return `${this.prefix}${KEY_FOLDER}${sha256}`;
  }

  /** The stored artifact when these bytes are already there (same key, same size). */
  private async storedAs(
    sha256: string,
    sizeBytes: number,
    signal: AbortSignal | undefined,
  ): Promise<Artifact | undefined> {
    const stored = await this.statObject(sha256, signal);
    return stored?.sizeBytes === sizeBytes ? stored : undefined;
  }

  private async statObject(sha256: string, signal: AbortSignal | undefined): Promise<Artifact | undefined> {
    const uri = artifactUri(sha256);
    try {
      const info = await this.call(`looking up ${uri}`, signal, () =>
        this.client.statObject(this.bucket, this.key(sha256)),
      );
      // The user metadata first: servers may rewrite Content-Type (Jetty, under S3Proxy, drops the space in
      // `text/plain; charset=utf-8`), but keep user metadata as it was sent.
      const stored = [info.metaData['media-type'], info.metaData['content-type']].find(
        (value): value is string => typeof value === 'string' && value !== '',
      );
      return { uri, sha256, sizeBytes: info.size, mediaType: stored ?? DEFAULT_MEDIA_TYPE };
    } catch (err) {
      if (err instanceof DomainError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  /** Uploads a local file already hashed, unless the artifact is stored; checks what was sent. */
  private async upload(
    file: string,
    sha256: string,
    sizeBytes: number,
    mediaType: string,
    signal: AbortSignal | undefined,
  ): Promise<Artifact> {
    const uri = artifactUri(sha256);
    const stored = await this.storedAs(sha256, sizeBytes, signal);
    if (stored !== undefined) return stored;
    const handle = await openSourceFile(file);
    const sent = createHash('sha256');
    const source = handle.createReadStream({ autoClose: false });
    const body = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sent.update(chunk);
        callback(null, chunk);
      },
    });
    // The client reports a failed body through putObject; this keeps a late error from going unhandled.
    body.on('error', () => undefined);
    source.on('error', (err) => body.destroy(err));
    source.pipe(body);
    try {
      await this.call(`storing ${uri}`, signal, () =>
        this.client.putObject(this.bucket, this.key(sha256), body, sizeBytes, objectMetadata(mediaType)),
      );
    } finally {
      source.destroy();
      body.destroy();
      await handle.close();
    }
    if (sent.digest('hex') !== sha256) {
      await this.client.removeObject(this.bucket, this.key(sha256)).catch(() => undefined);
      throw new DomainError(
        'conflict',
        `${file} changed while it was being stored; store it again once it no longer changes`,
      );
    }
    return { uri, sha256, sizeBytes, mediaType };
  }

  /** Runs one client call, translating its errors and giving up (not the request) when `signal` aborts. */
  private async call<T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    this.checkOpen();
    throwIfCancelled(signal, what);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(cancelled(what, signal));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([fn(), aborted]);
    } catch (err) {
      throw this.translate(err, what, signal);
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw unavailable('the S3 artifact store is closed');
  }

  private translate(err: unknown, what: string, signal?: AbortSignal): DomainError {
    if (err instanceof DomainError) return err;
    if (signal?.aborted) return cancelled(what, signal);
    const code = (err as { code?: unknown } | undefined)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'NoSuchKey' || code === 'NotFound') {
      return notFound(`${what}: not stored in ${this.where}`);
    }
    if (code === 'NoSuchBucket') {
      return unavailable(`${what}: bucket ${this.bucket} does not exist at ${this.where}; create it`, err);
    }
    if (typeof code === 'string' && CREDENTIAL_CODES.has(code)) {
      return unavailable(
        `${what}: ${this.where} refused the credentials (${code}); check the access key and secret`,
        err,
      );
    }
    if ((typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || /Retryable HTTP status/.test(message)) {
      return unavailable(`${what}: ${this.where} is not available (${message})`, err);
    }
    return new DomainError('internal', `${what} failed at ${this.where}: ${message}`, { cause: err });
  }
}

const CREDENTIAL_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AuthorizationHeaderMalformed',
  'RequestTimeTooSkewed',
]);

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
]);

/**
 * Content-Type for HTTP clients that fetch the object directly, and the media type once more as user
 * metadata (`x-amz-meta-media-type`), which is what `stat` reads.
 */
function objectMetadata(mediaType: string): Record<string, string> {
  return { 'Content-Type': mediaType, 'X-Amz-Meta-Media-Type': mediaType };
}

/** Writes the chunks to `file`, hashing them on the way. */
async function spoolTo(
  file: string,
  chunks: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of readSource(chunks)) {
      if (signal?.aborted) throw cancelled('storing an artifact', signal);
      hash.update(chunk);
      sizeBytes += chunk.byteLength;
      yield chunk;
    }
  }
  try {
    await pipeline(hashed(), createWriteStream(file, { flags: 'wx' }));
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw unavailable(`storing an artifact: cannot spool it to ${path.dirname(file)} (${String(err)})`, err);
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

function parseEndpoint(endpoint: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw invalidArgument(`S3 endpoint ${JSON.stringify(endpoint)} is not an http(s)://host[:port] URL`, [
      { field: 'endpoint', message: 'not an http(s) URL' },
    ]);
  }
  return url;
}

// S3's rules for bucket names (the ones every provider shares): 3-63 of lower-case letters, digits, dots and
// hyphens, starting and ending with a letter or digit.
function checkBucket(bucket: string): string {
  if (
    typeof bucket !== 'string' ||
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) ||
    bucket.includes('..')
  ) {
    throw invalidArgument(
      `${JSON.stringify(bucket)} is not an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)`,
      [{ field: 'bucket', message: 'not a bucket name' }],
    );
  }
  return bucket;
}

function checkPrefix(prefix: string): string {
  if (prefix === '') return '';
  const normalized = prefix.replace(/^\/+/, '').replace(/\/*$/, '/');
  const segments = normalized.slice(0, -1).split('/');
  if (
    !/^[A-Za-z0-9!_.*'()/-]+$/.test(normalized) ||
    segments.some((part) => part === '' || part === '.' || part === '..') ||
    normalized.length > 512
  ) {
    throw invalidArgument(
      `${JSON.stringify(prefix)} is not a key prefix: use letters, digits and !_.*'()- in /-separated segments`,
      [{ field: 'prefix', message: 'not a key prefix' }],
    );
  }
  return normalized;
}
