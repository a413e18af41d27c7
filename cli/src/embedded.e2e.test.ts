// Embedded mode end to end: the real `llmtwin` command starts every service and the gateway in one process,
// answers health over plain HTTP/1.1 JSON (what curl sends) without a key, reports every service healthy,
// writes its admin API key to <data dir>/admin.key, and the CLI manages keys with it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { poll } from '@llmtwin/testkit/poll';
import {
  disposeTwin,
  readAdminKey,
  runCli,
  spawnTwin,
  startTwin,
  stopProcess,
  twinUrl,
  type TwinProcess,
} from './test/twin-process.fixture.js';

const call = (url: string, rpc: string, body: unknown, key?: string) =>
  fetch(`${url}/${rpc}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });

describe('llmtwin up (embedded mode)', () => {
  let dataDir: string;
  let twin: TwinProcess | undefined;
  let url: string;
  let adminKey: string;

  beforeAll(async () => {
    twin = await startTwin('llmtwin-up-', { args: ['--no-demo'] });
    dataDir = twin.dataDir;
    const started = await twin.next(() => true);
    expect(started['status']).toBe('up');
    expect(started['adminKeyFile']).toBe(path.join(dataDir, 'admin.key'));
    url = String(started['url']);
    adminKey = await readAdminKey(dataDir);
  }, 60_000);

  afterAll(() => disposeTwin(twin));

  it('answers the health check over HTTP/1.1 JSON', async () => {
    const check = async (): Promise<unknown> => {
      const res = await fetch(`${url}/grpc.health.v1.Health/Check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return res.json();
    };
    const body = await poll(check, {
      what: 'the health check to answer SERVING',
      intervalMs: 200,
      until: (answer) => (answer as { status?: string }).status === 'SERVING',
    });
    expect(body).toEqual({ status: 'SERVING' });
  });

  it('llmtwin status shows each service healthy on the embedded adapters', async () => {
    // The CLI finds the admin key in the data folder.
    const { code, stdout } = await runCli(['status', '--url', url, '--data-dir', dataDir, '--json']);
    const status = JSON.parse(stdout) as {
      healthy: boolean;
      mode: string;
      services: {
        name: string;
        health: string;
        dependencies?: { name: string; adapter: string; up: boolean }[];
      }[];
    };
    expect(code).toBe(0);
    expect(status.healthy).toBe(true);
    expect(status.mode).toBe('embedded');
    expect(status.services.map((s) => s.name).sort()).toEqual(
      ['chunk', 'clean', 'embed', 'inference-router', 'ingest', 'registry', 'trainer'].sort(),
    );
    const upstreams = new Set(status.services.map((s) => s.name));
    for (const service of status.services) {
      expect(service.health).toBe('SERVICE_HEALTH_SERVING');
      for (const dep of service.dependencies ?? []) {
        // Backends are the embedded adapters; the embedder is the in-process ONNX model; the services a
        // service calls (the router searches through embed; the trainer reads clean and ingest and writes the
        // registry) answer in this process.
        const expected =
          dep.name === 'embedder'
            ? ['onnx']
            : upstreams.has(dep.name)
              ? ['in-process', 'embedded']
              : ['embedded'];
        expect(expected).toContain(dep.adapter);
        expect(dep.up).toBe(true);
      }
    }
    // Pipeline consumers report their lag: nothing has been published, so nothing is waiting.
    const clean = status.services.find((s) => s.name === 'clean') as { consumerLag?: Record<string, string> };
    expect(clean.consumerLag).toEqual({ 'llmtwin.documents.raw.v1': '0' });
    const ingest = status.services.find((s) => s.name === 'ingest');
    expect(ingest?.dependencies?.map((d) => d.name).sort()).toEqual(['event-bus', 'warehouse']);
  });

  it('serves the public services through the gateway and keeps data in the data folder', async () => {
    const rpc = 'llmtwin.ingest.v1.IngestService/CreateAuthor';
    const anonymous = await call(url, rpc, { displayName: 'Ada Lovelace' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'unauthenticated' });

    const res = await call(url, rpc, { displayName: 'Ada Lovelace' }, adminKey);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ author: { id: 'ada-lovelace', displayName: 'Ada Lovelace' } });

    const again = await call(url, rpc, { displayName: 'Ada Lovelace' }, adminKey);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'already_exists' });
  });

  it('says what to fix when a request is invalid', async () => {
    const res = await call(
      url,
      'llmtwin.ingest.v1.IngestService/AddSource',
      { authorId: 'ada-lovelace', url: 'not a url' },
      adminKey,
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('invalid_argument');
    expect(body.message).toMatch(/absolute URL/);
  });

  it('keeps the admin key in a file only its owner can read', async () => {
    expect(adminKey).toMatch(/^lt_[A-Za-z0-9_-]{43}$/);
    expect((await stat(path.join(dataDir, 'admin.key'))).mode & 0o777).toBe(0o600);
  });

  it('says how to authenticate when the CLI finds no key', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'llmtwin-nokey-'));
    try {
      const { code, stderr } = await runCli(['status', '--url', url, '--data-dir', empty]);
      expect(code).toBe(2);
      expect(stderr).toMatch(/no API key/);
      expect(stderr).toMatch(/LLMTWIN_API_KEY/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('llmtwin keys create prints a key that works for its author only; list hides it; revoke ends it', async () => {
    const cli = (args: string[]) => runCli([...args, '--url', url, '--data-dir', dataDir]);
    const created = await cli(['keys', 'create', '--author', 'ada-lovelace', '--name', 'test', '--json']);
    expect(created).toMatchObject({ code: 0 });
    const out = JSON.parse(created.stdout) as { key: string; id: string; authorId: string };
    expect(out.key).toMatch(/^lt_[A-Za-z0-9_-]{43}$/);
    expect(out).toMatchObject({ authorId: 'ada-lovelace', name: 'test' });

    const own = await call(url, 'llmtwin.ingest.v1.IngestService/ListSources', {}, out.key);
    expect(own.status).toBe(200);
    const other = await call(url, 'llmtwin.ingest.v1.IngestService/ListSources', { authorId: 'x' }, out.key);
    expect(other.status).toBe(403);
    const adminOnly = await call(
      url,
      'llmtwin.ingest.v1.IngestService/CreateAuthor',
      { displayName: 'E' },
      out.key,
    );
    expect(adminOnly.status).toBe(403);
    // The key works from the environment too.
    const status = await runCli(['status', '--url', url, '--data-dir', '/nonexistent', '--json'], {
      LLMTWIN_API_KEY: out.key,
    });
    expect(status.code).toBe(0);

    const listed = await cli(['keys', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(out.key);
    expect(listed.stdout).not.toContain(adminKey);
    const keys = (JSON.parse(listed.stdout) as { apiKeys: { id: string; admin?: boolean }[] }).apiKeys;
    expect(keys.map((k) => k.id)).toContain(out.id);
    expect(keys.some((k) => k.admin)).toBe(true);

    const revoked = await cli(['keys', 'revoke', out.id]);
    expect(revoked.code).toBe(0);
    const after = await call(url, 'llmtwin.ingest.v1.IngestService/ListSources', {}, out.key);
    expect(after.status).toBe(401);
  });
});

describe('llmtwin up, restarted on the same data folder', () => {
  it('keeps what it stored between runs', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'llmtwin-restart-'));
    const startAgain = async () => {
      const twin = spawnTwin(dataDir, { args: ['--no-demo'] });
      return { child: twin.child, url: await twinUrl(twin) };
    };
    try {
      const first = await startAgain();
      const adminKey = await readAdminKey(dataDir);
      const created = await call(
        first.url,
        'llmtwin.ingest.v1.IngestService/CreateAuthor',
        { displayName: 'Grace Hopper' },
        adminKey,
      );
      expect(created.status).toBe(200);
      expect(await stopProcess(first.child)).toBe(0);

      const second = await startAgain();
      // The admin key of the first start is kept, not replaced.
      expect(await readAdminKey(dataDir)).toBe(adminKey);
      const got = await call(
        second.url,
        'llmtwin.ingest.v1.IngestService/GetAuthor',
        { id: 'grace-hopper' },
        adminKey,
      );
      expect(await got.json()).toMatchObject({ author: { id: 'grace-hopper', displayName: 'Grace Hopper' } });
      expect(await stopProcess(second.child)).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
