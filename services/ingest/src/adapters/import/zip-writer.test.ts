import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openZip } from './archive.js';
import { writeZip, zipStream } from './zip-writer.js';

describe('writeZip', () => {
  const text = 'Paper 18: Variational Lossy Autoencoder\n'.repeat(200);
  const entries = [
    { name: 'pages.json', data: '{"pages":[]}' },
    { name: 'pages/ünïcode.html', data: text },
    { name: 'random.bin', data: new Uint8Array(Array.from({ length: 64 }, (_, i) => (i * 73) % 256)) },
  ];

  it('writes an archive that the importer and the unzip tool both read back byte for byte', async () => {
    const bytes = await writeZip(entries);
    const reader = await openZip({ bytes, fileName: 'out.zip' });
    expect(reader.entries.map((e) => e.path)).toEqual(entries.map((e) => e.name));
    for (const entry of entries) {
      const expected = typeof entry.data === 'string' ? Buffer.from(entry.data) : Buffer.from(entry.data);
      expect((await reader.read(entry.name)).equals(expected)).toBe(true);
    }
    await reader.close();

    const dir = mkdtempSync(join(tmpdir(), 'zip-writer-'));
    try {
      writeFileSync(join(dir, 'out.zip'), bytes);
      // -t checks every CRC; -p prints one entry as stored.
      expect(execFileSync('unzip', ['-t', join(dir, 'out.zip')]).toString()).toMatch(/No errors detected/);
      expect(execFileSync('unzip', ['-p', join(dir, 'out.zip'), 'pages/ünïcode.html']).toString()).toBe(text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deflates only what gets smaller, and gives the same bytes for the same input', async () => {
    const bytes = await writeZip(entries);
    expect(bytes.equals(await writeZip(entries))).toBe(true);
    // The compression method of each local header: 8 for the repetitive page, 0 for the short noise.
    const methods: number[] = [];
    for (let at = 0; bytes.readUInt32LE(at) === 0x04034b50;) {
      methods.push(bytes.readUInt16LE(at + 8));
      at += 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt32LE(at + 18);
    }
    expect(methods).toEqual([0, 8, 0]);
    expect(bytes.length).toBeLessThan(text.length / 4);
  });

  it('refuses names the reading side would refuse, and duplicates, before writing anything', async () => {
    await expect(writeZip([{ name: '../up.html', data: 'x' }])).rejects.toThrow(/path traversal/);
    await expect(writeZip([{ name: '/abs.html', data: 'x' }])).rejects.toThrow(/absolute path/);
    await expect(writeZip([{ name: 'a//b.html', data: 'x' }])).rejects.toThrow(/not a plain relative path/);
    expect(() =>
      zipStream([
        { name: 'a.html', data: 'x' },
        { name: 'a.html', data: 'y' },
      ]),
    ).toThrow(/listed twice/);
  });

  it('writes times in UTC whatever the time zone of the machine, and 1980-01-01 by default', () => {
    // Written by a process in each zone (a test cannot move its own process to another zone): the DOS time
    // and date of the first local header, for 2024-03-05 06:07:08 UTC and for no time at all.
    const script = [
      `import { writeZip } from ${JSON.stringify(fileURLToPath(new URL('./zip-writer.ts', import.meta.url)))};`,
      `const stamp = async (modified) => {`,
      `  const bytes = await writeZip([{ name: 'a.txt', data: 'a', ...(modified ? { modified } : {}) }]);`,
      `  return [bytes.readUInt16LE(10), bytes.readUInt16LE(12)];`,
      `};`,
      `console.log(JSON.stringify([await stamp(new Date('2024-03-05T06:07:08Z')), await stamp()]));`,
    ].join('\n');
    for (const tz of ['America/New_York', 'Asia/Kolkata']) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, TZ: tz },
      });
      expect(JSON.parse(out.toString())).toEqual([
        [(6 << 11) | (7 << 5) | (8 >> 1), ((2024 - 1980) << 9) | (3 << 5) | 5],
        [0, (1 << 5) | 1],
      ]);
    }
  });

  it('refuses a time a zip header cannot hold', async () => {
    await expect(writeZip([{ name: 'a.txt', data: 'a', modified: new Date('2200-01-01') }])).rejects.toThrow(
      /year 2200/,
    );
  });
});
