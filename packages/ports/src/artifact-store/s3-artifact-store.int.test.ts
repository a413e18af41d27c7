// The artifact store contract against a real S3-compatible server (S3Proxy from the test harness, or
// whatever LLMTWIN_TEST_S3_URL points at), plus what only a server shows: multipart uploads, refused
// credentials, a missing bucket, outages.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { Client as MinioClient } from 'minio';

import { startS3Proxy, type S3ProxyHandle } from '@llmtwin/testkit';
import { isDomainError } from '../errors.js';
import { describeArtifactStoreContract } from './artifact-store.contract.js';
import type { ArtifactStore } from './artifact-store.port.js';
import { createArtifactStore, parseS3Url } from './create-artifact-store.js';
import { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-artifact-store.js';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const run = `${Date.now().toString(36)}-${process.pid}`;
const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function sharedServerUrl(): string {
  const url = process.env.LLMTWIN_TEST_S3_URL;
  if (url === undefined || url === '') {
    throw new Error(
      'LLMTWIN_TEST_S3_URL is not set: run integration tests with --selectProjects integration (its global setup starts the backends; LLMTWIN_TEST_ONLY=s3proxy starts only this one)',
    );
  }
  return url;
}

/** A client that goes around the adapter, to look at and tamper with what it stored. */
function rawClient(options: S3ArtifactStoreOptions): MinioClient {
  const endpoint = new URL(options.endpoint);
  return new MinioClient({
    endPoint: endpoint.hostname,
    port: Number(endpoint.port),
    useSSL: false,
    accessKey: options.accessKeyId,
    secretKey: options.secretAccessKey,
    region: options.region ?? 'us-east-1',
    pathStyle: true,
  });
}

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isDomainError(err) ? err.kind : `not a DomainError: ${String(err)}`;
  }
  return 'no error';
}

async function removeUnder(client: MinioClient, bucket: string, prefix: string): Promise<void> {
  const names: string[] = [];
  for await (const item of client.listObjectsV2(bucket, prefix, true) as AsyncIterable<{ name?: string }>) {
    if (item.name !== undefined) names.push(item.name);
  }
  if (names.length > 0) await client.removeObjects(bucket, names);
}

describeArtifactStoreContract('s3 (S3Proxy, or the server LLMTWIN_TEST_S3_URL names)', async () => {
  const base = parseS3Url(sharedServerUrl(), { env: {} });
  const raw = rawClient(base);
  const stores: ArtifactStore[] = [];
  let counter = 0;
  return {
    fresh: async () => {
      // The smallest part S3 allows, so the contract's 6 MiB file goes up as a multipart upload.
      const store = new S3ArtifactStore({
        ...base,
        prefix: `contract-${run}-${++counter}/`,
        partSizeBytes: 5 * MiB,
      });
      stores.push(store);
      return store;
    },
    tamper: async (store, sha256, bytes) => {
      const key = `${(store as S3ArtifactStore).prefix}sha256/${sha256}`;
      await raw.putObject(base.bucket, key, Buffer.from(bytes), bytes.byteLength);
    },
    cleanup: async () => {
      for (const store of stores) await store.close();
      await removeUnder(raw, base.bucket, `contract-${run}-`);
    },
  };
});

