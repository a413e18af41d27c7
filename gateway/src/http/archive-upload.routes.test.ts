// POST /v1/archives end to end in the distributed layout: a real gateway (hostModule on port 0) forwarding to
// a real ingest service on its own HTTP/2 server over gRPC (client streaming), both on the embedded warehouse.
// The body is sent in parts over HTTP/1.1, as curl and the CLI send it: the archive must reach ingest's
// upload area on disk before the body has all arrived, and refusals must carry ingest's own message and
// leave nothing on disk.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { gatewayv1, ingestv1 } from '@llmtwin/contracts';
import { hostModule, NetworkDirectory, type HostedService } from '@llmtwin/host';
import { createIngestModule, writeZip, type ZipFileEntry } from '@llmtwin/ingest';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import { createLogger } from '@llmtwin/runtime';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createGatewayModule, publicServices } from '../module.js';

const logger = createLogger('archive-upload-test', { level: 'silent' });
const ADMIN_KEY = 'lt_' + 'U'.repeat(43);
const MAX_ENTRIES = 500;
const MAX_ARCHIVE_BYTES = 12 * 1024 * 1024;
const MAX_UNARY_UPLOAD_BYTES = 6 * 1024 * 1024;

interface Answer {
  status: number;
  body: { job?: { id: string; url: string; authorId: string }; error?: { message: string } };
}

/**
 * POSTs `parts` one after another; `between` runs after each part but the last, before the next is written
 * (so a test can look at the server while the body is still incomplete). No content-length unless `declared`:
 * chunked transfer, like a pipe into curl.
 */
function post(
  base: string,
  query: string,
  parts: readonly Buffer[],
  options: { key?: string; declared?: number; between?: (sent: number) => Promise<void> } = {},
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(`${base}/v1/archives?${query}`, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/zip',
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.declared !== undefined ? { 'content-length': options.declared } : {}),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Answer['body'] }));
    });
    // A refusal may close the connection while parts are still going out; the answer is what counts.
    req.on('error', (err) => (req.writableEnded ? undefined : reject(err)));
    void (async () => {
      let sent = 0;
      for (const [i, part] of parts.entries()) {
        if (req.destroyed) return;
        if (!req.write(part)) await new Promise((r) => req.once('drain', r));
        sent += part.length;
        if (i < parts.length - 1) await options.between?.(sent);
      }
      req.end();
    })().catch(reject);
  });
}

function split(bytes: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return parts;
}

/** A Medium-shaped export: posts, plus `filler` other entries the importer passes over. */
async function mediumExport(posts: number, filler: number, fillerBytes = 0): Promise<Buffer> {
  const entries: ZipFileEntry[] = [];
  for (let i = 0; i < posts; i++) {
    // Medium's export markup: an h-entry with its title, publish time, canonical link and body section.
    const day = String(i + 1).padStart(2, '0');
    const id = `${i}0a1b2c3d4e`;
    entries.push({
      name: `posts/2024-01-${day}_Post-${i}-${id}.html`,
      data:
        `<html><body><article class="h-entry"><header><h1 class="p-name">Post ${i}</h1></header>` +
        `<section data-field="body" class="e-content"><p>Body of post ${i}.</p></section><footer>` +
        `<a href="https://medium.com/@ada" class="p-author h-card">Ada</a> on ` +
        `<a href="https://medium.com/p/${id}"><time class="dt-published" datetime="2024-01-${day}T08:00:00.000Z">` +
        `January ${i + 1}, 2024</time></a>. <a href="https://medium.com/@ada/post-${i}-${id}" ` +
        `class="p-canonical">Canonical link</a></footer></article></body></html>`,
    });
  }
  // Random bytes do not compress: the archive is as large as its content, and deflate cannot shrink it.
  for (let i = 0; i < filler; i++) {
    entries.push({ name: `images/${i}.bin`, data: fillerBytes > 0 ? randomBytes(fillerBytes) : '' });
  }
  return writeZip(entries);
}

