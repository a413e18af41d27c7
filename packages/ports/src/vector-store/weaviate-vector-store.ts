// The Weaviate adapter: one Weaviate collection (class) per vector collection, named `Chunks_<name>`, with no
// vectorizer (the embed service sends its own vectors), explicit properties for the chunk metadata and BM25 on
// `text`. Object ids are UUIDv5 of the chunk id, so re-upserting a chunk replaces it. Aliases are Weaviate
// collection aliases (1.32+), resolved by the server on every request, which makes a swap atomic for readers.
import { v5 as uuidv5, validate as validateUuid } from 'uuid';
import weaviate, { Filters, type Collection, type FilterValue, type WeaviateClient } from 'weaviate-client';
import {
  DomainError,
  failedPrecondition,
  invalidArgument,
  isDomainError,
  notFound,
  unavailable,
} from '../errors.js';
import type {
  ChunkMetadata,
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

export interface WeaviateVectorStoreOptions {
  /** API key; overrides `?apiKey=` in the URL. */
  apiKey?: string;
  /** Timeout of one query or write request, ms (default 30000). */
  requestTimeoutMs?: number;
  /** How long ping() waits for the readiness probe, ms (default 2000). */
  pingTimeoutMs?: number;
}

export interface WeaviateEndpoint {
  httpHost: string;
  httpPort: number;
  httpSecure: boolean;
  httpPath?: string;
  grpcHost: string;
  grpcPort: number;
  grpcSecure: boolean;
  apiKey?: string;
}

const CLASS_PREFIX = 'Chunks_';
const DESCRIPTION_PREFIX = 'llmtwin vector collection; dimensions=';
const INSERT_BATCH = 200;
/** The namespace of our chunk-id UUIDs (fixed forever: changing it would orphan every stored object). */
const CHUNK_ID_NAMESPACE = '2b0c7c44-4f6e-4d55-9b0e-6a1f3f2f7a10';

/** `http(s)://host[:port][/path]?grpc=50051[&grpcHost=h][&apiKey=k]` to connection settings. */
export function parseWeaviateUrl(url: string, options: { apiKey?: string } = {}): WeaviateEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw invalidArgument(`not a valid Weaviate URL: ${url}`, [{ field: 'url', message: String(err) }]);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidArgument(`a Weaviate URL must be http: or https:, got ${parsed.protocol}`, [
      { field: 'url', message: 'must be http(s)' },
    ]);
  }
  const secure = parsed.protocol === 'https:';
  const httpPort = parsed.port === '' ? (secure ? 443 : 80) : Number(parsed.port);
  const grpcParam = parsed.searchParams.get('grpc') ?? '50051';
  const grpcPort = Number(grpcParam);
  if (!Number.isInteger(grpcPort) || grpcPort < 1 || grpcPort > 65535) {
    throw invalidArgument(`the grpc port in the Weaviate URL is not a port: ${grpcParam}`, [
      { field: 'url', message: 'grpc must be a port number' },
    ]);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const endpoint: WeaviateEndpoint = {
    httpHost: host,
    httpPort,
    httpSecure: secure,
    grpcHost: parsed.searchParams.get('grpcHost') ?? host,
    grpcPort,
    grpcSecure: secure,
  };
  const path = parsed.pathname.replace(/\/+$/, '');
  if (path !== '') endpoint.httpPath = path;
  const apiKey = options.apiKey ?? parsed.searchParams.get('apiKey') ?? undefined;
  if (apiKey !== undefined && apiKey !== '') endpoint.apiKey = apiKey;
  return endpoint;
}

/** RFC 9562 (formerly 4122) version-5 UUID: SHA-1 of the namespace and the name, from the `uuid` package. */
export function uuidV5(name: string, namespace: string = CHUNK_ID_NAMESPACE): string {
  if (!validateUuid(namespace)) throw invalidArgument(`not a UUID namespace: ${namespace}`);
  return uuidv5(name, namespace);
}

export const toClassName = (name: string): string => CLASS_PREFIX + name;
export const fromClassName = (className: string): string | undefined =>
  className.startsWith(CLASS_PREFIX) ? className.slice(CLASS_PREFIX.length) : undefined;

