import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from '@jest/globals';

import { isDomainError } from '../errors.js';
import { describeArtifactStoreContract } from './artifact-store.contract.js';
import type { ArtifactStore } from './artifact-store.port.js';
import { createArtifactStore, parseFileUrl, parseS3Url } from './create-artifact-store.js';
import { EmbeddedArtifactStore } from './embedded-artifact-store.js';

describeArtifactStoreContract('embedded (a folder)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'llmtwin-artifacts-contract-'));
  const stores: ArtifactStore[] = [];
  let counter = 0;
  return {
    fresh: async () => {
      const store = new EmbeddedArtifactStore({ dir: join(root, `store-${++counter}`) });
      stores.push(store);
      return store;
    },
    tamper: async (store, sha256, bytes) => {
      const dir = (store as EmbeddedArtifactStore).dir;
      writeFileSync(join(dir, 'sha256', sha256.slice(0, 2), sha256), bytes);
    },
    cleanup: async () => {
      for (const store of stores) await store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
});

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmtwin-artifacts-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const sha256Of = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

describe('embedded artifact store', () => {
  it('keeps each artifact as a file named by its sha256 under a two-digit folder, with its media type beside it', async () => {
    const dir = tempDir();
    const store = new EmbeddedArtifactStore({ dir });
    const artifact = await store.put(Buffer.from('weights'), { mediaType: 'application/gguf' });
    const hex = sha256Of('weights');
    const folder = join(dir, 'sha256', hex.slice(0, 2));
    expect(readdirSync(folder).sort()).toEqual([hex, `${hex}.json`]);
    expect(readFileSync(join(folder, hex), 'utf8')).toBe('weights');
    expect(JSON.parse(readFileSync(join(folder, `${hex}.json`), 'utf8'))).toEqual({
      mediaType: 'application/gguf',
    });
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(artifact.uri).toBe(`artifact://sha256/${hex}`);
    await store.close();
  });

  it('keeps artifacts across reopening, and two stores on one folder see each other', async () => {
    const dir = join(tempDir(), 'nested', 'deeper');
    const first = new EmbeddedArtifactStore({ dir });
    const second = new EmbeddedArtifactStore({ dir });
    const artifact = await first.put(Buffer.from('shared'), { mediaType: 'text/plain' });
    expect(await second.stat(artifact.uri)).toEqual(artifact);
    await first.close();
    const reopened = new EmbeddedArtifactStore({ dir });
    expect(Buffer.from(await reopened.get(artifact.uri)).toString()).toBe('shared');
    expect(await second.delete(artifact.uri)).toBe(true);
    expect(await reopened.exists(artifact.uri)).toBe(false);
    await second.close();
    await reopened.close();
  });

  it('never shows a write in progress: a half-written temporary file is not an artifact', async () => {
    const dir = tempDir();
    const store = new EmbeddedArtifactStore({ dir });
    const hex = sha256Of('complete');
    // What a writer that died mid-way leaves: bytes in tmp/, nothing under sha256/.
    writeFileSync(join(dir, 'tmp', `999999-0000000000000000.partial`), 'compl');
    expect(await store.exists(`artifact://sha256/${hex}`)).toBe(false);
    const listed: unknown[] = [];
    for await (const item of store.list()) listed.push(item);
    expect(listed).toEqual([]);
    await store.close();
  });

  it('removes temporary files left by dead writers when it opens the folder, and leaves fresh ones', async () => {
    const dir = tempDir();
    new EmbeddedArtifactStore({ dir });
    const stale = join(dir, 'tmp', '1-aaaaaaaaaaaaaaaa.partial');
    const live = join(dir, 'tmp', '2-bbbbbbbbbbbbbbbb.partial');
    writeFileSync(stale, 'old');
    writeFileSync(live, 'being written');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(stale, twoHoursAgo, twoHoursAgo);
    new EmbeddedArtifactStore({ dir });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('reads an artifact stored without its media type file as application/octet-stream', async () => {
    const dir = tempDir();
    const store = new EmbeddedArtifactStore({ dir });
    const artifact = await store.put(Buffer.from('bare'), { mediaType: 'text/plain' });
    rmSync(join(dir, 'sha256', artifact.sha256.slice(0, 2), `${artifact.sha256}.json`));
    expect((await store.stat(artifact.uri))?.mediaType).toBe('application/octet-stream');
    expect(Buffer.from(await store.get(artifact.uri)).toString()).toBe('bare');
    await store.close();
  });

  it('reports a folder that went away as unavailable, naming the folder', async () => {
    // Taken away rather than made read-only: the tests may run as root, which ignores permissions.
    const dir = tempDir();
    const store = new EmbeddedArtifactStore({ dir });
    const artifact = await store.put(Buffer.from('before'));
    rmSync(dir, { recursive: true, force: true });
    const err = await store.ping().catch((e: unknown) => e);
    expect(isDomainError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toContain(dir);
    const kind = (promise: Promise<unknown>) =>
      promise.then(
        () => 'no error',
        (e: unknown) => (isDomainError(e) ? e.kind : String(e)),
      );
    expect(await kind(store.put(Buffer.from('after')))).toBe('unavailable');
    expect(await kind(store.get(artifact.uri))).toBe('not-found');
    await store.close();
  });
});

describe('createArtifactStore', () => {
  it('opens the embedded adapter for file: URLs, creating the folder', async () => {
    const dir = join(tempDir(), 'artifacts');
    const store = await createArtifactStore(`file:${dir}`);
    expect(store.adapter).toBe('embedded');
    expect(existsSync(join(dir, 'sha256'))).toBe(true);
    const artifact = await store.put(Buffer.from('via url'));
    expect(await store.exists(artifact.uri)).toBe(true);
    await store.close();
  });

  it('reads folders from the file: forms', () => {
    expect(parseFileUrl('file:./data/artifacts')).toBe('./data/artifacts');
    expect(parseFileUrl('file:/var/lib/llmtwin/artifacts')).toBe('/var/lib/llmtwin/artifacts');
    expect(parseFileUrl('file:///var/lib/llmtwin/artifacts')).toBe('/var/lib/llmtwin/artifacts');
    expect(parseFileUrl('file://localhost/srv/a%20b')).toBe('/srv/a b');
  });

  it('builds the S3 adapter for http(s) and s3 URLs without connecting', async () => {
    for (const url of [
      'http://key:secret@127.0.0.1:1/bucket',
      's3://bucket/prefix?endpoint=http://127.0.0.1:1',
    ]) {
      const store = await createArtifactStore(url, {
        env: { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' },
      });
      expect(store.adapter).toBe('s3');
      await store.close();
    }
  });

  it('reads endpoint, bucket, prefix, credentials and region from the URL, the rest from the environment', () => {
    expect(
      parseS3Url('http://AK%2B1:se%2Fcret@127.0.0.1:9000/models/twin/v1?region=eu-west-1', { env: {} }),
    ).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'models',
      prefix: 'twin/v1',
      region: 'eu-west-1',
      pathStyle: true,
      accessKeyId: 'AK+1',
      secretAccessKey: 'se/cret',
    });
    const env = {
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_SECRET_ACCESS_KEY: 'shh',
      AWS_SESSION_TOKEN: 'tok',
      AWS_REGION: 'eu-central-1',
    };
    expect(parseS3Url('s3://llmtwin-artifacts', { env })).toEqual({
      endpoint: 'https://s3.eu-central-1.amazonaws.com',
      bucket: 'llmtwin-artifacts',
      prefix: '',
      region: 'eu-central-1',
      pathStyle: false,
      accessKeyId: 'AKIA',
      secretAccessKey: 'shh',
      sessionToken: 'tok',
    });
    expect(
      parseS3Url('s3://b1b/p?endpoint=https://minio.internal:9000&partSizeMiB=16', { env }),
    ).toMatchObject({
      endpoint: 'https://minio.internal:9000',
      bucket: 'b1b',
      prefix: 'p',
      pathStyle: true,
      partSizeBytes: 16 * 1024 * 1024,
    });
    expect(parseS3Url('s3://b1b?endpoint=https://h&pathStyle=false', { env }).pathStyle).toBe(false);
  });

  it('fails loudly for anything else, listing the accepted forms and hiding secrets', async () => {
    const env = {};
    const bad = [
      'postgres://u:hunter2@h/db',
      './artifacts',
      '',
      'FILE:x',
      'file:',
      'file://remote-host/share',
      'http://key:hunter2@127.0.0.1:9000/',
      'http://key:hunter2@127.0.0.1:9000/bucket?unknown=1',
      'http://key@127.0.0.1:9000/bucket',
      'http://127.0.0.1:9000/bucket',
      's3://bucket?pathStyle=maybe',
      'http://key:hunter2@127.0.0.1:9000/bucket?partSizeMiB=1',
      'http://key:hunter2@127.0.0.1:9000/Not_A_Bucket',
      'http://key:hunter2@127.0.0.1:9000/bucket/a//b',
    ];
    for (const url of bad) {
      const err = await createArtifactStore(url, { env }).catch((e: unknown) => e);
      expect([url, isDomainError(err, 'invalid-argument')]).toEqual([url, true]);
      expect((err as Error).message).not.toContain('hunter2');
    }
    const err = (await createArtifactStore('redis://h', { env }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('file:<folder>');
    expect(err.message).toContain('s3://<bucket>');
    expect(err.message).toContain('AWS_ACCESS_KEY_ID');
  });
});