describe('POST /v1/archives', () => {
  let root: string;
  let warehouse: Warehouse;
  let bus: EventBus;
  let ingest: HostedService | undefined;
  let gateway: HostedService | undefined;
  let base: string;
  const uploadArea = () => path.join(root, 'data', 'ingest-archives');
  const listed = async () => readdir(uploadArea()).catch(() => [] as string[]);

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'archive-upload-'));
    warehouse = await createWarehouse(`sqlite:${path.join(root, 'warehouse.db')}`);
    bus = createEventBus(`log:${path.join(root, 'events.db')}`);
    const ingestModule = await createIngestModule({
      warehouse,
      eventBus: bus,
      logger,
      dataDir: path.join(root, 'data'),
      archives: { maxEntries: MAX_ENTRIES, maxArchiveBytes: MAX_ARCHIVE_BYTES },
      schedulerTickMs: 3_600_000,
      outboxSweepMs: 3_600_000,
    });
    ingest = await hostModule(ingestModule, { port: 0, host: '127.0.0.1', logger, shutdownTimeoutMs: 1000 });
    const gatewayModule = await createGatewayModule({
      // Only ingest is there: the other upstreams are never called by these requests.
      directory: new NetworkDirectory({
        ...Object.fromEntries(publicServices.map(([name]) => [name, 'http://127.0.0.1:9'])),
        ingest: ingest.url,
      }),
      addresses: { ingest: ingest.url },
      mode: 'distributed',
      version: 'test',
      dataDir: '',
      warehouse,
      logger,
      // The streamed route is not bound by the unary upload limit.
      security: { bootstrapAdminKey: ADMIN_KEY, maxUploadBytes: MAX_UNARY_UPLOAD_BYTES },
    });
    gateway = await hostModule(gatewayModule, {
      port: 0,
      host: '127.0.0.1',
      logger,
      shutdownTimeoutMs: 1000,
    });
    base = gateway.url.replace(/\/$/, '');
    const ingestClient = createClient(
      ingestv1.IngestService,
      createConnectTransport({
        baseUrl: base,
        httpVersion: '1.1',
        interceptors: [
          (next) => (req) => (req.header.set('authorization', `Bearer ${ADMIN_KEY}`), next(req)),
        ],
      }),
    );
    await ingestClient.createAuthor({ id: 'ada', displayName: 'Ada' });
    await ingestClient.createAuthor({ id: 'bob', displayName: 'Bob' });
  }, 30_000);

  afterAll(async () => {
    await gateway?.stop();
    await ingest?.stop();
    await bus?.close();
    await warehouse?.close();
    await rm(root, { recursive: true, force: true });
  });

  const client = <S extends typeof ingestv1.IngestService | typeof gatewayv1.AdminService>(service: S) =>
    createClient(
      service,
      createConnectTransport({
        baseUrl: base,
        httpVersion: '1.1',
        interceptors: [
          (next) => (req) => (req.header.set('authorization', `Bearer ${ADMIN_KEY}`), next(req)),
        ],
      }),
    );

  async function finished(id: string): Promise<ingestv1.CrawlJob> {
    for (;;) {
      const { job } = await client(ingestv1.IngestService).getCrawlJob({ id });
      if (job!.state !== ingestv1.CrawlJobState.QUEUED && job!.state !== ingestv1.CrawlJobState.RUNNING) {
        return job!;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('writes the archive to disk as it arrives, imports it, and then deletes it', async () => {
    // About 8 MiB: larger than the gateway's unary upload limit (6 MiB here) and a service's 4 MiB messages.
    const zip = await mediumExport(3, 128, 64 * 1024);
    expect(zip.length).toBeGreaterThan(MAX_UNARY_UPLOAD_BYTES);
    const parts = split(zip, 1024 * 1024);
    const growth: number[] = [];
    const answer = await post(base, 'author_id=ada&file_name=medium-export.zip', parts, {
      key: ADMIN_KEY,
      between: async (sent) => {
        // Before the next part goes out, what was sent is already in a file of the upload area.
        for (;;) {
          const files = await listed();
          const size = files.length === 1 ? (await stat(path.join(uploadArea(), files[0]!))).size : 0;
          if (size >= sent) {
            growth.push(size);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
    });
    expect(answer.status).toBe(200);
    expect(growth.length).toBe(parts.length - 1);
    expect(growth.every((size) => size < zip.length)).toBe(true);
    expect(answer.body.job).toMatchObject({ authorId: 'ada', url: 'archive:medium-export.zip' });
    const done = await finished(answer.body.job!.id);
    expect(done).toMatchObject({ state: ingestv1.CrawlJobState.SUCCEEDED, documentsCreated: 3n });
    expect(await listed()).toEqual([]);
  });

  it('passes a unary ImportArchive of up to the gateway upload limit through to ingest', async () => {
    // Over a service's default 4 MiB message limit, under the gateway's: ingest must take it too.
    const zip = await mediumExport(1, 72, 64 * 1024);
    expect(zip.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(zip.length).toBeLessThan(MAX_UNARY_UPLOAD_BYTES);
    const { job } = await client(ingestv1.IngestService).importArchive({
      authorId: 'ada',
      fileName: 'unary.zip',
      content: zip,
    });
    expect(await finished(job!.id)).toMatchObject({ state: ingestv1.CrawlJobState.SUCCEEDED });
    expect(await listed()).toEqual([]);
  });

  it('refuses an archive with too many entries, naming the limit and its setting, and keeps nothing', async () => {
    const zip = await mediumExport(1, MAX_ENTRIES + 10);
    const answer = await post(base, 'author_id=ada&file_name=many.zip', split(zip, 16 * 1024), {
      key: ADMIN_KEY,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.message).toBe(
      `"many.zip" lists ${MAX_ENTRIES + 11} entries, over the limit of ${MAX_ENTRIES} ` +
        '(raise it with LLMTWIN_INGEST_ARCHIVE_MAX_ENTRIES): refused',
    );
    expect(await listed()).toEqual([]);
  });

  it('refuses an archive over the size limit, declared or found out while streaming, and keeps nothing', async () => {
    const big = randomBytes(MAX_ARCHIVE_BYTES + 1);
    const declared = await post(base, 'author_id=ada&file_name=big.zip', split(big, 256 * 1024), {
      key: ADMIN_KEY,
      declared: big.length,
    });
    expect(declared.status).toBe(400);
    expect(declared.body.error?.message).toBe(
      `the archive is ${big.length} bytes, over the archive size limit of ${MAX_ARCHIVE_BYTES} bytes ` +
        '(set by LLMTWIN_INGEST_ARCHIVE_MAX_BYTES): refused',
    );
    const streamed = await post(base, 'author_id=ada&file_name=big.zip', split(big, 256 * 1024), {
      key: ADMIN_KEY,
    });
    expect(streamed.status).toBe(400);
    expect(streamed.body.error?.message).toMatch(
      /over the archive size limit of \d+ bytes \(set by LLMTWIN_/,
    );
    expect(await listed()).toEqual([]);
  });

  it('needs a key, keeps an author key to its own author, and takes POST only', async () => {
    const zip = await mediumExport(1, 0);
    expect((await post(base, 'author_id=ada', [zip])).status).toBe(401);
    const { key: bobKey } = await client(gatewayv1.AdminService).createApiKey({
      authorId: 'bob',
      name: 'bob',
    });
    const other = await post(base, 'author_id=ada', [zip], { key: bobKey });
    expect(other.status).toBe(403);
    expect(other.body.error?.message).toMatch(/belongs to author "bob" and cannot act on author "ada"/);
    // An author key's own author when none is named.
    const own = await post(base, 'file_name=bob.zip', [zip], { key: bobKey });
    expect(own.status).toBe(200);
    expect(own.body.job?.authorId).toBe('bob');
    await finished(own.body.job!.id);
    const get = await fetch(`${base}/v1/archives`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(get.status).toBe(405);
    expect(await listed()).toEqual([]);
  });
});
