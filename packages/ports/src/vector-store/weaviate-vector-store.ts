// The Weaviate adapter: one Weaviate collection (class) per vector collection, named `Chunks_<name>`, with no
// vectorizer (the embed service sends its own vectors), explicit properties for the chunk metadata and BM25 on
// `text`. Object ids are UUIDv5 of the chunk id, so re-upserting a chunk replaces it. Aliases are Weaviate
// collection aliases (1.32+), resolved by the server on every request, which makes a swap atomic for readers.
// This file is the port's operations; the class schema and filter translation are in weaviate-schema.ts, the
// client's life cycle in weaviate-connection.ts, error translation in weaviate-errors.ts.
import type { FilterValue, WeaviateClient } from 'weaviate-client';
import { DomainError, failedPrecondition, notFound, unavailable } from '../errors.js';
import type {
  CollectionInfo,
  SearchHit,
  SearchQuery,
  VectorFilter,
  VectorRecord,
  VectorStore,
} from './vector-store.port.js';
import {
  assertCollectionName,
  assertDimensions,
  assertFilter,
  assertNonEmptyFilterForDelete,
  assertRecords,
  checkQuery,
  filterMatchesNothing,
  throwIfAborted,
} from './vector-store-input.js';
import {
  WeaviateConnection,
  parseWeaviateUrl,
  withSignal,
  type WeaviateEndpoint,
} from './weaviate-connection.js';
import { statusOf, translate } from './weaviate-errors.js';
import {
  type ChunkCollection,
  type ChunkProperties,
  buildFilter,
  chunkClassConfig,
  fromClassName,
  parseDimensions,
  toClassName,
  toMetadata,
  toProperties,
  uuidV5,
} from './weaviate-schema.js';

export { parseWeaviateUrl, type WeaviateEndpoint } from './weaviate-connection.js';
export { fromClassName, toClassName, uuidV5 } from './weaviate-schema.js';

const INSERT_BATCH = 200;

export interface WeaviateVectorStoreOptions {
  /** API key; overrides `?apiKey=` in the URL. */
  apiKey?: string;
  /** Timeout of one query or write request, ms (default 30000). */
  requestTimeoutMs?: number;
  /** How long ping() waits for the readiness probe, ms (default 2000). */
  pingTimeoutMs?: number;
}

export async function openWeaviateVectorStore(
  url: string,
  options: WeaviateVectorStoreOptions = {},
): Promise<WeaviateVectorStore> {
  const endpoint = parseWeaviateUrl(url, options.apiKey === undefined ? {} : { apiKey: options.apiKey });
  return new WeaviateVectorStore(endpoint, options);
}

export class WeaviateVectorStore implements VectorStore {
  readonly adapter = 'weaviate';
  private readonly connection: WeaviateConnection;
  private readonly pingTimeoutMs: number;

  constructor(endpoint: WeaviateEndpoint, options: WeaviateVectorStoreOptions = {}) {
    const requestTimeoutS = Math.max(1, Math.ceil((options.requestTimeoutMs ?? 30_000) / 1000));
    this.connection = new WeaviateConnection(endpoint, requestTimeoutS);
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
  }

  async ensureCollection(name: string, options: { dimensions: number }): Promise<void> {
    assertCollectionName(name);
    assertDimensions(options.dimensions);
    const className = toClassName(name);
    await this.connection.call('create a collection', async (client) => {
      const existing = await this.describeClass(client, className);
      if (existing !== undefined) return this.checkExisting(name, existing, options.dimensions);
      try {
        await client.collections.create<ChunkProperties>(chunkClassConfig(className, options.dimensions));
      } catch (err) {
        // A concurrent ensureCollection may have created it between our check and our create.
        const raced = await this.describeClass(client, className);
        if (raced === undefined) throw err;
        this.checkExisting(name, raced, options.dimensions);
      }
    });
  }

