// A large export archive end to end: `llmtwin import` streams a 200,000-entry zip made by the zip tool
// (Info-ZIP; zip64, some 20 MB) through the embedded twin's gateway (POST /v1/archives) into ingest's upload
// area, the twin imports its posts and deletes the archive. Such an archive used to fail with "message size is
// larger than configured readMaxBytes", the CLI sending it whole as one JSON message. The twin runs with the
// entry limit raised by its setting; the refusal at the default limit is shown the same way, on the same
// archive, by a second twin at the default.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  disposeTwin,
  readAdminKey,
  runCli,
  startTwin,
  twinUrl,
  type TwinProcess,
} from './test/twin-process.fixture.js';

const execFileAsync = promisify(execFile);
const ENTRIES = 200_000;
const POSTS = 5;

/** A Medium-shaped export: a few posts among ENTRIES empty files the importer passes over. */
async function largeExport(dir: string): Promise<string> {
  const src = path.join(dir, 'export');
  await mkdir(path.join(src, 'posts'), { recursive: true });
  await mkdir(path.join(src, 'images'));
  for (let i = 0; i < POSTS; i++) {
    const day = String(i + 1).padStart(2, '0');
    const id = `${i}f0e1d2c3b4`;
    await writeFile(
      path.join(src, 'posts', `2024-02-${day}_Large-export-${i}-${id}.html`),
      `<html><body><article class="h-entry"><header><h1 class="p-name">Large export ${i}</h1></header>` +
        `<section data-field="body" class="e-content"><p>Post ${i} of a very large export.</p></section>` +
        `<footer><a href="https://medium.com/p/${id}"><time class="dt-published" ` +
        `datetime="2024-02-${day}T08:00:00.000Z">February ${i + 1}, 2024</time></a> ` +
        `<a href="https://medium.com/@big/large-export-${i}-${id}" class="p-canonical">Canonical link</a>` +
        `</footer></article></body></html>`,
    );
  }
  for (let i = POSTS; i < ENTRIES; i++) await writeFile(path.join(src, 'images', `${i}.txt`), '');
  const zip = path.join(dir, 'large-export.zip');
  // -D: no folder entries, so the archive lists exactly ENTRIES; -X: no extra attributes.
  await execFileAsync('zip', ['-q', '-r', '-D', '-X', zip, 'posts', 'images'], { cwd: src });
  await rm(src, { recursive: true, force: true });
  return zip;
}

describe('llmtwin import of a large archive', () => {
  let work: string;
  let zip: string;
  let twin: TwinProcess | undefined;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'large-archive-'));
    zip = await largeExport(work);
  }, 180_000);

  afterAll(async () => {
    await disposeTwin(twin);
    await rm(work, { recursive: true, force: true });
  });

  async function importWith(env: NodeJS.ProcessEnv) {
    await disposeTwin(twin);
    twin = await startTwin('large-archive-twin-', {
      args: ['--no-demo'],
      env: { LLMTWIN_LLM_BACKENDS: '', ...env },
    });
    const url = await twinUrl(twin, 120_000);
    const cli = (args: string[]) => runCli([...args, '--url', url, '--data-dir', twin!.dataDir]);
    expect((await cli(['author', 'create', 'Big', '--id', 'big'])).code).toBe(0);
    const result = await cli(['import', zip, '--author', 'big']);
    const uploads = await readdir(path.join(twin.dataDir, 'ingest-archives')).catch(() => []);
    return { ...result, uploads, adminKey: await readAdminKey(twin.dataDir) };
  }

  it('streams it through the gateway and imports it when the entry limit allows', async () => {
    const { code, stdout, stderr, uploads } = await importWith({
      LLMTWIN_INGEST_ARCHIVE_MAX_ENTRIES: '250000',
    });
    expect(stderr).not.toMatch(/readMaxBytes/);
    expect(code).toBe(0);
    expect(stdout).toMatch(`${POSTS} new, 0 updated, 0 unchanged`);
    expect(uploads).toEqual([]);
  }, 300_000);

  it('is refused at the default entry limit with the limit and the setting that raises it', async () => {
    const { code, stderr, uploads } = await importWith({});
    expect(code).toBe(1);
    expect(stderr).toMatch(
      `"large-export.zip" lists ${ENTRIES} entries, over the limit of 20000 ` +
        '(raise it with LLMTWIN_INGEST_ARCHIVE_MAX_ENTRIES): refused',
    );
    expect(uploads).toEqual([]);
  }, 300_000);
});