type ChunkProperties = {
  chunkId: string;
  text: string;
  documentId: string;
  documentVersion: number;
  authorId: string;
  category: string;
  platform: string;
  url: string;
  title: string;
  publishedAt: number;
  section: string;
  position: number;
};

type ChunkCollection = Collection<ChunkProperties, string>;

function parseDimensions(description: string | undefined): number | undefined {
  if (description === undefined || !description.startsWith(DESCRIPTION_PREFIX)) return undefined;
  const n = Number(description.slice(DESCRIPTION_PREFIX.length));
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The error text including its causes: fetch hides ECONNREFUSED in `cause`. */
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    const e = current as { message?: unknown; code?: unknown; cause?: unknown };
    parts.push(String(e.message ?? current), String(e.code ?? ''));
    current = e.cause;
  }
  return parts.join(' ');
}

const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|fetch failed|socket hang up|UNAVAILABLE|No connection established|DEADLINE_EXCEEDED|timed out|other side closed/i;

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function translate(err: unknown, what: string): DomainError {
  if (isDomainError(err)) return err;
  const name = (err as { name?: unknown } | null)?.name;
  const text = describe(err);
  const status = statusOf(err);
  if (name === 'WeaviateUnauthenticatedError' || status === 401) {
    return new DomainError(
      'unauthenticated',
      `Weaviate refused the credentials (${what}); check the API key`,
      {
        cause: err,
      },
    );
  }
  if (name === 'WeaviateInsufficientPermissionsError' || status === 403) {
    return new DomainError('permission-denied', `the Weaviate API key may not ${what}`, { cause: err });
  }
  if (/could not find class|class .* (does not exist|not found)/i.test(text) || status === 404) {
    return new DomainError(
      'not-found',
      `Weaviate has no such collection (${what}); call ensureCollection first`,
      {
        cause: err,
      },
    );
  }
  if (/dimensions do not match|vector lengths don't match|dimension mismatch/i.test(text)) {
    return new DomainError(
      'invalid-argument',
      `the vector does not fit the collection's dimensions (${what})`,
      {
        cause: err,
      },
    );
  }
  if (status === 429) {
    return new DomainError('resource-exhausted', `Weaviate is rate-limiting (${what}); retry later`, {
      cause: err,
    });
  }
  if (
    name === 'WeaviateRequestTimeoutError' ||
    UNREACHABLE.test(text) ||
    status === 502 ||
    status === 503 ||
    status === 504
  ) {
    return unavailable(`Weaviate is unreachable or not ready (${what}); retry when it is back`, err);
  }
  if (status === 422) {
    return new DomainError(
      'invalid-argument',
      `Weaviate rejected the request (${what}): ${text.slice(0, 300)}`,
      {
        cause: err,
      },
    );
  }
  return new DomainError('internal', `Weaviate failed to ${what}`, { cause: err });
}

function toProperties(record: VectorRecord): ChunkProperties {
  const m = record.metadata;
  return {
    chunkId: record.id,
    text: record.text,
    documentId: m.documentId,
    documentVersion: m.documentVersion,
    authorId: m.authorId,
    category: m.category,
    platform: m.platform,
    url: m.url,
    title: m.title,
    publishedAt: m.publishedAt,
    section: m.section,
    position: m.position,
  };
}

function toMetadata(p: Partial<ChunkProperties>): ChunkMetadata {
  return {
    documentId: p.documentId ?? '',
    documentVersion: Number(p.documentVersion ?? 0),
    authorId: p.authorId ?? '',
    category: p.category ?? '',
    platform: p.platform ?? '',
    url: p.url ?? '',
    title: p.title ?? '',
    publishedAt: Number(p.publishedAt ?? 0),
    section: p.section ?? '',
    position: Number(p.position ?? 0),
  };
}

