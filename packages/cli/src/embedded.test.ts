// Embedded mode end to end: the real `llmtwin` command starts every service and the gateway in one process,
// answers health over plain HTTP/1.1 JSON (what curl sends) and reports every service healthy.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/llmtwin.js');

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
}

async function firstJsonOutput(child: ChildProcessWithoutNullStreams): Promise<Record<string, unknown>> {
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      try {
        resolve(JSON.parse(out) as Record<string, unknown>);
      } catch {
        // not complete yet
      }
    });
    child.on('exit', (code) => reject(new Error(`llmtwin exited with ${code}: ${err}${out}`)));
  });
}

async function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = run(args);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout };
}

describe('llmtwin up (embedded mode)', () => {
  let dataDir: string;
  let twin: ChildProcessWithoutNullStreams;
  let url: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'llmtwin-up-'));
    twin = run(['up', '--port', '0', '--data-dir', dataDir, '--json']);
    const started = await firstJsonOutput(twin);
    expect(started['status']).toBe('up');
    url = String(started['url']);
  }, 60_000);

  afterAll(async () => {
    if (twin.exitCode === null) {
      const exited = new Promise((resolve) => twin.on('exit', resolve));
      twin.kill('SIGTERM');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers the health check over HTTP/1.1 JSON', async () => {
    const deadline = Date.now() + 10_000;
    let body: unknown;
    do {
      const res = await fetch(`${url}/grpc.health.v1.Health/Check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      body = await res.json();
      if ((body as { status?: string }).status === 'SERVING') break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    expect(body).toEqual({ status: 'SERVING' });
  });

  it('llmtwin status shows each service healthy on the embedded adapters', async () => {
    const { code, stdout } = await runToEnd(['status', '--url', url, '--json']);
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
    for (const service of status.services) {
      expect(service.health).toBe('SERVICE_HEALTH_SERVING');
      for (const dep of service.dependencies ?? []) {
        // Backends are the embedded adapters; the embedder is the in-process ONNX model.
        expect(dep).toMatchObject({ adapter: dep.name === 'embedder' ? 'onnx' : 'embedded', up: true });
      }
    }
    // Pipeline consumers report their lag: nothing has been published, so nothing is waiting.
    const clean = status.services.find((s) => s.name === 'clean') as { consumerLag?: Record<string, string> };
    expect(clean.consumerLag).toEqual({ 'llmtwin.documents.raw.v1': '0' });
    const ingest = status.services.find((s) => s.name === 'ingest');
    expect(ingest?.dependencies?.map((d) => d.name).sort()).toEqual(['event-bus', 'warehouse']);
  });

  it('serves the public services through the gateway and keeps data in the data folder', async () => {
    const res = await fetch(`${url}/llmtwin.ingest.v1.IngestService/CreateAuthor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Ada Lovelace' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ author: { id: 'ada-lovelace', displayName: 'Ada Lovelace' } });

    const again = await fetch(`${url}/llmtwin.ingest.v1.IngestService/CreateAuthor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Ada Lovelace' }),
    });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'already_exists' });
  });

  it('says what to fix when a request is invalid', async () => {
    const res = await fetch(`${url}/llmtwin.ingest.v1.IngestService/AddSource`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ authorId: 'ada-lovelace', url: 'not a url' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('invalid_argument');
    expect(body.message).toMatch(/absolute URL/);
  });
});

describe('llmtwin up, restarted on the same data folder', () => {
  it('keeps what it stored between runs', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'llmtwin-restart-'));
    const startTwin = async () => {
      const child = run(['up', '--port', '0', '--data-dir', dataDir, '--json']);
      const started = await firstJsonOutput(child);
      return { child, url: String(started['url']) };
    };
    const stopTwin = async (child: ChildProcessWithoutNullStreams) => {
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    };
    try {
      const first = await startTwin();
      const created = await fetch(`${first.url}/llmtwin.ingest.v1.IngestService/CreateAuthor`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: 'Grace Hopper' }),
      });
      expect(created.status).toBe(200);
      expect(await stopTwin(first.child)).toBe(0);

      const second = await startTwin();
      const got = await fetch(`${second.url}/llmtwin.ingest.v1.IngestService/GetAuthor`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'grace-hopper' }),
      });
      expect(await got.json()).toMatchObject({ author: { id: 'grace-hopper', displayName: 'Grace Hopper' } });
      expect(await stopTwin(second.child)).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
