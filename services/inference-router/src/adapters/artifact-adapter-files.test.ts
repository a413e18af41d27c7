// Adapter files for the in-process model, from a real embedded artifact store into a cache folder: fetched
// once (also for concurrent first requests), checked against the sha256 the registry recorded, reused from
// the cache, and refused with a message that says what to fix when the version lacks its GGUF artifact,
// the artifact is not stored, or its bytes are not what the registry recorded. GPU servers get the name only.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ArtifactStore } from '@llmtwin/ports';
import { createArtifactStore } from '@llmtwin/ports/adapters';
import { DomainError } from '@llmtwin/runtime/errors';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuthorModel } from '../domain/author-models.js';
import { ArtifactAdapterFiles } from './artifact-adapter-files.js';

let dir: string;
let store: ArtifactStore;
let stored: { uri: string; sha256: string; sizeBytes: number };
const bytes = new TextEncoder().encode('GGUF pretend adapter bytes');

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-adapter-files-'));
  store = await createArtifactStore(`file:${path.join(dir, 'store')}`);
  const a = await store.put(bytes);
  stored = { uri: a.uri, sha256: a.sha256, sizeBytes: a.sizeBytes };
});

afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const model = (gguf?: AuthorModel['gguf']): AuthorModel => ({
  authorId: 'jane',
  modelVersionId: 'mv_jane_1',
  label: 'jane-twin/1',
  servingName: 'jane-twin-v1',
  baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
  ...(gguf ? { gguf } : {}),
});

const kindOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err instanceof DomainError ? `${err.kind}: ${err.message}` : String(err);
  }
  return 'no error';
};

describe('ArtifactAdapterFiles', () => {
  it('fetches the GGUF file once into the cache, named by its sha256, and reuses it', async () => {
    const cacheDir = path.join(dir, 'cache-1');
    const files = new ArtifactAdapterFiles({ artifacts: store, cacheDir });
    const [a, b] = await Promise.all([
      files.prepare(model(stored), 'local'),
      files.prepare(model(stored), 'local'),
    ]);
    expect(a).toEqual({
      id: 'mv_jane_1',
      name: 'jane-twin-v1',
      path: path.join(cacheDir, `${stored.sha256}.gguf`),
    });
    expect(b).toEqual(a);
    expect(await readFile(a.path!)).toEqual(Buffer.from(bytes));
    expect(await readdir(cacheDir)).toEqual([`${stored.sha256}.gguf`]);
    // Cached: a router without the store (or with the artifact gone) still finds it.
    const offline = new ArtifactAdapterFiles({ cacheDir });
    expect((await offline.prepare(model(stored), 'local')).path).toBe(a.path);
  });

  it('gives GPU servers the adapter name and fetches nothing', async () => {
    const files = new ArtifactAdapterFiles({ cacheDir: path.join(dir, 'cache-2') });
    expect(await files.prepare(model(), 'openai')).toEqual({ id: 'mv_jane_1', name: 'jane-twin-v1' });
    expect(await files.prepare(model(), 'tgi')).toEqual({ id: 'mv_jane_1', name: 'jane-twin-v1' });
  });

  it('says what to fix when the file cannot be had', async () => {
    const cacheDir = path.join(dir, 'cache-3');
    const files = new ArtifactAdapterFiles({ artifacts: store, cacheDir });
    expect(await kindOf(files.prepare(model(), 'local'))).toMatch(
      /^failed-precondition: .*jane-twin\/1.*no "adapter.gguf" artifact/,
    );
    const missing = 'ef'.repeat(32);
    expect(
      await kindOf(
        files.prepare(model({ uri: `artifact://sha256/${missing}`, sha256: missing, sizeBytes: 5 }), 'local'),
      ),
    ).toMatch(/^failed-precondition: .*not in the artifact store/);
    // The registry recorded other bytes than the store holds under that URI.
    const other = '01'.repeat(32);
    expect(
      await kindOf(
        files.prepare(model({ uri: stored.uri, sha256: other, sizeBytes: stored.sizeBytes }), 'local'),
      ),
    ).toMatch(
      new RegExp(`^failed-precondition: .*has sha256 ${stored.sha256}, the registry recorded ${other}`),
    );
    expect(await readdir(cacheDir)).toEqual([]);
    const noStore = new ArtifactAdapterFiles({ cacheDir: path.join(dir, 'cache-4') });
    expect(await kindOf(noStore.prepare(model(stored), 'local'))).toMatch(/LLMTWIN_ARTIFACT_STORE_URL/);
  });
});
