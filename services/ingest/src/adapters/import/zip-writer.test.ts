import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openZip } from './archive.js';
import { crc32, writeZip } from './zip-writer.js';

describe('writeZip', () => {
  const text = 'Paper 18: Variational Lossy Autoencoder\n'.repeat(200);
  const entries = [
    { name: 'pages.json', data: '{"pages":[]}' },
    { name: 'pages/ünïcode.html', data: text },
    { name: 'random.bin', data: new Uint8Array(Array.from({ length: 64 }, (_, i) => (i * 73) % 256)) },
  ];

  it('writes an archive that the importer and the unzip tool both read back byte for byte', async () => {
    const bytes = writeZip(entries);
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

  it('deflates only what gets smaller, and gives the same bytes for the same input', () => {
    const bytes = writeZip(entries);
    expect(bytes.equals(writeZip(entries))).toBe(true);
    // The compression method of each local header: 8 for the repetitive page, 0 for the short noise.
    const methods: number[] = [];
    for (let at = 0; bytes.readUInt32LE(at) === 0x04034b50;) {
      methods.push(bytes.readUInt16LE(at + 8));
      at += 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt32LE(at + 18);
    }
    expect(methods).toEqual([0, 8, 0]);
    expect(bytes.length).toBeLessThan(text.length / 4);
  });

  it('refuses names the reading side would refuse, and duplicates', () => {
    expect(() => writeZip([{ name: '../up.html', data: 'x' }])).toThrow(/path traversal/);
    expect(() => writeZip([{ name: '/abs.html', data: 'x' }])).toThrow(/absolute path/);
    expect(() => writeZip([{ name: 'a//b.html', data: 'x' }])).toThrow(/not a plain relative path/);
    expect(() =>
      writeZip([
        { name: 'a.html', data: 'x' },
        { name: 'a.html', data: 'y' },
      ]),
    ).toThrow(/listed twice/);
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
