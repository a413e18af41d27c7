import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_ARCHIVE_LIMITS, openDirectory, openZip, type ArchiveLimits } from './archive.js';
import { importArchive } from './import-archive.js';
import { buildZip, unicodePathField } from './zip-writer.fixture.js';
import { writeZip } from './zip-writer.js';

const execFileAsync = promisify(execFile);

const POST = '<article class="h-entry"><h1 class="p-name">T</h1></article>';

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(isDomainError(err, 'invalid-argument')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected the archive to be refused');
}

const open = (bytes: Buffer, limits?: Partial<ArchiveLimits>) =>
  openZip({ bytes, fileName: 'upload.zip' }, { ...DEFAULT_ARCHIVE_LIMITS, ...limits });

describe('openZip', () => {
  it('lists entries without reading them and reads one on demand, recording it', async () => {
    const reader = await open(
      buildZip([{ name: 'posts/' }, { name: 'posts/a.html', data: POST }, { name: 'b.csv', data: 'x' }]),
    );
    expect(reader.entries.map((e) => e.path)).toEqual(['posts/a.html', 'b.csv']);
    expect(reader.opened).toEqual([]);
    expect((await reader.read('posts/a.html')).toString()).toBe(POST);
    expect(reader.opened).toEqual(['posts/a.html']);
    await reader.close();
  });

  it.each([
    ['../evil.html', /path traversal/],
    ['posts/../../evil.html', /path traversal/],
    ['/etc/passwd', /absolute path/],
    ['posts\\evil.html', /backslash/],
    ['C:/Windows/evil.html', /drive letter/],
  ])('refuses the entry name %s', async (name, message) => {
    expect(await refusal(open(buildZip([{ name, data: 'x' }])))).toMatch(message);
  });

  it('refuses a symbolic link entry', async () => {
    const zip = buildZip([{ name: 'posts/link.html', data: '/etc/passwd', unixMode: 0o120777 }]);
    expect(await refusal(open(zip))).toMatch(/"posts\/link\.html" is a symbolic link/);
  });

  it('refuses more entries than the limit', async () => {
    const zip = buildZip(Array.from({ length: 6 }, (_, i) => ({ name: `posts/${i}.html`, data: POST })));
    expect(await refusal(open(zip, { maxEntries: 5 }))).toMatch(/lists 6 entries, over the limit of 5/);
    await expect(open(zip, { maxEntries: 6 })).resolves.toBeDefined();
  });

  it('refuses an entry declared bigger than the per-entry limit', async () => {
    const zip = buildZip([{ name: 'big.html', data: 'a'.repeat(2000) }]);
    expect(await refusal(open(zip, { maxEntryBytes: 1000 }))).toMatch(
      /"big\.html" is 2000 bytes .* limit of 1000/,
    );
  });

  it('refuses entries that together exceed the total limit', async () => {
    const zip = buildZip(Array.from({ length: 3 }, (_, i) => ({ name: `${i}.html`, data: 'a'.repeat(600) })));
    expect(await refusal(open(zip, { maxTotalBytes: 1500 }))).toMatch(/more than 1500 uncompressed bytes/);
  });

  it('refuses a zip bomb by its declared compression ratio', async () => {
    const zip = buildZip([{ name: 'posts/bomb.html', data: Buffer.alloc(8 * 1024 * 1024) }]);
    expect(await refusal(open(zip))).toMatch(
      /expands \d+x, over the compression ratio limit of 200: .*zip bomb/,
    );
  });

  it('stops a lying header while inflating, before the content is all out', async () => {
    const zip = buildZip([
      { name: 'posts/bomb.html', data: Buffer.alloc(8 * 1024 * 1024), declaredSize: 100 },
    ]);
    const reader = await open(zip);
    expect(reader.entries).toEqual([{ path: 'posts/bomb.html', size: 100 }]);
    expect(await refusal(reader.read('posts/bomb.html'))).toMatch(
      /inflates to more than its declared 100 bytes/,
    );
    await reader.close();
  });

  it('counts the inflated bytes of a stored-size liar under a small entry limit', async () => {
    const data = Buffer.alloc(64 * 1024, 'ab');
    const zip = buildZip([{ name: 'a.html', data, declaredSize: 1000 }]);
    const reader = await open(zip, { maxEntryBytes: 4096 });
    expect(await refusal(reader.read('a.html'))).toMatch(/inflates to more than its declared 1000 bytes/);
    await reader.close();
  });

  it('aborts a whole import when an entry is a bomb, rather than reporting one bad post', async () => {
    const bytes = buildZip([
      { name: 'posts/ok.html', data: POST },
      { name: 'posts/bomb.html', data: Buffer.alloc(8 * 1024 * 1024), declaredSize: 100 },
    ]);
    expect(await refusal(importArchive({ bytes, fileName: 'medium.zip' }))).toMatch(/inflates to more than/);
  });

  it('says clearly when the upload is not a zip at all', async () => {
    expect(await refusal(open(Buffer.from('not a zip')))).toMatch(
      /"upload\.zip" is not a readable zip archive/,
    );
  });
});

