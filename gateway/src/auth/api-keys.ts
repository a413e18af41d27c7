// API keys (warehouse collection `api_keys`). A key is `lt_` + 32 random bytes in base64url; only its SHA-256
// is stored (unique index), so a leaked warehouse dump holds no usable key. Lookups go through a small cache
// with a short TTL: a revocation made on this gateway takes effect at once, on other replicas within the TTL.
import type { Collection, Record as StoredRecord, Warehouse } from '@llmtwin/ports';
import { failedPrecondition, invalidArgument, isDomainError, notFound } from '@llmtwin/runtime';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEYS = 'api_keys';
export const KEY_PREFIX = 'lt_';
/** What a key looks like: the prefix, then base64url. Anything else is refused before any lookup. */
export const KEY_PATTERN = /^lt_[A-Za-z0-9_-]{32,200}$/;
/** Characters kept (and shown) to recognise a key: `lt_` plus seven of the secret. */
const SHOWN_PREFIX_LENGTH = 10;
export const DEFAULT_KEY_CACHE_TTL_MS = 5_000;
const MAX_CACHE_ENTRIES = 10_000;
const MAX_RATE_LIMIT = 1_000_000;
const MAX_NAME_LENGTH = 100;

/** A key as it may be shown: never the secret, never the hash. */
export interface ApiKeyInfo {
  _id: string;
  prefix: string;
  /** '' for admin keys. */
  authorId: string;
  admin: boolean;
  name: string;
  /** Requests per minute; 0 means the gateway's default. */
  rateLimitPerMinute: number;
  createdAt: number;
  revokedAt: number | null;
}

export interface ApiKeyRecord extends ApiKeyInfo, StoredRecord {
  _id: string;
  /** SHA-256 of the key, hex. */
  hash: string;
}

export interface NewApiKey {
  authorId?: string;
  admin?: boolean;
  name?: string;
  rateLimitPerMinute?: number;
}

export const hashKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export const generateKey = (): string => KEY_PREFIX + randomBytes(32).toString('base64url');

const newKeyId = (): string => 'key_' + randomBytes(8).toString('hex');

function info(record: ApiKeyRecord): ApiKeyInfo {
  return {
    _id: record._id,
    prefix: record.prefix,
    authorId: record.authorId,
    admin: record.admin,
    name: record.name,
    rateLimitPerMinute: record.rateLimitPerMinute,
    createdAt: record.createdAt,
    revokedAt: record.revokedAt,
  };
}

function validate(input: NewApiKey): Required<NewApiKey> {
  const authorId = (input.authorId ?? '').trim();
  const admin = input.admin ?? false;
  const name = (input.name ?? '').trim();
  const rate = input.rateLimitPerMinute ?? 0;
  if (admin && authorId) {
    throw invalidArgument('an admin key belongs to no author: give either author_id or admin', [
      { field: 'author_id', message: 'must be empty for an admin key' },
    ]);
  }
  if (!admin && !authorId) {
    throw invalidArgument('say whose key it is: give author_id (an author key) or admin', [
      { field: 'author_id', message: 'required unless admin' },
    ]);
  }
  if (!Number.isInteger(rate) || rate < 0 || rate > MAX_RATE_LIMIT) {
    throw invalidArgument(`rate_limit_per_minute must be 0 (the default) to ${MAX_RATE_LIMIT}`, [
      { field: 'rate_limit_per_minute', message: `0..${MAX_RATE_LIMIT}` },
    ]);
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw invalidArgument(`name is longer than ${MAX_NAME_LENGTH} characters`, [
      { field: 'name', message: `at most ${MAX_NAME_LENGTH} characters` },
    ]);
  }
  return { authorId, admin, name, rateLimitPerMinute: rate };
}

export interface ApiKeyStoreOptions {
  /** How long a looked-up key (found or not) is trusted before the warehouse is asked again. */
  cacheTtlMs?: number;
  now?: () => number;
}

export class ApiKeyStore {
  private readonly keys: Collection<ApiKeyRecord>;
  private readonly ttl: number;
  private readonly now: () => number;
  /** By hash: the record (or null for an unknown key) and when the entry goes stale. */
  private readonly cache = new Map<string, { record: ApiKeyRecord | null; expires: number }>();

