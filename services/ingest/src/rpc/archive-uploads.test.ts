// Uploaded archives do not outlive their import: the ingest module over the embedded warehouse and event log,
// with its real crawler and importers, on exports packed by the system's zip tool (Info-ZIP). A Substack
// export carries its subscribers' e-mail addresses; after the import not one of them may be found in any file
// under the data directory — warehouse, event log, upload area. Refused archives leave nothing behind either.
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Code, type Client } from '@connectrpc/connect';
import { ingestv1 } from '@llmtwin/contracts';
import { createLogger } from '@llmtwin/runtime';
import { openEmbeddedStorage, rejection, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createIngestModule } from '../module.js';
import { SourceCrawler } from '../adapters/crawlers/source-crawler.js';
import { SafeFetcher } from '../adapters/fetch/index.js';
import { openZip } from '../adapters/import/archive.js';
import { buildZip } from '../adapters/import/zip-writer.fixture.js';

const execFileAsync = promisify(execFile);
const logger = createLogger('archive-uploads-test', { level: 'silent' });

// Readers of the publication: every place Substack's export names them.
const SUBSCRIBERS = ['agnes.lindqvist@example.org', 'boris.petrov+news@example.net', 'chen.wei@example.com'];

/** A Substack-shaped export as the zip tool packs it: two posts, their opens/delivers lists, the e-mail list. */
async function substackExport(): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'substack-export-'));
  try {
    await mkdir(path.join(dir, 'posts'));
    const posts = [
      ['101.on-rivers', '2024-03-01T08:00:00.000Z', 'On rivers', '<p>Rivers carve the valley over ages.</p>'],
      ['102.on-stone', '2024-04-01T08:00:00.000Z', 'On stone', '<p>Stone remembers every winter.</p>'],
    ];
    await writeFile(
      path.join(dir, 'posts.csv'),
      'post_id,post_date,is_published,email_sent_at,type,audience,title,subtitle\n' +
        posts
          .map(([id, date, title]) => `${id},${date},true,${date},newsletter,everyone,${title},\n`)
          .join(''),
    );
    for (const [id, date, , body] of posts) {
      await writeFile(path.join(dir, 'posts', `${id}.html`), body!);
      await writeFile(
        path.join(dir, 'posts', `${id}.opens.csv`),
        'email,timestamp,country\n' + SUBSCRIBERS.map((e) => `${e},${date},SE\n`).join(''),
      );
      await writeFile(
        path.join(dir, 'posts', `${id}.delivers.csv`),
        'email,timestamp\n' + SUBSCRIBERS.map((e) => `${e},${date}\n`).join(''),
      );
    }
    await writeFile(
      path.join(dir, 'email_list.rivers.csv'),
      'email,active_subscription,created_at\n' + SUBSCRIBERS.map((e) => `${e},true,2023-01-01\n`).join(''),
    );
    // CSV files stored, not deflated (-n): a kept copy of the archive then shows the addresses to the walk
    // below as plainly as a leaked CSV would.
    await execFileAsync('zip', ['-q', '-r', '-n', '.csv', 'export.zip', '.'], { cwd: dir });
    return await readFile(path.join(dir, 'export.zip'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every file under `root`, recursively. */
async function allFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(full)));
    else out.push(full);
  }
  return out;
}

