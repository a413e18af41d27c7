// Every AdminService RPC through an in-memory Connect transport (createRouterTransport over
// registerAdminRoutes, with the error interceptor the hosts use), on the key store in an embedded warehouse.
// Ingest, which CreateApiKey asks whether an author exists, is a FAKE IngestService (authors "ada" and "bob")
// or, for the outage case, one that answers Unavailable. Authentication and the admin-only policy sit in front
// of these routes and are tested in module.test.ts; here the handlers themselves are.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Code, createClient, createRouterTransport, type Client, type Transport } from '@connectrpc/connect';
import { gatewayv1, ingestv1 } from '@llmtwin/contracts';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger, errorInterceptor, notFound, unavailable } from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rejection } from '@llmtwin/testkit/routes';
import { API_KEYS, ApiKeyStore, hashKey } from '../auth/api-keys.js';
import { registerAdminRoutes } from './admin.routes.js';

const logger = createLogger('admin-routes-test', { level: 'silent' });
const interceptors = [errorInterceptor(logger)];

/** FAKE ingest: knows two authors; `down` makes it answer Unavailable. */
function fakeIngest(state: { down: boolean; asked: string[] }): Transport {
  return createRouterTransport(
    (router) =>
      router.service(ingestv1.IngestService, {
        getAuthor(req) {
          state.asked.push(req.id);
          if (state.down) throw unavailable('ingest is restarting');
          if (req.id !== 'ada' && req.id !== 'bob') throw notFound(`author "${req.id}" does not exist`);
          return { author: { id: req.id, displayName: req.id } };
        },
      }),
    { router: { interceptors } },
  );
}

describe('AdminService routes over an in-memory transport', () => {
  let root: string;
  let warehouse: Warehouse;
  let keys: ApiKeyStore;
  let ingest: { down: boolean; asked: string[] };
  let client: Client<typeof gatewayv1.AdminService>;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'admin-routes-'));
    warehouse = await createWarehouse(`sqlite:${path.join(root, 'warehouse.db')}`);
    let clock = 1_700_000_000_000;
    // Each key a millisecond after the previous one, so that "oldest first" has one answer.
    keys = new ApiKeyStore(warehouse, { cacheTtlMs: 0, now: () => clock++ });
    await keys.init();
    ingest = { down: false, asked: [] };
    const ingestTransport = fakeIngest(ingest);
    client = createClient(
      gatewayv1.AdminService,
      createRouterTransport(
        (router) => registerAdminRoutes(router, { keys, ingest: () => ingestTransport }),
        { router: { interceptors } },
      ),
    );
  });

  afterEach(async () => {
    await warehouse.close();
    await rm(root, { recursive: true, force: true });
  });

  it('CreateApiKey makes a usable author key once ingest confirms the author, and an admin key without one', async () => {
    const author = await client.createApiKey({ authorId: ' ada ', name: 'laptop', rateLimitPerMinute: 30 });
    expect(ingest.asked).toEqual(['ada']);
    expect(author.key).toMatch(/^lt_[A-Za-z0-9_-]{43}$/);
    expect(author.apiKey).toMatchObject({
      authorId: 'ada',
      admin: false,
      name: 'laptop',
      rateLimitPerMinute: 30,
    });
    expect(author.key.startsWith(author.apiKey!.prefix)).toBe(true);
    expect(author.apiKey!.revokeTime).toBeUndefined();
    // The secret works against the store, and only its hash was written.
    expect((await keys.lookup(author.key))?._id).toBe(author.apiKey!.id);
    const stored = await warehouse.collection(API_KEYS).find({});
    expect(JSON.stringify(stored)).not.toContain(author.key);
    expect(stored.map((r) => r['hash'])).toContain(hashKey(author.key));

    const admin = await client.createApiKey({ admin: true, name: 'ops' });
    expect(admin.apiKey).toMatchObject({ admin: true, authorId: '', name: 'ops' });
    expect(ingest.asked).toEqual(['ada']); // an admin key names no author to check
  });

  it('CreateApiKey refuses an unknown author, an admin key with an author, no owner at all, and says when ingest is down', async () => {
    const unknown = await rejection(client.createApiKey({ authorId: 'nobody' }));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toMatch(/author "nobody" does not exist: create it first/);
    const both = await rejection(client.createApiKey({ authorId: 'ada', admin: true }));
    expect(both.code).toBe(Code.InvalidArgument);
    expect(both.rawMessage).toMatch(/an admin key belongs to no author/);
    const neither = await rejection(client.createApiKey({ name: 'orphan' }));
    expect(neither.code).toBe(Code.InvalidArgument);
    expect(neither.rawMessage).toMatch(/give author_id \(an author key\) or admin/);
    const quota = await rejection(client.createApiKey({ authorId: 'ada', rateLimitPerMinute: -1 }));
    expect(quota.code).toBe(Code.InvalidArgument);
    expect(quota.rawMessage).toMatch(/rate_limit_per_minute must be 0 \(the default\) to/);

    ingest.down = true;
    const down = await rejection(client.createApiKey({ authorId: 'ada' }));
    expect(down.code).toBe(Code.Unavailable);
    expect(down.rawMessage).toMatch(/cannot check that the author exists: the ingest service did not answer/);
    expect(await keys.list()).toEqual([]);
  });

  it('ListApiKeys lists every key, oldest first, without secrets or hashes', async () => {
    const first = await client.createApiKey({ admin: true, name: 'ops' });
    const second = await client.createApiKey({ authorId: 'bob', name: 'bob' });
    const { apiKeys } = await client.listApiKeys({});
    expect(apiKeys.map((k) => [k.id, k.name, k.admin, k.authorId])).toEqual([
      [first.apiKey!.id, 'ops', true, ''],
      [second.apiKey!.id, 'bob', false, 'bob'],
    ]);
    const wire = JSON.stringify(apiKeys, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(wire).not.toContain(first.key);
    expect(wire).not.toContain(second.key);
    expect(wire).not.toMatch(/[0-9a-f]{64}/);
    expect(Object.keys(apiKeys[0]!)).not.toContain('hash');
  });

  it('RevokeApiKey revokes a key (again is a no-op), and refuses an unknown key or the last admin key', async () => {
    const admin = await client.createApiKey({ admin: true });
    const author = await client.createApiKey({ authorId: 'ada' });
    const { apiKey } = await client.revokeApiKey({ id: ` ${author.apiKey!.id} ` });
    expect(apiKey!.id).toBe(author.apiKey!.id);
    expect(apiKey!.revokeTime).toBeDefined();
    expect((await keys.lookup(author.key))?.revokedAt).not.toBeNull();
    const again = await client.revokeApiKey({ id: author.apiKey!.id });
    expect(again.apiKey!.revokeTime).toEqual(apiKey!.revokeTime);

    const missing = await rejection(client.revokeApiKey({ id: 'key_missing' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toMatch(/no API key key_missing: ListApiKeys lists them/);
    const empty = await rejection(client.revokeApiKey({ id: '' }));
    expect(empty.code).toBe(Code.NotFound);
    const last = await rejection(client.revokeApiKey({ id: admin.apiKey!.id }));
    expect(last.code).toBe(Code.FailedPrecondition);
    expect(last.rawMessage).toMatch(/last active admin key: create another admin key before revoking it/);
    expect((await keys.lookup(admin.key))?.revokedAt).toBeNull();
  });
});
