// A minimal zip writer for archives this project makes itself (the demo's saved pages): stored or deflated
// entries, UTF-8 names, no zip64 and no extra fields, which is all yauzl and every common unzip tool need.
// Output is byte-for-byte reproducible: every entry carries the same timestamp unless one is given.
import { deflateRawSync } from 'node:zlib';
import { checkEntryName } from './archive.js';

export interface ZipFileEntry {
  /** Path inside the archive, forward slashes, no leading "/" and no "..". */
  name: string;
  data: Uint8Array | string;
  /** Store instead of deflate; by default an entry is stored only when deflating does not make it smaller. */
  store?: boolean;
  /** Defaults to 1980-01-01 00:00, the earliest time a zip header holds, so equal input gives equal bytes. */
  modified?: Date;
}

/** One entry's headers exactly as they will be written: no checks, so tests can also write hostile archives. */
export interface ZipRecord {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: 0 | 8;
  crc: number;
  /** The bytes as written (compressed for method 8). */
  body: Uint8Array;
  /** The uncompressed size written in both headers. */
  size: number;
  /** Unix mode in the external attributes (type bits included, e.g. 0o100644 for a regular file). */
  unixMode: number;
  dosTime: number;
  dosDate: number;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// Without zip64 every size and offset is a 32-bit field and the entry count a 16-bit one.
const MAX_ZIP32 = 0xffffffff;
const MAX_ENTRIES = 0xffff;
// Version 2.0 (deflate); made by Unix (3) so the external attributes carry a Unix mode.
const VERSION_NEEDED = 20;
const VERSION_MADE_BY = (3 << 8) | 20;
const FLAG_UTF8_NAMES = 0x0800;
const DOS_EPOCH_DATE = (0 << 9) | (1 << 5) | 1;

// In UTC, so the same input gives the same archive on every machine whatever its time zone.
function dosDateTime(date: Date | undefined): { dosTime: number; dosDate: number } {
  if (!date || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1980) {
    return { dosTime: 0, dosDate: DOS_EPOCH_DATE };
  }
  if (date.getUTCFullYear() > 2107)
    throw new Error(`a zip header cannot hold the year ${date.getUTCFullYear()}`);
  return {
    dosTime: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1),
    dosDate: ((date.getUTCFullYear() - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

/** Builds a zip archive in memory, refusing what the reading side (archive.ts) would refuse. */
export function writeZip(entries: readonly ZipFileEntry[]): Buffer {
  if (entries.length > MAX_ENTRIES)
    throw new Error(`a zip without zip64 holds at most ${MAX_ENTRIES} entries`);
  const seen = new Set<string>();
  const records = entries.map((entry): ZipRecord => {
    const name = checkEntryName(entry.name);
    if (name !== entry.name || name === '') throw new Error(`"${entry.name}" is not a plain relative path`);
    if (seen.has(name)) throw new Error(`"${name}" is listed twice`);
    seen.add(name);
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : entry.data;
    if (data.byteLength > MAX_ZIP32) throw new Error(`"${name}" is too large for a zip without zip64`);
    const deflated = entry.store ? undefined : deflateRawSync(data);
    const deflate = deflated !== undefined && deflated.byteLength < data.byteLength;
    return {
      name,
      method: deflate ? 8 : 0,
      crc: crc32(data),
      body: deflate ? deflated : data,
      size: data.byteLength,
      unixMode: 0o100644,
      ...dosDateTime(entry.modified),
    };
  });
  return assembleZip(records);
}

/** Lays out local headers, bodies, the central directory and its end record for the given records. */
export function assembleZip(records: readonly ZipRecord[]): Buffer {
  const parts: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(FLAG_UTF8_NAMES, 6);
    local.writeUInt16LE(r.method, 8);
    local.writeUInt16LE(r.dosTime, 10);
    local.writeUInt16LE(r.dosDate, 12);
    local.writeUInt32LE(r.crc, 14);
    local.writeUInt32LE(r.body.byteLength, 18);
    local.writeUInt32LE(r.size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, name, r.body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(VERSION_MADE_BY, 4);
    central.writeUInt16LE(VERSION_NEEDED, 6);
    central.writeUInt16LE(FLAG_UTF8_NAMES, 8);
    central.writeUInt16LE(r.method, 10);
    central.writeUInt16LE(r.dosTime, 12);
    central.writeUInt16LE(r.dosDate, 14);
    central.writeUInt32LE(r.crc, 16);
    central.writeUInt32LE(r.body.byteLength, 20);
    central.writeUInt32LE(r.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((r.unixMode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + r.body.byteLength;
    if (offset > MAX_ZIP32) throw new Error('the archive is too large for a zip without zip64');
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}
