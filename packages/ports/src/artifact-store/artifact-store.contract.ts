// The one behaviour every artifact store adapter must show. Each adapter's test file calls
// describeArtifactStoreContract with a harness for its backend; a test here that passes on one adapter and
// fails on another is a bug in the adapter (or a gap to write down in docs/artifact-store.md), never a
// reason to special-case the test.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { isDomainError } from '../errors.js';
import type { ArtifactStore, ArtifactSummary } from './artifact-store.port.js';

export interface ArtifactStoreHarness {
  /** A new, empty store, isolated from every other store this harness made (its own folder or key prefix). */
  fresh(): Promise<ArtifactStore>;
  /** Replaces an artifact's stored bytes behind the store's back, as a disk fault or a hand edit would. */
  tamper(store: ArtifactStore, sha256: string, bytes: Uint8Array): Promise<void>;
  /** Closes what the harness opened and removes what the suite stored. */
  cleanup(): Promise<void>;
}

const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const uriOf = (bytes: Uint8Array): string => `artifact://sha256/${sha256Of(bytes)}`;
const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'utf8'));

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isDomainError(err) ? err.kind : `not a DomainError: ${String(err)}`;
  }
  return 'no error';
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Reads a stream to its end; resolves with the bytes or with the kind of the error it ended with. */
async function drain(stream: Readable): Promise<{ bytes: Uint8Array } | { error: string }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  } catch (err) {
    return { error: isDomainError(err) ? err.kind : `not a DomainError: ${String(err)}` };
  }
  return { bytes: new Uint8Array(Buffer.concat(chunks)) };
}

/** Chunks of `bytes` of varying sizes, as a network or a file stream would deliver them. */
function* pieces(bytes: Uint8Array): Generator<Uint8Array> {
  let offset = 0;
  let size = 1;
  while (offset < bytes.byteLength) {
    yield bytes.subarray(offset, offset + size);
    offset += size;
    size = Math.min(size * 3, 256 * 1024);
  }
}