describe('s3 artifact store on a real server', () => {
  const base = (): S3ArtifactStoreOptions => parseS3Url(sharedServerUrl(), { env: {} });
  const stores: ArtifactStore[] = [];
  const temps: string[] = [];
  const open = (options: Partial<S3ArtifactStoreOptions> = {}): S3ArtifactStore => {
    const store = new S3ArtifactStore({ ...base(), prefix: `s3-${run}/`, ...options });
    stores.push(store);
    return store;
  };
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'llmtwin-s3-artifacts-'));
    temps.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const store of stores) await store.close();
    await removeUnder(rawClient(base()), base().bucket, `s3-${run}/`);
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  it('is reached through createArtifactStore with the URL the harness exports', async () => {
    const store = await createArtifactStore(sharedServerUrl(), { env: {} });
    stores.push(store);
    expect(store.adapter).toBe('s3');
    await store.ping();
  });

  it('talks to a server that checks signatures: unsigned and wrongly signed requests are refused', async () => {
    const { endpoint, bucket } = base();
    const unsigned = await fetch(`${endpoint}/${bucket}?list-type=2`);
    expect(unsigned.status).toBe(403);
    const wrong = open({ secretAccessKey: 'not-the-secret' });
    const err = await wrong.ping().catch((e: unknown) => e);
    expect(isDomainError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toContain('refused the credentials');
    expect(await kindOf(wrong.put(Buffer.from('x')))).toBe('unavailable');
  });

  it('keeps each artifact as <prefix>sha256/<hex> with its media type as Content-Type', async () => {
    const store = open();
    const artifact = await store.put(Buffer.from('{"layers":2}'), { mediaType: 'application/json' });
    const stat = await rawClient(base()).statObject(base().bucket, `s3-${run}/sha256/${artifact.sha256}`);
    expect(stat.size).toBe(12);
    expect(stat.metaData['content-type']).toBe('application/json');
  });

  it('uploads large artifacts in parts (multipart) and reads them back whole', async () => {
    const store = open({ partSizeBytes: 5 * MiB });
    const bytes = new Uint8Array(randomBytes(11 * MiB + 7));
    const file = join(tempDir(), 'weights.bin');
    writeFileSync(file, bytes);
    const artifact = await store.putFile(file, { mediaType: 'application/octet-stream' });
    expect(artifact.sha256).toBe(sha256Of(bytes));
    const stat = await rawClient(base()).statObject(base().bucket, `s3-${run}/sha256/${artifact.sha256}`);
    // S3's ETag of a multipart object is "<md5 of the part md5s>-<number of parts>".
    expect(stat.etag).toMatch(/-3$/);
    expect(stat.size).toBe(bytes.byteLength);
    expect(sha256Of(await store.get(artifact.uri))).toBe(artifact.sha256);
    // The same bytes as a stream are recognised as stored.
    expect(await store.put(Readable.from([bytes.subarray(0, 3 * MiB), bytes.subarray(3 * MiB)]))).toEqual(
      artifact,
    );
  });

  it('spools a stream to a temporary file and removes it, also when the upload fails', async () => {
    const spoolDir = tempDir();
    const store = open({ spoolDir });
    const bytes = new Uint8Array(randomBytes(MiB));
    expect((await store.put(Readable.from([bytes]))).sha256).toBe(sha256Of(bytes));
    expect(readdirSync(spoolDir)).toEqual([]);
    const refused = open({ spoolDir, secretAccessKey: 'not-the-secret' });
    expect(await kindOf(refused.put(Readable.from([new Uint8Array(randomBytes(1000))])))).toBe('unavailable');
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('reports a missing bucket as unavailable, saying so', async () => {
    const store = open({ bucket: `missing-${run}` });
    const err = await store.ping().catch((e: unknown) => e);
    expect(isDomainError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toContain('does not exist');
    expect(await kindOf(store.put(Buffer.from('x')))).toBe('unavailable');
  });
});

describe('s3 artifact store during a server outage', () => {
  let server: S3ProxyHandle | undefined;
  const stores: ArtifactStore[] = [];
  afterAll(async () => {
    for (const store of stores) await store.close();
    await server?.dispose();
  });

  it('fails fast while the server is down and works again, with the same object, once it is back', async () => {
    server = await startS3Proxy();
    const store = await createArtifactStore(server.url, { env: {} });
    stores.push(store);
    const kept = await store.put(Buffer.from('kept across restarts'), { mediaType: 'text/plain' });

    await server.stop();
    expect(await kindOf(store.ping())).toBe('unavailable');
    expect(await kindOf(store.get(kept.uri))).toBe('unavailable');
    expect(await kindOf(store.put(Buffer.from('while down')))).toBe('unavailable');

    await server.restart();
    await store.ping();
    expect(await store.stat(kept.uri)).toEqual(kept);
    expect(Buffer.from(await store.get(kept.uri)).toString()).toBe('kept across restarts');

    // A crash (SIGKILL) rather than a clean stop looks the same to the adapter.
    await server.kill();
    expect(await kindOf(store.ping())).toBe('unavailable');
    expect(await kindOf(store.exists(kept.uri))).toBe('unavailable');
    await server.restart();
    await store.ping();
    expect(await store.exists(kept.uri)).toBe(true);
  });

  it('starts while the server is down and works once it comes up', async () => {
    server ??= await startS3Proxy();
    await server.stop();
    const store = await createArtifactStore(server.url, { env: {} });
    stores.push(store);
    expect(await kindOf(store.ping())).toBe('unavailable');
    await server.restart();
    await store.ping();
    const artifact = await store.put(Buffer.from('late'));
    expect(await store.exists(artifact.uri)).toBe(true);
  });
});