function buildFilter(collection: ChunkCollection, filter: VectorFilter): FilterValue | undefined {
  const f = collection.filter;
  const parts: FilterValue[] = [];
  if (filter.authorId !== undefined) parts.push(f.byProperty('authorId').equal(filter.authorId));
  if (filter.documentIds !== undefined)
    parts.push(f.byProperty('documentId').containsAny([...filter.documentIds]));
  if (filter.categories !== undefined)
    parts.push(f.byProperty('category').containsAny([...filter.categories]));
  if (filter.platforms !== undefined) parts.push(f.byProperty('platform').containsAny([...filter.platforms]));
  if (filter.publishedAfter !== undefined) {
    parts.push(f.byProperty('publishedAt').greaterOrEqual(Math.ceil(filter.publishedAfter)));
  }
  if (filter.publishedBefore !== undefined) {
    parts.push(f.byProperty('publishedAt').lessOrEqual(Math.floor(filter.publishedBefore)));
  }
  if (filter.documentVersionBelow !== undefined) {
    parts.push(f.byProperty('documentVersion').lessThan(Math.ceil(filter.documentVersionBelow)));
  }
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : Filters.and(...parts);
}

/** Settles with the promise, or rejects with 'cancelled' as soon as the caller aborts. */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(
        new DomainError('cancelled', 'the vector-store call was cancelled by its caller', {
          cause: signal.reason,
        }),
      );
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
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
  private clientPromise: Promise<WeaviateClient> | undefined;
  private closed = false;
  private readonly requestTimeoutS: number;
  private readonly pingTimeoutMs: number;

  constructor(
    private readonly endpoint: WeaviateEndpoint,
    options: WeaviateVectorStoreOptions = {},
  ) {
    this.requestTimeoutS = Math.max(1, Math.ceil((options.requestTimeoutMs ?? 30_000) / 1000));
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
  }

  async ensureCollection(name: string, options: { dimensions: number }): Promise<void> {
    assertCollectionName(name);
    assertDimensions(options.dimensions);
    const className = toClassName(name);
    await this.call('create a collection', async (client) => {
      const existing = await this.describeClass(client, className);
      if (existing !== undefined) return this.checkExisting(name, existing, options.dimensions);
      try {
        await client.collections.create<ChunkProperties>({
          name: className,
          description: DESCRIPTION_PREFIX + String(options.dimensions),
          vectorizers: weaviate.configure.vectors.selfProvided({
            vectorIndexConfig: weaviate.configure.vectorIndex.hnsw({ distanceMetric: 'cosine' }),
          }),
          properties: [
            {
              name: 'text',
              dataType: 'text',
              tokenization: 'word',
              indexSearchable: true,
              indexFilterable: false,
            },
            { name: 'chunkId', dataType: 'text', tokenization: 'field', indexSearchable: false },
            { name: 'documentId', dataType: 'text', tokenization: 'field', indexSearchable: false },
            { name: 'documentVersion', dataType: 'int', indexRangeFilters: true },
            { name: 'authorId', dataType: 'text', tokenization: 'field', indexSearchable: false },
            { name: 'category', dataType: 'text', tokenization: 'field', indexSearchable: false },
            { name: 'platform', dataType: 'text', tokenization: 'field', indexSearchable: false },
            {
              name: 'url',
              dataType: 'text',
              tokenization: 'field',
              indexSearchable: false,
              indexFilterable: false,
            },
            {
              name: 'title',
              dataType: 'text',
              tokenization: 'word',
              indexSearchable: false,
              indexFilterable: false,
            },
            { name: 'publishedAt', dataType: 'int', indexRangeFilters: true },
            {
              name: 'section',
              dataType: 'text',
              tokenization: 'field',
              indexSearchable: false,
              indexFilterable: false,
            },
            { name: 'position', dataType: 'int', indexFilterable: false },
          ],
        });
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
    await this.call('drop a collection', async (client) => {
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
    return this.call('list collections', async (client) => {
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
    await this.call('set an alias', async (client) => {
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
    return this.call('resolve an alias', async (client) => {
      const target = await this.aliasTargetClass(client, toClassName(alias));
      return target === undefined ? undefined : (fromClassName(target) ?? target);
    });
  }

  async upsert(collection: string, records: readonly VectorRecord[], signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    assertCollectionName(collection);
    await this.call(
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
    return this.call(
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
    return this.call(
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
    return this.call(
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
    return this.call(
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
    return this.call(
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
    if (this.closed) throw failedPrecondition('the Weaviate vector store is closed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.pingTimeoutMs);
    });
    try {
      const ready = await withSignal(
        Promise.race([this.client().then((client) => client.isReady()), timeout]),
        signal,
      );
      if (ready !== true) {
        throw unavailable(
          ready === 'timeout'
            ? `Weaviate at ${this.describeEndpoint()} did not answer its readiness probe within ${this.pingTimeoutMs} ms`
            : `Weaviate at ${this.describeEndpoint()} is unreachable or not ready`,
        );
      }
    } catch (err) {
      const domainError = translate(err, 'ping');
      if (domainError.kind === 'unavailable') this.resetClient();
      throw domainError;
    } finally {
      clearTimeout(timer);
    }
  }

  async version(): Promise<string> {
    return this.call(
      'read the version',
      async (client) => `weaviate ${(await client.getWeaviateVersion()).show()}`,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = this.clientPromise;
    this.clientPromise = undefined;
    if (pending !== undefined)
      await pending.then(
        (client) => client.close(),
        () => undefined,
      );
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

  private client(): Promise<WeaviateClient> {
    if (this.closed) return Promise.reject(failedPrecondition('the Weaviate vector store is closed'));
    if (this.clientPromise === undefined) {
      const pending = this.connect();
      this.clientPromise = pending;
      pending.catch(() => {
        if (this.clientPromise === pending) this.clientPromise = undefined;
      });
    }
    return this.clientPromise;
  }

  private async connect(): Promise<WeaviateClient> {
    const e = this.endpoint;
    // skipInitChecks: the client's own start-up checks would fail the store for good if Weaviate were
    // down at that moment; here a failed connect is simply retried by the next call.
    const client = await weaviate.connectToCustom({
      httpHost: e.httpHost,
      httpPort: e.httpPort,
      httpSecure: e.httpSecure,
      ...(e.httpPath === undefined ? {} : { httpPath: e.httpPath }),
      grpcHost: e.grpcHost,
      grpcPort: e.grpcPort,
      grpcSecure: e.grpcSecure,
      ...(e.apiKey === undefined ? {} : { authCredentials: new weaviate.ApiKey(e.apiKey) }),
      timeout: { query: this.requestTimeoutS, insert: this.requestTimeoutS, init: this.requestTimeoutS },
      skipInitChecks: true,
    });
    // weaviate-client 3.12 starts un-awaited server-version lookups (AggregateManager's constructor in
    // collections/aggregate/index.js runs on every collections.use(); isReady() refreshes in a setTimeout)
    // that reject unhandled, and so crash the process, when the server is down and the version is not yet
    // cached. Caching it here, before the client is handed out, leaves them nothing to fetch.
    try {
      await client.getWeaviateVersion();
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  /**
   * Drops the client after a connectivity failure so the next call builds a fresh gRPC channel rather than
   * waiting out the old channel's reconnect backoff after the server comes back.
   */
  private resetClient(): void {
    const old = this.clientPromise;
    this.clientPromise = undefined;
    if (old === undefined) return;
    // Closed later, not now: calls still in flight on the old channel get to finish or fail by themselves.
    const timer = setTimeout(() => {
      old.then((c) => c.close()).catch(() => undefined);
    }, this.requestTimeoutS * 1000);
    timer.unref();
  }

  private describeEndpoint(): string {
    const e = this.endpoint;
    return `${e.httpSecure ? 'https' : 'http'}://${e.httpHost}:${e.httpPort} (gRPC ${e.grpcHost}:${e.grpcPort})`;
  }

  private async call<T>(
    what: string,
    fn: (client: WeaviateClient) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      const client = await this.client();
      return await withSignal(fn(client), signal);
    } catch (err) {
      const domainError = translate(err, what);
      if (domainError.kind === 'unavailable') this.resetClient();
      throw domainError;
    }
  }
}
