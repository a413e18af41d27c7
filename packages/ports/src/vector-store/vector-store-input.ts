// Input rules shared by every vector-store adapter, so that both refuse the same things with the same errors.
import { DomainError, invalidArgument } from '../errors.js';
import type { ChunkMetadata, SearchQuery, VectorFilter, VectorRecord } from './vector-store.port.js';

/**
 * Collection and alias names: lowercase letters, digits and underscores, starting with a letter. Weaviate
 * capitalises the first letter of a class name and allows no hyphen, so this is the widest set that maps to
 * a Weaviate class name and back without loss.
 */
export const COLLECTION_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** The largest `limit` a search accepts (sqlite-vec caps k at 4096; Weaviate's default page cap is 10000). */
export const MAX_SEARCH_LIMIT = 1000;

export const DEFAULT_HYBRID_ALPHA = 0.5;

export function assertCollectionName(name: string, field = 'collection'): void {
  if (typeof name !== 'string' || !COLLECTION_NAME_PATTERN.test(name)) {
    throw invalidArgument(
      `${field} name ${JSON.stringify(name)} is invalid: use 1-63 lowercase letters, digits or underscores, starting with a letter`,
      [{ field, message: 'must match ' + COLLECTION_NAME_PATTERN.source }],
    );
  }
}

export function assertDimensions(dimensions: number): void {
  if (!Number.isSafeInteger(dimensions) || dimensions < 1 || dimensions > 65536) {
    throw invalidArgument(`dimensions must be an integer between 1 and 65536, got ${String(dimensions)}`, [
      { field: 'dimensions', message: 'must be an integer between 1 and 65536' },
    ]);
  }
}

/**
 * Checks length (unless `dimensions` is undefined: the backend checks it), finiteness and a non-zero norm:
 * a zero vector has no cosine distance to anything.
 */
export function assertVector(
  vector: readonly number[] | Float32Array,
  dimensions: number | undefined,
  field: string,
): void {
  if (vector === null || typeof vector !== 'object' || typeof vector.length !== 'number') {
    throw invalidArgument(`${field} must be an array of numbers`, [{ field, message: 'must be an array' }]);
  }
  if (dimensions !== undefined && vector.length !== dimensions) {
    throw invalidArgument(`${field} has ${vector.length} dimensions but the collection has ${dimensions}`, [
      { field, message: `must have ${dimensions} dimensions` },
    ]);
  }
  let norm = 0;
  for (let i = 0; i < vector.length; i += 1) {
    const x = vector[i]!;
    if (!Number.isFinite(x)) {
      throw invalidArgument(`${field} contains a non-finite number at index ${i}`, [
        { field, message: 'must contain finite numbers only' },
      ]);
    }
    norm += x * x;
  }
  if (norm === 0) {
    throw invalidArgument(`${field} is the zero vector, which has no cosine distance`, [
      { field, message: 'must not be the zero vector' },
    ]);
  }
}

const INTEGER_FIELDS = ['documentVersion', 'publishedAt', 'position'] as const;
const STRING_FIELDS = ['documentId', 'authorId', 'category', 'platform', 'url', 'title', 'section'] as const;

export function assertRecords(records: readonly VectorRecord[], dimensions: number): void {
  const seen = new Set<string>();
  records.forEach((record, i) => {
    const at = `records[${i}]`;
    if (typeof record.id !== 'string' || record.id.length === 0) {
      throw invalidArgument(`${at}.id must be a non-empty string`, [
        { field: `${at}.id`, message: 'required' },
      ]);
    }
    if (seen.has(record.id)) {
      throw invalidArgument(`${at}.id ${JSON.stringify(record.id)} appears twice in one upsert`, [
        { field: `${at}.id`, message: 'duplicate' },
      ]);
    }
    seen.add(record.id);
    assertVector(record.vector, dimensions, `${at}.vector`);
    if (typeof record.text !== 'string') {
      throw invalidArgument(`${at}.text must be a string`, [{ field: `${at}.text`, message: 'required' }]);
    }
    const metadata = record.metadata as ChunkMetadata | undefined;
    if (metadata === undefined || metadata === null) {
      throw invalidArgument(`${at}.metadata is required`, [{ field: `${at}.metadata`, message: 'required' }]);
    }
    for (const key of STRING_FIELDS) {
      if (typeof metadata[key] !== 'string') {
        throw invalidArgument(`${at}.metadata.${key} must be a string`, [
          { field: `${at}.metadata.${key}`, message: 'must be a string' },
        ]);
      }
    }
    for (const key of INTEGER_FIELDS) {
      if (!Number.isSafeInteger(metadata[key])) {
        throw invalidArgument(`${at}.metadata.${key} must be an integer`, [
          { field: `${at}.metadata.${key}`, message: 'must be an integer' },
        ]);
      }
    }
  });
}

export interface CheckedQuery {
  mode: SearchQuery['mode'];
  limit: number;
  vector?: readonly number[] | Float32Array;
  /** The raw text (Weaviate tokenises it server-side). */
  text?: string;
  alpha: number;
  filter: VectorFilter;
}

export function checkQuery(query: SearchQuery, dimensions: number | undefined): CheckedQuery {
  const { mode, limit } = query;
  if (mode !== 'dense' && mode !== 'keyword' && mode !== 'hybrid') {
    throw invalidArgument(`search mode must be dense, keyword or hybrid, got ${String(mode)}`, [
      { field: 'mode', message: 'unknown mode' },
    ]);
  }
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw invalidArgument(
      `limit must be an integer between 1 and ${MAX_SEARCH_LIMIT}, got ${String(limit)}`,
      [{ field: 'limit', message: `must be 1..${MAX_SEARCH_LIMIT}` }],
    );
  }
  const alpha = query.alpha ?? DEFAULT_HYBRID_ALPHA;
  if (!(alpha >= 0 && alpha <= 1)) {
    throw invalidArgument(`alpha must be between 0 and 1, got ${String(query.alpha)}`, [
      { field: 'alpha', message: 'must be 0..1' },
    ]);
  }
  const checked: CheckedQuery = { mode, limit, alpha, filter: query.filter ?? {} };
  if (mode === 'dense' || mode === 'hybrid') {
    if (query.vector === undefined) {
      throw invalidArgument(`a ${mode} search needs a query vector`, [
        { field: 'vector', message: 'required' },
      ]);
    }
    assertVector(query.vector, dimensions, 'vector');
    checked.vector = query.vector;
  }
  if (mode === 'keyword' || mode === 'hybrid') {
    if (typeof query.text !== 'string') {
      throw invalidArgument(`a ${mode} search needs query text`, [{ field: 'text', message: 'required' }]);
    }
    checked.text = query.text;
  }
  assertFilter(checked.filter);
  return checked;
}