  constructor(warehouse: Warehouse, options: ApiKeyStoreOptions = {}) {
    this.keys = warehouse.collection<ApiKeyRecord>(API_KEYS);
    this.ttl = options.cacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  async init(): Promise<void> {
    await this.keys.ensureIndex({
      name: 'api_keys_by_hash',
      unique: true,
      fields: [{ field: 'hash', direction: 'asc' }],
    });
  }

  /** Creates a key; the secret is returned here once and never stored. */
  async create(input: NewApiKey, signal?: AbortSignal): Promise<{ key: string; info: ApiKeyInfo }> {
    const valid = validate(input);
    const key = generateKey();
    const record: ApiKeyRecord = {
      _id: newKeyId(),
      hash: hashKey(key),
      prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
      authorId: valid.admin ? '' : valid.authorId,
      admin: valid.admin,
      name: valid.name,
      rateLimitPerMinute: valid.rateLimitPerMinute,
      createdAt: this.now(),
      revokedAt: null,
    };
    await this.keys.insert(record, signal);
    return { key, info: info(record) };
  }

  /**
   * Makes sure `key` exists as an admin key (the distributed bootstrap key). Its id derives from its hash,
   * so replicas starting together insert the same record and all but one see 'already-exists'. A revoked
   * bootstrap key stays revoked.
   */
  async ensureAdminKey(key: string, name: string): Promise<{ info: ApiKeyInfo; created: boolean }> {
    if (!KEY_PATTERN.test(key)) {
      throw invalidArgument(
        `the bootstrap admin key must look like ${KEY_PREFIX}<at least 32 base64url characters>`,
      );
    }
    const hash = hashKey(key);
    const existing = await this.findByHash(hash);
    if (existing) return { info: info(existing), created: false };
    const record: ApiKeyRecord = {
      _id: 'key_' + createHash('sha256').update(`bootstrap\n${hash}`).digest('hex').slice(0, 16),
      hash,
      prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
      authorId: '',
      admin: true,
      name,
      rateLimitPerMinute: 0,
      createdAt: this.now(),
      revokedAt: null,
    };
    try {
      await this.keys.insert(record);
      return { info: info(record), created: true };
    } catch (err) {
      if (!isDomainError(err, 'already-exists')) throw err;
      const raced = await this.findByHash(hash);
      if (!raced) throw err;
      return { info: info(raced), created: false };
    }
  }

  /** The stored key a secret belongs to (revoked ones included), or undefined; cached for the TTL. */
  async lookup(key: string, signal?: AbortSignal): Promise<ApiKeyRecord | undefined> {
    if (!KEY_PATTERN.test(key)) return undefined;
    const hash = hashKey(key);
    const now = this.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expires > now) return cached.record ?? undefined;
    const record = (await this.findByHash(hash, signal)) ?? null;
    this.remember(hash, record, now);
    return record ?? undefined;
  }

  async list(signal?: AbortSignal): Promise<ApiKeyInfo[]> {
    const records = await this.keys.find(
      {},
      { sort: [{ field: 'createdAt', direction: 'asc' }], exclude: ['hash'] },
      signal,
    );
    return records.map(info);
  }

  async get(id: string, signal?: AbortSignal): Promise<ApiKeyInfo> {
    const record = id ? await this.keys.get(id, signal) : undefined;
    if (!record) throw notFound(`no API key ${id || '(empty id)'}: ListApiKeys lists them`);
    return info(record);
  }

  /** Active admin keys: embedded mode creates one when there is none. */
  countActiveAdmins(signal?: AbortSignal): Promise<number> {
    return this.keys.count({ admin: true, revokedAt: null }, signal);
  }

  /**
   * Revokes a key (again: a no-op). The last active admin key cannot be revoked, so that the installation
   * keeps a way to manage keys.
   */
  async revoke(id: string, signal?: AbortSignal): Promise<ApiKeyInfo> {
    const current = await this.get(id, signal);
    if (current.revokedAt !== null) return current;
    if (current.admin && (await this.countActiveAdmins(signal)) <= 1) {
      throw failedPrecondition(
        'this is the last active admin key: create another admin key before revoking it',
      );
    }
    const updated = await this.keys.update(
      id,
      { set: { revokedAt: this.now() } },
      { where: { revokedAt: null } },
      signal,
    );
    // This gateway forgets it at once; other replicas within the cache TTL.
    for (const [hash, entry] of this.cache) if (entry.record?._id === id) this.cache.delete(hash);
    return updated ? info(updated) : this.get(id, signal);
  }

  private async findByHash(hash: string, signal?: AbortSignal): Promise<ApiKeyRecord | undefined> {
    const [found] = await this.keys.find({ hash }, { limit: 1 }, signal);
    // The index found it by hash; compare in constant time anyway, so no code path depends on where two
    // hashes first differ.
    if (!found || !sameHash(found.hash, hash)) return undefined;
    return found;
  }

  private remember(hash: string, record: ApiKeyRecord | null, now: number): void {
    this.cache.delete(hash);
    if (this.ttl <= 0) return;
    // Garbage keys are cached too (briefly), so retrying one does not reach the warehouse each time; the
    // size bound keeps a flood of distinct garbage from growing the map.
    if (this.cache.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(hash, { record, expires: now + this.ttl });
  }
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
