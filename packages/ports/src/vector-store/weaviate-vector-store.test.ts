// The Weaviate adapter's server-free parts: URL parsing, chunk-id UUIDs, class names, and how it fails
// when nothing listens. Behaviour against a real server is in weaviate-vector-store.int.test.ts.
import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { createVectorStore } from './create-vector-store.js';
import {
  fromClassName,
  parseWeaviateUrl,
  toClassName,
  uuidV5,
  WeaviateVectorStore,
} from './weaviate-vector-store.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('weaviate vector store (no server)', () => {
  it('parses http(s) URLs with the gRPC port and an optional API key', () => {
    expect(parseWeaviateUrl('http://weaviate.local:8080?grpc=50052')).toEqual({
      httpHost: 'weaviate.local',
      httpPort: 8080,
      httpSecure: false,
      grpcHost: 'weaviate.local',
      grpcPort: 50052,
      grpcSecure: false,
    });
    expect(parseWeaviateUrl('http://127.0.0.1:8080')).toMatchObject({ grpcPort: 50051 });
    expect(
      parseWeaviateUrl('https://db.example.com/weaviate/?apiKey=s3cret&grpcHost=grpc.example.com'),
    ).toEqual({
      httpHost: 'db.example.com',
      httpPort: 443,
      httpSecure: true,
      httpPath: '/weaviate',
      grpcHost: 'grpc.example.com',
      grpcPort: 50051,
      grpcSecure: true,
      apiKey: 's3cret',
    });
    expect(parseWeaviateUrl('http://h:1?apiKey=fromurl', { apiKey: 'fromoption' }).apiKey).toBe('fromoption');
    expect(() => parseWeaviateUrl('http://h:1?grpc=notaport')).toThrow(/grpc port/);
    expect(() => parseWeaviateUrl('ftp://h')).toThrow(/http: or https:/);
  });

  it('derives RFC 4122 version-5 UUIDs', () => {
    // The RFC's own example namespace (DNS) and a well-known result.
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
    // Chunk ids under the project's namespace: the ids of objects already stored in Weaviate, which must
    // never change (these are the values the hand-written derivation gave before the uuid package took over).
    expect(uuidV5('doc-1:v2:3')).toBe('94410cad-94f4-5e3a-8ede-f49ac61f702b');
    expect(uuidV5('doc_0123456789abcdef:1:0')).toBe('b78bc093-53ea-5892-a2db-96b0ebad6900');
    expect(uuidV5('ünïcode:1:2')).toBe('fc092bf7-9564-560e-a706-81dd5c60f5ef');
    expect(uuidV5('doc-1:v2:4')).not.toBe(uuidV5('doc-1:v2:3'));
    expect(() => uuidV5('x', 'not-a-uuid')).toThrow(/not a UUID namespace/);
  });

  it('maps collection names to Weaviate class names and back', () => {
    expect(toClassName('chunks_v2')).toBe('Chunks_chunks_v2');
    expect(fromClassName('Chunks_chunks_v2')).toBe('chunks_v2');
    expect(fromClassName('SomethingElse')).toBeUndefined();
  });

  it('is created without a server and says unavailable while none answers', async () => {
    const port = await closedPort();
    const store = await createVectorStore(`http://127.0.0.1:${port}?grpc=${port}`, { pingTimeoutMs: 3000 });
    try {
      expect(store).toBeInstanceOf(WeaviateVectorStore);
      expect(store.adapter).toBe('weaviate');
      await expect(store.ping()).rejects.toMatchObject({ name: 'DomainError', kind: 'unavailable' });
      await expect(store.search('anything', { mode: 'keyword', text: 'x', limit: 1 })).rejects.toMatchObject({
        kind: 'unavailable',
      });
      await expect(store.ensureCollection('anything', { dimensions: 3 })).rejects.toMatchObject({
        kind: 'unavailable',
      });
      // Input errors are reported before any network call.
      await expect(store.ensureCollection('Not-Valid', { dimensions: 3 })).rejects.toMatchObject({
        kind: 'invalid-argument',
      });
    } finally {
      await store.close();
    }
    await expect(store.ping()).rejects.toMatchObject({ kind: 'failed-precondition' });
  });

  it('keeps an API key out of error messages', async () => {
    await expect(createVectorStore('weaviate://h:1?apiKey=s3cret')).rejects.toMatchObject({
      kind: 'invalid-argument',
      message: expect.not.stringContaining('s3cret'),
    });
  });
});
