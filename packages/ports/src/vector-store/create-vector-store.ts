// Chooses the vector-store adapter from one explicit URL: `sqlite:<path>` for the embedded store,
// `http(s)://host:port?grpc=50051` for Weaviate. Anything else fails at start-up rather than falling back.
import { invalidArgument } from '../errors.js';
import { openEmbeddedVectorStore, parseSqliteUrl } from './embedded-vector-store.js';
import type { VectorStore } from './vector-store.port.js';
import { openWeaviateVectorStore, type WeaviateVectorStoreOptions } from './weaviate-vector-store.js';

export type CreateVectorStoreOptions = WeaviateVectorStoreOptions;

export async function createVectorStore(
  url: string | { path: string },
  options: CreateVectorStoreOptions = {},
): Promise<VectorStore> {
  if (typeof url === 'object' && url !== null) {
    return openEmbeddedVectorStore({ path: url.path });
  }
  if (typeof url !== 'string' || url.length === 0) {
    throw invalidArgument(
      'the vector-store URL is empty: use sqlite:<path> or http(s)://host:port?grpc=<port>',
      [{ field: 'url', message: 'required' }],
    );
  }
  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  switch (scheme) {
    case 'sqlite:':
      return openEmbeddedVectorStore({ path: parseSqliteUrl(url) });
    case 'http:':
    case 'https:':
      return openWeaviateVectorStore(url, options);
    default:
      throw invalidArgument(
        `unsupported vector-store URL ${JSON.stringify(redact(url))}: use sqlite:<path> (embedded) or ` +
          'http(s)://host:port?grpc=<port> (Weaviate)',
        [{ field: 'url', message: 'unknown scheme' }],
      );
  }
}

/** URLs may carry an API key; error messages must not. */
function redact(url: string): string {
  return url.replace(/(apiKey=)[^&]*/gi, '$1***');
}
