// The key store on the embedded warehouse: only hashes are stored, lookups are cached for a short TTL (a
// revocation made elsewhere is seen once it expires), the bootstrap key is idempotent across replicas.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { API_KEYS, ApiKeyStore, hashKey, KEY_PATTERN } from './api-keys.js';

describe('ApiKeyStore', () => {
  let warehouse: Warehouse;
  let clock: number;
  const store = (ttl = 5000) => new ApiKeyStore(warehouse, { cacheTtlMs: ttl, now: () => clock });

  beforeEach(async () => {
    warehouse = await createWarehouse('sqlite::memory:');
    clock = 1_000_000;
  });
  afterEach(() => warehouse.close());

  it('stores the SHA-256 of a key, never the key, and finds it by the key', async () => {
    const keys = store();
    await keys.init();
    const { key, info } = await keys.create({ authorId: 'ada', name: 'laptop', rateLimitPerMinute: 30 });
    expect(key).toMatch(KEY_PATTERN);
    expect(key).toHaveLength(46);
    expect(info).toMatchObject({ authorId: 'ada', admin: false, name: 'laptop', rateLimitPerMinute: 30 });
    expect(info).not.toHaveProperty('hash');
    expect(key.startsWith(info.prefix)).toBe(true);

    const stored = await warehouse.collection(API_KEYS).find({});
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(key);
    expect(stored[0]!['hash']).toBe(hashKey(key));

    expect((await keys.lookup(key))?._id).toBe(info._id);
    expect(await keys.lookup(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
    expect(await keys.lookup('not-a-key')).toBeUndefined();
  });

  it('keeps hashes unique', async () => {
    const keys = store();
    await keys.init();
    const { key } = await keys.create({ admin: true });
    const copy = { ...(await warehouse.collection(API_KEYS).find({}))[0]!, _id: 'key_copy' };
    await expect(warehouse.collection(API_KEYS).insert(copy)).rejects.toMatchObject({
      kind: 'already-exists',
    });
    expect(await keys.lookup(key)).toBeDefined();
  });

  it('lists keys without hashes, revokes them, and keeps the last admin key', async () => {
    const keys = store();
    await keys.init();
    const first = await keys.create({ admin: true });
    clock += 1;
    const author = await keys.create({ authorId: 'ada' });
    expect((await keys.list()).map((k) => k._id)).toEqual([first.info._id, author.info._id]);
    expect(JSON.stringify(await keys.list())).not.toMatch(/hash/);

    const revoked = await keys.revoke(author.info._id);
    expect(revoked.revokedAt).toBe(clock);
    expect((await keys.lookup(author.key))?.revokedAt).toBe(clock);
    await expect(keys.revoke(first.info._id)).rejects.toMatchObject({ kind: 'failed-precondition' });
    await expect(keys.revoke('key_missing')).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('sees a revocation made by another replica once its cache entry expires', async () => {
    const here = store(5000);
    const there = store(5000);
    await here.init();
    await here.create({ admin: true });
    const { key, info } = await here.create({ authorId: 'ada' });
    expect((await here.lookup(key))?.revokedAt).toBeNull();

    await there.revoke(info._id);
    clock += 4999;
    expect((await here.lookup(key))?.revokedAt).toBeNull();
    clock += 2;
    expect((await here.lookup(key))?.revokedAt).not.toBeNull();
  });

  it('validates new keys', async () => {
    const keys = store();
    await keys.init();
    await expect(keys.create({})).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(keys.create({ admin: true, authorId: 'ada' })).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await expect(keys.create({ authorId: 'ada', rateLimitPerMinute: -1 })).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
  });

  it('stores the bootstrap key once, whichever replica gets there first', async () => {
    const bootstrap = 'lt_' + 'b'.repeat(43);
    const a = store();
    const b = store();
    await a.init();
    const results = await Promise.all([
      a.ensureAdminKey(bootstrap, 'boot'),
      b.ensureAdminKey(bootstrap, 'boot'),
    ]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results[0]!.info._id).toBe(results[1]!.info._id);
    expect(await a.countActiveAdmins()).toBe(1);
    expect((await a.lookup(bootstrap))?.admin).toBe(true);
    expect((await a.ensureAdminKey(bootstrap, 'boot')).created).toBe(false);
    await expect(a.ensureAdminKey('short', 'boot')).rejects.toMatchObject({ kind: 'invalid-argument' });
  });
});
