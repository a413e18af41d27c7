// A zip writer for tests: unlike writeZip (yazl) it can also write what a hostile archive holds (lying sizes,
// symbolic links, any entry name), which no well-behaved zip tool would produce. Stored or deflated entries,
// no zip64. Names are UTF-8 with the UTF-8 flag unless a spec gives the raw name bytes, the flag and extra
// fields itself (the name encodings of older and non-Info-ZIP tools).
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  name: string;
  data?: Uint8Array | string;
  /** Store instead of deflate. */
  stored?: boolean;
  /** Overrides the uncompressed size written in both headers (a lying header). */
  declaredSize?: number;
  /** Unix mode (e.g. 0o120777 for a symlink); written in the external attributes. */
  unixMode?: number;
  /** The name's bytes as written, in place of `name` in UTF-8 (e.g. CP437, or invalid UTF-8). */
  rawName?: Uint8Array;
  /** General-purpose bit 11 (names are UTF-8); default true. */
  utf8Flag?: boolean;
  /** Extra fields written in both headers, each as [header id, data]. */
  extraFields?: readonly (readonly [number, Uint8Array])[];
}

/** One entry's headers exactly as they will be written: no checks. */
interface ZipRecord {
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
  rawName: Uint8Array;
  flags: number;
  extra: Uint8Array;
}

/** An Info-ZIP Unicode Path extra field (0x7075): version 1, the CRC-32 of the header's name, the UTF-8 name. */
export function unicodePathField(rawName: Uint8Array, utf8Name: string): readonly [number, Uint8Array] {
  const head = Buffer.alloc(5);
  head.writeUInt8(1, 0);
  head.writeUInt32LE(crc32(rawName), 1);
  return [0x7075, Buffer.concat([head, Buffer.from(utf8Name, 'utf8')])];
}

// Version 2.0 (deflate); made by Unix (3) so the external attributes carry a Unix mode.
const VERSION_NEEDED = 20;
const VERSION_MADE_BY = (3 << 8) | 20;
const FLAG_UTF8_NAMES = 0x0800;
// 1980-01-01 00:00.
const DOS_TIME = 0;
const DOS_DATE = 0x21;

export function buildZip(specs: readonly ZipEntrySpec[]): Buffer {
  return assembleZip(
    specs.map((spec) => {
      const data =
        typeof spec.data === 'string' ? Buffer.from(spec.data, 'utf8') : Buffer.from(spec.data ?? []);
      return {
        name: spec.name,
        method: spec.stored ? 0 : 8,
        crc: crc32(data),
        body: spec.stored ? data : deflateRawSync(data),
        size: spec.declaredSize ?? data.length,
        unixMode: spec.unixMode ?? 0o100644,
        rawName: spec.rawName ?? Buffer.from(spec.name, 'utf8'),
        flags: spec.utf8Flag === false ? 0 : FLAG_UTF8_NAMES,
        extra: Buffer.concat(
          (spec.extraFields ?? []).map(([id, data]) => {
            const header = Buffer.alloc(4);
            header.writeUInt16LE(id, 0);
            header.writeUInt16LE(data.byteLength, 2);
            return Buffer.concat([header, data]);
          }),
        ),
      };
    }),
  );
}

/** Lays out local headers, bodies, the central directory and its end record for the given records. */
function assembleZip(records: readonly ZipRecord[]): Buffer {
  const parts: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const r of records) {
    const name = r.rawName;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(r.flags, 6);
    local.writeUInt16LE(r.method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(r.crc, 14);
    local.writeUInt32LE(r.body.byteLength, 18);
    local.writeUInt32LE(r.size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(r.extra.byteLength, 28);
    parts.push(local, name, r.extra, r.body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(VERSION_MADE_BY, 4);
    central.writeUInt16LE(VERSION_NEEDED, 6);
    central.writeUInt16LE(r.flags, 8);
    central.writeUInt16LE(r.method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(r.crc, 16);
    central.writeUInt32LE(r.body.byteLength, 20);
    central.writeUInt32LE(r.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(r.extra.byteLength, 30);
    central.writeUInt32LE((r.unixMode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name, r.extra);
    offset += local.length + name.length + r.extra.byteLength + r.body.byteLength;
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