export function describeArtifactStoreContract(
  name: string,
  makeHarness: () => Promise<ArtifactStoreHarness>,
): void {
  describe(`artifact store contract: ${name}`, () => {
    let harness: ArtifactStoreHarness;
    let store: ArtifactStore;
    let scratch: string;

    beforeAll(async () => {
      harness = await makeHarness();
      store = await harness.fresh();
      scratch = mkdtempSync(join(tmpdir(), 'llmtwin-artifact-contract-'));
    });
    afterAll(async () => {
      await harness?.cleanup();
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    });

    describe('storing and reading', () => {
      it('answers ping and names its adapter', async () => {
        await store.ping();
        expect(['embedded', 's3']).toContain(store.adapter);
      });

      it('names an artifact by the sha256 of its bytes and gives the same bytes back', async () => {
        const artifact = await store.put(text('hello'));
        expect(artifact).toEqual({
          uri: 'artifact://sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
          sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
          sizeBytes: 5,
          mediaType: 'application/octet-stream',
        });
        const got = await store.get(artifact.uri);
        expect(got).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(got).toString('utf8')).toBe('hello');
      });

      it('round-trips every byte value, bytes that are not UTF-8, and a view into a larger buffer', async () => {
        const all = new Uint8Array(256).map((_, i) => i);
        const view = new Uint8Array(new Uint8Array([9, 9, 0xff, 0x00, 0xfe, 9]).buffer, 2, 3);
        for (const bytes of [all, view]) {
          const artifact = await store.put(bytes);
          expect(artifact.uri).toBe(uriOf(bytes));
          expect(artifact.sizeBytes).toBe(bytes.byteLength);
          expect(Array.from(await store.get(artifact.uri))).toEqual(Array.from(bytes));
        }
      });

      it('stores an empty artifact', async () => {
        const artifact = await store.put(new Uint8Array(0));
        expect(artifact.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
        expect(artifact.sizeBytes).toBe(0);
        expect((await store.get(artifact.uri)).byteLength).toBe(0);
        expect(await drain(await store.open(artifact.uri))).toEqual({ bytes: new Uint8Array(0) });
      });

      it('gives the same bytes the same URI whether they come as a buffer, a stream or a file', async () => {
        const bytes = new Uint8Array(randomBytes(300_000));
        const file = join(scratch, 'same.bin');
        writeFileSync(file, bytes);
        const fromBuffer = await store.put(bytes);
        const fromReadable = await store.put(Readable.from(pieces(bytes)));
        const fromGenerator = await store.put(
          (async function* () {
            yield* pieces(bytes);
          })(),
        );
        const fromFile = await store.putFile(file);
        for (const artifact of [fromReadable, fromGenerator, fromFile]) {
          expect(artifact).toEqual(fromBuffer);
        }
        expect(fromBuffer.uri).toBe(uriOf(bytes));
      });

      it('is idempotent: storing bytes again keeps one artifact and its first media type', async () => {
        const fresh = await harness.fresh();
        const bytes = text('{"model":"twin"}');
        const first = await fresh.put(bytes, { mediaType: 'application/json' });
        const again = await fresh.put(bytes, { mediaType: 'text/plain' });
        const fromStream = await fresh.put(Readable.from([bytes]), { mediaType: 'text/plain' });
        expect(again).toEqual(first);
        expect(fromStream).toEqual(first);
        expect(await fresh.stat(first.uri)).toEqual(first);
        expect((await collect(fresh.list())).map((a) => a.uri)).toEqual([first.uri]);
      });

      it('keeps the media type, with type and subtype lower-cased and parameters as given', async () => {
        const json = await store.put(text('{"a":1}'), { mediaType: 'application/json' });
        expect(json.mediaType).toBe('application/json');
        expect((await store.stat(json.uri))?.mediaType).toBe('application/json');
        const plain = await store.put(text('plain words'), { mediaType: 'Text/Plain; charset=utf-8' });
        expect(plain.mediaType).toBe('text/plain; charset=utf-8');
        expect((await store.stat(plain.uri))?.mediaType).toBe('text/plain; charset=utf-8');
      });

      it('streams a large file in and out without changing a byte', async () => {
        // Larger than the S3 adapter's smallest multipart part (5 MiB), in uneven chunks.
        const bytes = new Uint8Array(randomBytes(6 * 1024 * 1024 + 123));
        const file = join(scratch, 'large.bin');
        writeFileSync(file, bytes);
        const artifact = await store.putFile(file, { mediaType: 'application/gguf' });
        expect(artifact).toEqual({
          uri: uriOf(bytes),
          sha256: sha256Of(bytes),
          sizeBytes: bytes.byteLength,
          mediaType: 'application/gguf',
        });
        const read = await drain(await store.open(artifact.uri));
        expect('bytes' in read && sha256Of(read.bytes)).toBe(sha256Of(bytes));
        expect(await store.stat(artifact.uri)).toEqual(artifact);
      });

      it('stores concurrent puts of the same bytes once, and every one gets the artifact', async () => {
        const fresh = await harness.fresh();
        const bytes = new Uint8Array(randomBytes(200_000));
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            i % 2 === 0 ? fresh.put(bytes) : fresh.put(Readable.from(pieces(bytes))),
          ),
        );
        for (const artifact of results) expect(artifact.uri).toBe(uriOf(bytes));
        expect(sha256Of(await fresh.get(uriOf(bytes)))).toBe(sha256Of(bytes));
        expect((await collect(fresh.list())).map((a) => a.uri)).toEqual([uriOf(bytes)]);
      });
    });

    describe('looking up, deleting and listing', () => {
      it('reports unknown artifacts: stat undefined, exists false, get and open not-found', async () => {
        const unknown = uriOf(text(`never stored ${Date.now()} ${Math.random()}`));
        expect(await store.stat(unknown)).toBeUndefined();
        expect(await store.exists(unknown)).toBe(false);
        expect(await kindOf(store.get(unknown))).toBe('not-found');
        expect(await kindOf(store.open(unknown))).toBe('not-found');
      });

      it('deletes an artifact and says whether it was there; it can be stored again', async () => {
        const bytes = text(`to delete ${Date.now()}`);
        const artifact = await store.put(bytes);
        expect(await store.exists(artifact.uri)).toBe(true);
        expect(await store.delete(artifact.uri)).toBe(true);
        expect(await store.delete(artifact.uri)).toBe(false);
        expect(await store.exists(artifact.uri)).toBe(false);
        expect(await kindOf(store.get(artifact.uri))).toBe('not-found');
        expect(await store.put(bytes)).toEqual(artifact);
        expect(Buffer.from(await store.get(artifact.uri)).toString()).toBe(Buffer.from(bytes).toString());
      });

      it('lists every artifact once, in sha256 order, with sizes, and filters by sha256 prefix', async () => {
        const fresh = await harness.fresh();
        expect(await collect(fresh.list())).toEqual([]);
        const contents = Array.from({ length: 12 }, (_, i) => text(`artifact number ${i}`.repeat(i + 1)));
        const stored = await Promise.all(contents.map((bytes) => fresh.put(bytes)));
        const expected: ArtifactSummary[] = stored
          .map(({ uri, sha256, sizeBytes }) => ({ uri, sha256, sizeBytes }))
          .sort((a, b) => a.sha256.localeCompare(b.sha256));
        expect(await collect(fresh.list())).toEqual(expected);

        const first = expected[0]!;
        const byOneDigit = expected.filter((a) => a.sha256.startsWith(first.sha256.slice(0, 1)));
        expect(await collect(fresh.list({ sha256Prefix: first.sha256.slice(0, 1) }))).toEqual(byOneDigit);
        expect(await collect(fresh.list({ sha256Prefix: first.sha256.slice(0, 5).toUpperCase() }))).toEqual([
          first,
        ]);
        expect(await collect(fresh.list({ sha256Prefix: first.sha256 }))).toEqual([first]);

        await fresh.delete(first.uri);
        expect(await collect(fresh.list())).toEqual(expected.slice(1));
      });

      it('keeps stores apart', async () => {
        const one = await harness.fresh();
        const two = await harness.fresh();
        const onlyInOne = await one.put(text('only in one'));
        expect(await two.exists(onlyInOne.uri)).toBe(false);
        expect(await collect(two.list())).toEqual([]);
        expect(await two.delete(onlyInOne.uri)).toBe(false);
        expect(await one.exists(onlyInOne.uri)).toBe(true);
      });
    });

    describe('integrity', () => {
      it('refuses a stored copy whose bytes no longer match its name: get and open fail with internal', async () => {
        const fresh = await harness.fresh();
        const bytes = new Uint8Array(randomBytes(100_000));
        const artifact = await fresh.put(bytes);
        const flipped = new Uint8Array(bytes);
        flipped[50_000] = flipped[50_000]! ^ 0x01;
        await harness.tamper(fresh, artifact.sha256, flipped);
        expect(await kindOf(fresh.get(artifact.uri))).toBe('internal');
        expect(await drain(await fresh.open(artifact.uri))).toEqual({ error: 'internal' });
      });

      it('repairs a truncated copy when the original bytes are stored again', async () => {
        const fresh = await harness.fresh();
        const bytes = new Uint8Array(randomBytes(50_000));
        const artifact = await fresh.put(bytes);
        await harness.tamper(fresh, artifact.sha256, bytes.subarray(0, 1000));
        expect(await kindOf(fresh.get(artifact.uri))).toBe('internal');
        expect(await fresh.put(bytes)).toEqual(artifact);
        expect(sha256Of(await fresh.get(artifact.uri))).toBe(artifact.sha256);
      });
    });

    describe('errors', () => {
      it('refuses what is not an artifact URI with invalid-argument', async () => {
        const bad = [
          'file:///tmp/x',
          'artifact://sha256/abc',
          `artifact://sha256/${'A'.repeat(64)}`,
          `artifact://md5/${'a'.repeat(64)}`,
          `s3://bucket/sha256/${'a'.repeat(64)}`,
          `artifact://sha256/${'a'.repeat(64)}/`,
          '',
          42 as unknown as string,
        ];
        for (const uri of bad) {
          expect([uri, await kindOf(store.get(uri))]).toEqual([uri, 'invalid-argument']);
          expect([uri, await kindOf(store.stat(uri))]).toEqual([uri, 'invalid-argument']);
          expect([uri, await kindOf(store.delete(uri))]).toEqual([uri, 'invalid-argument']);
        }
        expect(await kindOf(collect(store.list({ sha256Prefix: 'xyz' })))).toBe('invalid-argument');
      });

      it('refuses bad media types, content that is not bytes, and stores nothing for them', async () => {
        const fresh = await harness.fresh();
        for (const mediaType of ['json', 'text/plain\r\nX-Injected: 1', 'a/b/c', 'tëxt/plain', '']) {
          expect([mediaType, await kindOf(fresh.put(text('x'), { mediaType }))]).toEqual([
            mediaType,
            'invalid-argument',
          ]);
        }
        expect(await kindOf(fresh.put('a string' as unknown as Uint8Array))).toBe('invalid-argument');
        expect(await kindOf(fresh.put(Readable.from(['strings', 'not', 'bytes'])))).toBe('invalid-argument');
        expect(await collect(fresh.list())).toEqual([]);
      });

      it('reports a failing source stream as failed-precondition and stores nothing', async () => {
        const fresh = await harness.fresh();
        const failing = (async function* () {
          yield text('the first part arrives');
          throw new Error('the upstream connection broke');
        })();
        const err = await fresh.put(failing).catch((e: unknown) => e);
        expect(isDomainError(err, 'failed-precondition')).toBe(true);
        expect((err as Error).message).toContain('the upstream connection broke');
        expect(await collect(fresh.list())).toEqual([]);
      });

      it('reports a missing file as not-found and a folder as invalid-argument', async () => {
        expect(await kindOf(store.putFile(join(scratch, 'no-such-file')))).toBe('not-found');
        const folder = join(scratch, 'a-folder');
        await mkdir(folder, { recursive: true });
        expect(await kindOf(store.putFile(folder))).toBe('invalid-argument');
      });

      it('gives cancelled for an aborted signal, and stores nothing', async () => {
        const fresh = await harness.fresh();
        const controller = new AbortController();
        controller.abort();
        const { signal } = controller;
        const stored = await store.put(text('stored before the abort'));
        expect(await kindOf(fresh.put(text('x'), { signal }))).toBe('cancelled');
        expect(await kindOf(fresh.put(Readable.from([text('x')]), { signal }))).toBe('cancelled');
        expect(await kindOf(store.get(stored.uri, signal))).toBe('cancelled');
        expect(await kindOf(store.stat(stored.uri, signal))).toBe('cancelled');
        expect(await kindOf(store.ping(signal))).toBe('cancelled');
        expect(await kindOf(collect(store.list({ signal })))).toBe('cancelled');
        expect(await collect(fresh.list())).toEqual([]);
      });

      it('cancels a stream that is still arriving, and stores nothing', async () => {
        const fresh = await harness.fresh();
        const controller = new AbortController();
        const endless = (async function* () {
          for (let i = 0; ; i++) {
            if (i === 3) controller.abort();
            yield new Uint8Array(64 * 1024).fill(i & 0xff);
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        expect(await kindOf(fresh.put(endless, { signal: controller.signal }))).toBe('cancelled');
        expect(await collect(fresh.list())).toEqual([]);
      });

      it('ends a reading stream with cancelled when its signal aborts', async () => {
        const bytes = new Uint8Array(randomBytes(2 * 1024 * 1024));
        const artifact = await store.put(bytes);
        const controller = new AbortController();
        const stream = await store.open(artifact.uri, controller.signal);
        let error = 'no error';
        try {
          for await (const _chunk of stream) controller.abort();
        } catch (err) {
          error = isDomainError(err) ? err.kind : String(err);
        }
        expect(error).toBe('cancelled');
      });

      it('fails with unavailable once closed; close is idempotent', async () => {
        const fresh = await harness.fresh();
        const artifact = await fresh.put(text('before closing'));
        await fresh.close();
        await fresh.close();
        expect(await kindOf(fresh.ping())).toBe('unavailable');
        expect(await kindOf(fresh.put(text('after closing')))).toBe('unavailable');
        expect(await kindOf(fresh.get(artifact.uri))).toBe('unavailable');
        expect(await kindOf(fresh.stat(artifact.uri))).toBe('unavailable');
        expect(await kindOf(fresh.delete(artifact.uri))).toBe('unavailable');
        expect(await kindOf(collect(fresh.list()))).toBe('unavailable');
      });
    });
  });
}