describe('uploaded archives', () => {
  let storage: EmbeddedStorage | undefined;
  let client: Client<typeof ingestv1.IngestService>;
  let stop: (() => Promise<void>) | undefined;
  const uploadArea = () => path.join(storage!.root, 'data', 'ingest-archives');

  beforeAll(async () => {
    storage = await openEmbeddedStorage('archive-uploads-');
    // An archive kept by an earlier version, which never deleted them: the module sweeps it at start.
    await mkdir(uploadArea(), { recursive: true });
    await writeFile(path.join(uploadArea(), '0b7c-substack-export.zip'), `old copy of ${SUBSCRIBERS[0]}`);
    const module = await createIngestModule({
      warehouse: storage.warehouse,
      eventBus: storage.bus,
      logger,
      // Warehouse, event log and the module's own files under one root, so one walk sees them all.
      dataDir: path.join(storage.root, 'data'),
      schedulerTickMs: 3_600_000,
      outboxSweepMs: 3_600_000,
    });
    await module.start?.();
    stop = async () => module.stop?.();
    client = routesClient(ingestv1.IngestService, module, logger);
    await client.createAuthor({ id: 'rivers', displayName: 'Rivers' });
  });

  afterAll(async () => {
    await stop?.();
    await storage?.close();
  });

  async function finished(id: string): Promise<ingestv1.CrawlJob> {
    for (;;) {
      const { job } = await client.getCrawlJob({ id });
      if (job!.state !== ingestv1.CrawlJobState.QUEUED && job!.state !== ingestv1.CrawlJobState.RUNNING) {
        return job!;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('deletes archives left by earlier versions at start', async () => {
    expect(await readdir(uploadArea())).toEqual([]);
  });

  it('keeps no subscriber e-mail address anywhere under the data directory after an import', async () => {
    const zip = await substackExport();
    const listed = await openZip({ bytes: zip, fileName: 'rivers.zip' });
    await listed.close();
    expect(listed.entries.map((e) => e.path)).toEqual(
      expect.arrayContaining([
        'email_list.rivers.csv',
        'posts/101.on-rivers.opens.csv',
        'posts/102.on-stone.delivers.csv',
      ]),
    );
    // Once as one message, once streamed in chunks: both paths go through the upload area.
    const { job: unary } = await client.importArchive({
      authorId: 'rivers',
      fileName: 'rivers.zip',
      content: zip,
    });
    const first = await finished(unary!.id);
    expect(first.state).toBe(ingestv1.CrawlJobState.SUCCEEDED);
    expect(first.documentsCreated).toBe(2n);
    async function* parts() {
      yield create(ingestv1.UploadArchiveRequestSchema, {
        part: {
          case: 'header',
          value: { authorId: 'rivers', fileName: 'rivers.zip', sizeBytes: BigInt(zip.length) },
        },
      });
      for (let i = 0; i < zip.length; i += 1000) {
        yield create(ingestv1.UploadArchiveRequestSchema, {
          part: { case: 'chunk', value: zip.subarray(i, i + 1000) },
        });
      }
    }
    const { job: streamed } = await client.uploadArchive(parts());
    const second = await finished(streamed!.id);
    expect(second).toMatchObject({ state: ingestv1.CrawlJobState.SUCCEEDED, documentsUnchanged: 2n });

    expect(await readdir(uploadArea())).toEqual([]);
    const files = await allFiles(storage!.root);
    expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['warehouse.db', 'events.db']));
    const found: string[] = [];
    for (const file of files) {
      const bytes = await readFile(file);
      for (const address of SUBSCRIBERS) {
        // As UTF-8 and as UTF-16 (how a JSON or SQLite text might hold it), and the local part alone.
        for (const needle of [address, address.split('@')[0]!]) {
          if (bytes.includes(needle) || bytes.includes(Buffer.from(needle, 'utf16le'))) {
            found.push(`${path.relative(storage!.root, file)}: ${needle}`);
          }
        }
      }
    }
    expect(found).toEqual([]);
    // The posts themselves were stored: the walk looked where the content is.
    const text = (await Promise.all(files.map((f) => readFile(f)))).some((b) =>
      b.includes('Stone remembers'),
    );
    expect(text).toBe(true);
  });

  it('refuses a zip bomb while the caller waits and keeps nothing of it', async () => {
    // 16 MiB of zeros deflate to some 16 KiB: a ratio of about 1000, five times the limit.
    const bomb = buildZip([{ name: 'posts.csv', data: Buffer.alloc(16 * 1024 * 1024) }]);
    const refused = await rejection(
      client.importArchive({ authorId: 'rivers', fileName: 'bomb.zip', content: bomb }),
    );
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(refused.rawMessage).toMatch(
      /"posts.csv" expands \d+x, over the compression ratio limit of 200: refused as a likely zip bomb/,
    );
    expect(await readdir(uploadArea())).toEqual([]);
  });

  it('deletes an archive whose lying header is found out only while the job reads it', async () => {
    // The header claims 100 bytes, so nothing is wrong until the inflater produces more.
    const liar = buildZip([{ name: 'posts.csv', data: Buffer.alloc(2 * 1024 * 1024), declaredSize: 100 }]);
    const { job } = await client.importArchive({ authorId: 'rivers', fileName: 'liar.zip', content: liar });
    const done = await finished(job!.id);
    expect(done.state).toBe(ingestv1.CrawlJobState.FAILED);
    expect(done.errors.map((e) => e.message).join('\n')).toMatch(
      /inflates to more than its declared 100 bytes/,
    );
    expect(await readdir(uploadArea())).toEqual([]);
  });

  it('says what to do when a resumed import finds its archive already deleted', async () => {
    // A crash after the archive was read (and deleted) but before every document was stored.
    const crawler = new SourceCrawler({
      fetcher: new SafeFetcher({ policy: { allow: [] } }),
      workDir: path.join(storage!.root, 'git'),
    });
    const target = {
      authorId: 'rivers',
      sourceId: 'src_x',
      kind: 'archive' as const,
      url: 'archive:rivers.zip',
      gitRef: '',
      archivePath: path.join(uploadArea(), 'gone.zip'),
    };
    const items = async () => {
      for await (const item of crawler.crawl(target as never, new AbortController().signal)) void item;
    };
    await expect(items()).rejects.toThrow(/deleted once read, .*: upload it again/);
  });
});
