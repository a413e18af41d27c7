import { afterAll, describe, expect, jest, test } from '@jest/globals';
import weaviate, { type WeaviateClient } from 'weaviate-client';

import type { WeaviateHandle } from './backend.js';
import { testBackendUrl, weaviateEndpoint } from './test-env.js';
import { startWeaviate } from './weaviate.js';

// Private servers start and restart inside tests; jest ignores testTimeout set per project.
jest.setTimeout(120_000);

function connect(url: string): Promise<WeaviateClient> {
  const { host, port, grpcPort } = weaviateEndpoint(url);
  return weaviate.connectToLocal({ host, port, grpcPort });
}

// A type alias, not an interface: weaviate-client's Properties constraint needs an implicit index signature.
type Chunk = {
  text: string;
  author: string;
};

async function createChunks(client: WeaviateClient, name: string) {
  return client.collections.create<Chunk>({
    name,
    properties: [
      { name: 'text', dataType: 'text' },
      { name: 'author', dataType: 'text' },
    ],
    vectorizers: weaviate.configure.vectors.selfProvided(),
  });
}

describe('weaviate started by the harness', () => {
  test('stores objects with our own vectors and finds the nearest with a filter, over gRPC', async () => {
    const client = await connect(testBackendUrl('weaviate'));
    try {
      expect(await client.isReady()).toBe(true);
      const name = `InfraTest${Date.now()}`;
      const chunks = await createChunks(client, name);
      await chunks.data.insert({ properties: { text: 'about kafka', author: 'ana' }, vectors: [1, 0, 0] });
      await chunks.data.insert({ properties: { text: 'about vectors', author: 'ana' }, vectors: [0, 1, 0] });
      await chunks.data.insert({
        properties: { text: 'about cooking', author: 'bob' },
        vectors: [0.1, 0.9, 0],
      });
      // Batch import also goes over gRPC.
      const batch = await chunks.data.insertMany([
        { properties: { text: 'about mongo', author: 'ana' }, vectors: [0, 0, 1] },
      ]);
      expect(batch.hasErrors).toBe(false);

      const nearest = await chunks.query.nearVector([0.05, 1, 0], {
        limit: 2,
        filters: chunks.filter.byProperty('author').equal('ana'),
        returnMetadata: ['distance'],
      });
      expect(nearest.objects.map((o) => o.properties.text)).toEqual(['about vectors', 'about kafka']);
      expect(nearest.objects[0]?.metadata?.distance).toBeLessThan(0.01);
      await client.collections.delete(name);
    } finally {
      await client.close();
    }
  });

  describe('a private server', () => {
    let server: WeaviateHandle | undefined;
    afterAll(async () => {
      await server?.dispose();
    });

    test('stopped, it is not ready; restarted on the same ports, its collection and objects are back', async () => {
      server = await startWeaviate();
      expect(server.url).toBe(`http://127.0.0.1:${server.httpPort}?grpc=${server.grpcPort}`);
      let client = await connect(server.url);
      const chunks = await createChunks(client, 'Kept');
      await chunks.data.insert({ properties: { text: 'kept', author: 'ana' }, vectors: [1, 0] });
      await client.close();

      await server.stop();
      await expect(fetch(`http://127.0.0.1:${server.httpPort}/v1/.well-known/ready`)).rejects.toThrow();

      await server.restart();
      client = await connect(server.url);
      try {
        const found = await client.collections.get<Chunk>('Kept').query.nearVector([1, 0], { limit: 1 });
        expect(found.objects.map((o) => o.properties.text)).toEqual(['kept']);
      } finally {
        await client.close();
      }
    });
  });
});
