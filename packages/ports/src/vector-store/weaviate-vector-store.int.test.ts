// The vector-store contract against a real Weaviate (the shared server the integration harness starts), and
// the adapter's behaviour across a restart of a private server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWeaviate, testBackendUrl, type WeaviateHandle } from '@llmtwin/testkit';
import { createVectorStore } from './create-vector-store.js';
import { describeVectorStoreContract } from './vector-store.contract.js';
import type { VectorStore } from './vector-store.port.js';
import { WeaviateVectorStore } from './weaviate-vector-store.js';

// testBackendUrl throws, naming LLMTWIN_TEST_WEAVIATE_URL and how to get it, when the harness did not run.
describeVectorStoreContract('weaviate', () => createVectorStore(testBackendUrl('weaviate')));

/** How a promise settled within `ms`, or 'pending' if it had not by then. */
async function settledWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<{ status: string; kind?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ status: string }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => ({ status: 'fulfilled' }),
        (err: unknown) => ({ status: 'rejected', kind: (err as { kind?: unknown }).kind }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('weaviate vector store across a server restart', () => {
  let server: WeaviateHandle | undefined;
  let store: VectorStore | undefined;

  beforeAll(async () => {
    server = await startWeaviate();
    store = await createVectorStore(server.url, { pingTimeoutMs: 1500 });
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    await server?.dispose();
  }, 60_000);

  it('ping fails with unavailable while the server is down, and the same store object works after restart', async () => {
    const s = store!;
    expect(s).toBeInstanceOf(WeaviateVectorStore);
    const metadata = {
      documentId: 'doc',
      documentVersion: 1,
      authorId: 'a',
      category: 'post',
      platform: 'web',
      url: 'https://x',
      title: 't',
      publishedAt: 0,
      section: '',
      position: 0,
    };
    await s.ensureCollection('restart', { dimensions: 4 });
    await s.upsert('restart', [{ id: 'r1', vector: [1, 0, 0, 0], text: 'survives a restart', metadata }]);
    await s.ping();

    await server!.stop();
    expect(await settledWithin(s.ping(), 5000)).toEqual({ status: 'rejected', kind: 'unavailable' });
    expect(
      await settledWithin(s.search('restart', { mode: 'dense', vector: [1, 0, 0, 0], limit: 1 }), 5000),
    ).toEqual({
      status: 'rejected',
      kind: 'unavailable',
    });

    await server!.restart();
    await s.ping();
    const dense = await s.search('restart', { mode: 'dense', vector: [1, 0, 0, 0], limit: 1 });
    expect(dense.map((h) => h.id)).toEqual(['r1']);
    const keyword = await s.search('restart', { mode: 'keyword', text: 'restart', limit: 1 });
    expect(keyword.map((h) => h.id)).toEqual(['r1']);
    await s.upsert('restart', [
      { id: 'r2', vector: [0, 1, 0, 0], text: 'written after the restart', metadata },
    ]);
    expect(await s.count('restart')).toBe(2);
  }, 180_000);
});