export function assertFilter(filter: VectorFilter): void {
  const lists = ['documentIds', 'categories', 'platforms'] as const;
  for (const key of lists) {
    const value = filter[key];
    if (value !== undefined && (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))) {
      throw invalidArgument(`filter.${key} must be a list of strings`, [
        { field: `filter.${key}`, message: 'must be a list of strings' },
      ]);
    }
  }
  if (filter.authorId !== undefined && typeof filter.authorId !== 'string') {
    throw invalidArgument('filter.authorId must be a string', [
      { field: 'filter.authorId', message: 'must be a string' },
    ]);
  }
  for (const key of ['publishedAfter', 'publishedBefore', 'documentVersionBelow'] as const) {
    const value = filter[key];
    if (value !== undefined && !Number.isFinite(value)) {
      throw invalidArgument(`filter.${key} must be a finite number`, [
        { field: `filter.${key}`, message: 'must be a finite number' },
      ]);
    }
  }
}

/** True when the filter sets no condition at all (deleteWhere refuses it). */
export function isEmptyFilter(filter: VectorFilter): boolean {
  return (
    filter.authorId === undefined &&
    filter.documentIds === undefined &&
    filter.categories === undefined &&
    filter.platforms === undefined &&
    filter.publishedAfter === undefined &&
    filter.publishedBefore === undefined &&
    filter.documentVersionBelow === undefined
  );
}

/**
 * A list condition is "one of these values", so an empty list matches no record; an empty date range does
 * not match either. Adapters answer such filters without asking the backend.
 */
export function filterMatchesNothing(filter: VectorFilter): boolean {
  if (filter.documentIds?.length === 0 || filter.categories?.length === 0 || filter.platforms?.length === 0) {
    return true;
  }
  return (
    filter.publishedAfter !== undefined &&
    filter.publishedBefore !== undefined &&
    filter.publishedAfter > filter.publishedBefore
  );
}

export function assertNonEmptyFilterForDelete(filter: VectorFilter): void {
  assertFilter(filter);
  if (isEmptyFilter(filter)) {
    throw invalidArgument(
      'deleteWhere needs at least one filter condition; drop the collection to delete everything',
      [{ field: 'filter', message: 'must set at least one condition' }],
    );
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new DomainError('cancelled', 'the vector-store call was cancelled by its caller', {
      cause: signal.reason,
    });
  }
}