describe('openDirectory', () => {
  it('lists files with forward slashes and refuses symbolic links', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmtwin-archive-'));
    try {
      await mkdir(join(dir, 'posts'));
      await writeFile(join(dir, 'posts', 'a.html'), POST);
      const reader = await openDirectory(dir);
      expect(reader.entries).toEqual([{ path: 'posts/a.html', size: POST.length }]);
      expect((await reader.read('posts/a.html')).toString()).toBe(POST);
      await expect(reader.read('../outside')).rejects.toThrow(/has no file/);

      await symlink('/etc/hostname', join(dir, 'posts', 'b.html'));
      expect(await refusal(openDirectory(dir))).toMatch(/"posts\/b\.html" .* is a symbolic link/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a folder with more entries than the limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmtwin-archive-'));
    try {
      for (let i = 0; i < 4; i++) await writeFile(join(dir, `${i}.html`), POST);
      expect(await refusal(openDirectory(dir, { ...DEFAULT_ARCHIVE_LIMITS, maxEntries: 3 }))).toMatch(
        /more than 3 entries/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('entry names', () => {
  // Swedish, Russian, Chinese and an emoji (outside the BMP: a surrogate pair in JavaScript).
  const NAMES = [
    'posts/Vägen hem.html',
    'posts/Дорога домой.html',
    'posts/回家的路.html',
    'posts/🏡 home.html',
  ];
  const names = async (bytes: Buffer) => {
    const reader = await open(bytes);
    await reader.close();
    return reader.entries.map((e) => e.path);
  };
  // "Vägen" in code page 437, the zip format's original encoding: ä is 0x84.
  const CP437_VAGEN = Buffer.from([0x56, 0x84, 0x67, 0x65, 0x6e, 0x2e, 0x68, 0x74, 0x6d, 0x6c]);

  it('reads UTF-8 names with the UTF-8 flag (bit 11)', async () => {
    expect(await names(buildZip(NAMES.map((name) => ({ name, data: POST }))))).toEqual(NAMES);
  });

  it('reads UTF-8 names without the flag as UTF-8, as unzip and the desktop archivers do', async () => {
    const zip = buildZip(NAMES.map((name) => ({ name, data: POST, utf8Flag: false })));
    expect(await names(zip)).toEqual(NAMES);
  });

  it('reads a name that is not valid UTF-8 as CP437', async () => {
    expect(await names(buildZip([{ name: '', rawName: CP437_VAGEN, utf8Flag: false, data: POST }]))).toEqual([
      'Vägen.html',
    ]);
    // Box drawing and Greek from the upper half of the table.
    const raw = Buffer.from([0xc9, 0xcd, 0xbb, 0x20, 0xe0, 0xe1, 0x2e, 0x74, 0x78, 0x74]);
    expect(await names(buildZip([{ name: '', rawName: raw, utf8Flag: false, data: 'x' }]))).toEqual([
      '╔═╗ αß.txt',
    ]);
  });

  it('prefers the Info-ZIP Unicode Path extra field (0x7075) when its CRC matches the raw name', async () => {
    const zip = buildZip(
      NAMES.map((name, i) => {
        const rawName = Buffer.from(`posts/legacy-${i}.html`);
        return { name, rawName, utf8Flag: false, data: POST, extraFields: [unicodePathField(rawName, name)] };
      }),
    );
    expect(await names(zip)).toEqual(NAMES);
  });

  it('ignores a stale Unicode Path field whose CRC does not match the raw name', async () => {
    // A tool renamed the entry and left the old field: the header's name is the current one.
    const stale = unicodePathField(Buffer.from('posts/old name.html'), 'posts/Дорога.html');
    const zip = buildZip([
      { name: '', rawName: CP437_VAGEN, utf8Flag: false, data: POST, extraFields: [stale] },
    ]);
    expect(await names(zip)).toEqual(['Vägen.html']);
  });

  it("reads the names of archives made by the project's own writer (yazl)", async () => {
    expect(await names(await writeZip(NAMES.map((name) => ({ name, data: POST }))))).toEqual(NAMES);
  });

  it('reads the names of archives made by the zip tool (Info-ZIP), with and without a UTF-8 locale', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zip-names-'));
    try {
      await mkdir(join(dir, 'export', 'posts'), { recursive: true });
      for (const name of NAMES) await writeFile(join(dir, 'export', name), POST);
      const made: Buffer[] = [];
      for (const locale of ['C.UTF-8', 'C']) {
        const out = join(dir, `${locale}.zip`);
        await execFileAsync('zip', ['-q', '-r', out, 'posts'], {
          cwd: join(dir, 'export'),
          env: { ...process.env, LC_ALL: locale, LANG: locale },
        });
        made.push(await readFile(out));
      }
      for (const zip of made) expect([...(await names(zip))].sort()).toEqual([...NAMES].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