  async dropCollection(name: string): Promise<void> {
    assertCollectionName(name);
    const className = toClassName(name);
    await this.connection.call('drop a collection', async (client) => {
      const existing = await this.describeClass(client, className);
      if (existing === undefined) return;
      if (existing.name !== className) {
        throw failedPrecondition(`${name} is an alias; drop the collection it points at by its own name`);
      }
      // Weaviate keeps aliases of a deleted class; an alias must never point at nothing, so they go first.
      const aliases = (await client.alias.listAll({ collection: className })) ?? [];
      for (const alias of aliases) await client.alias.delete(alias.alias);
      await client.collections.delete(className);
    });
  }

  async listCollections(): Promise<CollectionInfo[]> {
    return this.connection.call('list collections', async (client) => {
      const configs = await client.collections.listAll();
      const ours = configs
        .map((config) => ({
          config,
          name: fromClassName(config.name),
          dimensions: parseDimensions(config.description),
        }))
        .filter(
          (c): c is { config: (typeof configs)[number]; name: string; dimensions: number } =>
            c.name !== undefined && c.dimensions !== undefined,
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const out: CollectionInfo[] = [];
      for (const c of ours) {
        const { totalCount } = await client.collections.use(c.config.name).aggregate.overAll();
        out.push({ name: c.name, dimensions: c.dimensions, count: totalCount });
      }
      return out;
    });
  }

  async setAlias(alias: string, collection: string): Promise<void> {
    assertCollectionName(alias, 'alias');
    assertCollectionName(collection);
    const aliasClass = toClassName(alias);
    const targetClass = toClassName(collection);
    await this.connection.call('set an alias', async (client) => {
      const target = await this.describeClass(client, targetClass);
      if (target === undefined || target.name !== targetClass) {
        throw notFound(
          `collection ${collection} does not exist; create it before pointing alias ${alias} at it`,
        );
      }
      const current = await this.aliasTargetClass(client, aliasClass);
      if (current === targetClass) return;
      if (current !== undefined) {
        await client.alias.update({ alias: aliasClass, newTargetCollection: targetClass });
        return;
      }
      if ((await this.describeClass(client, aliasClass)) !== undefined) {
        throw failedPrecondition(
          `${alias} is a collection; an alias cannot have the same name as a collection`,
        );
      }
      try {
        await client.alias.create({ alias: aliasClass, collection: targetClass });
      } catch (err) {
        // Created concurrently by someone else: point it where we were asked to.
        if ((await this.aliasTargetClass(client, aliasClass)) === undefined) throw err;
        await client.alias.update({ alias: aliasClass, newTargetCollection: targetClass });
      }
    });
  }

  async resolveAlias(alias: string): Promise<string | undefined> {
    assertCollectionName(alias, 'alias');
    return this.connection.call('resolve an alias', async (client) => {
      const target = await this.aliasTargetClass(client, toClassName(alias));
      return target === undefined ? undefined : (fromClassName(target) ?? target);
    });
  }

  async upsert(collection: string, records: readonly VectorRecord[], signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    assertCollectionName(collection);
    await this.connection.call(
      'upsert records',
      async (client) => {
        // Look the collection up on every write: inserting into a missing class would make Weaviate's
        // auto-schema invent one with guessed properties.
        const existing = await this.describeClass(client, toClassName(collection));
        if (existing === undefined) {
          throw notFound(`collection ${collection} does not exist; call ensureCollection first`);
        }
        const dimensions = parseDimensions(existing.description);
        if (dimensions === undefined) {
          throw failedPrecondition(`Weaviate class ${existing.name} was not created by this adapter`);
        }
        assertRecords(records, dimensions);
        const target = client.collections.use<string, ChunkProperties>(existing.name);
        for (let i = 0; i < records.length; i += INSERT_BATCH) {
          throwIfAborted(signal);
          const batch = records.slice(i, i + INSERT_BATCH);
          const result = await target.data.insertMany(
            batch.map((record) => ({
              id: uuidV5(record.id),
              properties: toProperties(record),
              vectors: Array.from(record.vector),
            })),
          );
          if (result.hasErrors) {
            const first = Object.values(result.errors)[0];
            throw translate(new Error(first?.message ?? 'batch insert failed'), 'upsert records');
          }
        }
      },
      signal,
    );
  }

  async get(collection: string, ids: readonly string[], signal?: AbortSignal): Promise<VectorRecord[]> {
    throwIfAborted(signal);
    const target = this.collection(collection);
    const unique = [...new Set(ids)];
    return this.connection.call(
      'get records',
      async (client) => {
        if (unique.length === 0) {
          await this.assertExists(client, collection);
          return [];
        }
        const c = target(client);
        const result = await c.query.fetchObjects({
          filters: c.filter.byId().containsAny(unique.map((id) => uuidV5(id))),
          includeVector: true,
          limit: unique.length,
        });
        const byChunk = new Map(result.objects.map((o) => [o.properties.chunkId, o]));
        const out: VectorRecord[] = [];
        for (const id of unique) {
          const o = byChunk.get(id);
          if (o === undefined) continue;
          const vector = (o.vectors as Record<string, unknown>)['default'];
          out.push({
            id,
            vector: Array.isArray(vector) ? (vector as number[]) : [],
            text: o.properties.text ?? '',
            metadata: toMetadata(o.properties),
          });
        }
        return out;
      },
      signal,
    );
  }

  async deleteByIds(collection: string, ids: readonly string[], signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    const target = this.collection(collection);
    const unique = [...new Set(ids)];
    return this.connection.call(
      'delete records',
      async (client) => {
        if (unique.length === 0) {
          await this.assertExists(client, collection);
          return 0;
        }
        const c = target(client);
        return this.deleteAll(c, c.filter.byId().containsAny(unique.map((id) => uuidV5(id))), signal);
      },
      signal,
    );
  }

  async deleteWhere(collection: string, filter: VectorFilter, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    assertNonEmptyFilterForDelete(filter);
    const target = this.collection(collection);
    return this.connection.call(
      'delete records',
      async (client) => {
        if (filterMatchesNothing(filter)) {
          await this.assertExists(client, collection);
          return 0;
        }
        const c = target(client);
        return this.deleteAll(c, buildFilter(c, filter)!, signal);
      },
      signal,
    );
  }

  async count(collection: string, filter?: VectorFilter, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    const f = filter ?? {};
    assertFilter(f);
    const target = this.collection(collection);
    return this.connection.call(
      'count records',
      async (client) => {
        if (filterMatchesNothing(f)) {
          await this.assertExists(client, collection);
          return 0;
        }
        const c = target(client);
        const where = buildFilter(c, f);
        const { totalCount } = await c.aggregate.overAll(where === undefined ? {} : { filters: where });
        return totalCount;
      },
      signal,
    );
  }

  async search(collection: string, query: SearchQuery, signal?: AbortSignal): Promise<SearchHit[]> {
    throwIfAborted(signal);
    const target = this.collection(collection);
    // The server checks the vector's length against the index: looking the dimensions up here would cost a
    // round trip per search and could race an alias swap.
    const q = checkQuery(query, undefined);
    return this.connection.call(
      'search',
      async (client) => {
        if (filterMatchesNothing(q.filter)) {
          await this.assertExists(client, collection);
          return [];
        }
        const c = target(client);
        const filters = buildFilter(c, q.filter);
        const base = { limit: q.limit, ...(filters === undefined ? {} : { filters }) };
        const hasTerms = q.text !== undefined && /[\p{L}\p{N}]/u.test(q.text);
        if (q.mode === 'dense') {
          const result = await c.query.nearVector(Array.from(q.vector!), {
            ...base,
            returnMetadata: ['distance'],
          });
          return result.objects.map((o) => this.toHit(o.properties, 1 - (o.metadata?.distance ?? 1)));
        }
        if (q.mode === 'keyword') {
          if (!hasTerms) {
            await this.assertExists(client, collection);
            return [];
          }
          const result = await c.query.bm25(q.text!, {
            ...base,
            queryProperties: ['text'],
            returnMetadata: ['score'],
          });
          return result.objects.map((o) => this.toHit(o.properties, o.metadata?.score ?? 0));
        }
        const result = await c.query.hybrid(hasTerms ? q.text! : '', {
          ...base,
          vector: Array.from(q.vector!),
          alpha: hasTerms ? q.alpha : 1,
          fusionType: 'RelativeScore',
          queryProperties: ['text'],
          returnMetadata: ['score'],
        });
        return result.objects.map((o) => this.toHit(o.properties, o.metadata?.score ?? 0));
      },
      signal,
    );
  }

  async ping(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.connection.closed) throw failedPrecondition('the Weaviate vector store is closed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.pingTimeoutMs);
    });
    try {
      const ready = await withSignal(
        Promise.race([this.connection.client().then((client) => client.isReady()), timeout]),
        signal,
      );
      if (ready !== true) {
        throw unavailable(
          ready === 'timeout'
            ? `Weaviate at ${this.connection.describeEndpoint()} did not answer its readiness probe within ${this.pingTimeoutMs} ms`
            : `Weaviate at ${this.connection.describeEndpoint()} is unreachable or not ready`,
        );
      }
    } catch (err) {
      const domainError = translate(err, 'ping');
      if (domainError.kind === 'unavailable') this.connection.resetClient();
      throw domainError;
    } finally {
      clearTimeout(timer);
    }
  }

  async version(): Promise<string> {
    return this.connection.call(
      'read the version',
      async (client) => `weaviate ${(await client.getWeaviateVersion()).show()}`,
    );
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private toHit(p: Partial<ChunkProperties>, score: number): SearchHit {
    return { id: p.chunkId ?? '', score, text: p.text ?? '', metadata: toMetadata(p) };
  }

  /** deleteMany removes at most the server's page cap (QUERY_MAXIMUM_RESULTS) per call: repeat until dry. */
  private async deleteAll(
    c: ChunkCollection,
    where: FilterValue,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      throwIfAborted(signal);
      const result = await c.data.deleteMany(where);
      total += result.successful;
      if (result.failed > 0) {
        throw new DomainError(
          'internal',
          `Weaviate failed to delete ${result.failed} of ${result.matches} records`,
        );
      }
      if (result.matches === 0 || result.successful === 0) return total;
    }
  }

  /** A per-call accessor for a collection or alias, by our name; the server resolves aliases. */
  private collection(name: string): (client: WeaviateClient) => ChunkCollection {
    assertCollectionName(name);
    const className = toClassName(name);
    return (client) => client.collections.use<string, ChunkProperties>(className);
  }

  /** Shortcuts that answer without a query still report a missing collection, like the other calls. */
  private async assertExists(client: WeaviateClient, name: string): Promise<void> {
    if ((await this.describeClass(client, toClassName(name))) === undefined) {
      throw notFound(`collection ${name} does not exist; call ensureCollection first`);
    }
  }

  /** The class config for a class or alias name (Weaviate resolves aliases here), or undefined. */
  private async describeClass(
    client: WeaviateClient,
    className: string,
  ): Promise<{ name: string; description: string | undefined } | undefined> {
    try {
      const config = await client.collections.use(className).config.get();
      return { name: config.name, description: config.description };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async aliasTargetClass(client: WeaviateClient, aliasClass: string): Promise<string | undefined> {
    try {
      return (await client.alias.get(aliasClass)).collection;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private checkExisting(
    name: string,
    existing: { name: string; description: string | undefined },
    dimensions: number,
  ): void {
    if (existing.name !== toClassName(name)) {
      throw failedPrecondition(`${name} is an alias; a collection cannot have the same name as an alias`);
    }
    const current = parseDimensions(existing.description);
    if (current === undefined) {
      throw failedPrecondition(`Weaviate class ${existing.name} exists but was not created by this adapter`);
    }
    if (current !== dimensions) {
      throw failedPrecondition(
        `collection ${name} exists with ${current} dimensions, not ${dimensions}; ` +
          'write to a new collection and swap an alias to it',
      );
    }
  }
}
