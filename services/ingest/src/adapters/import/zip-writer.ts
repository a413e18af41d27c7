// Writes the zip archives this project makes itself (the demo's saved pages) with yazl, the writing half of
// the yazl/yauzl pair whose reader (yauzl) archive.ts already uses: one maintained pair writes and reads every
// archive. yazl over fflate because it streams: the archive comes out of a Node stream as entries are
// added, deflated by Node's zlib off the main thread, and it turns to zip64 by itself where an archive needs
// it, where fflate's in-memory zipSync would block the event loop on its JavaScript deflate.
// What is ours: names are checked as the reading side checks them (a name it would refuse is never written),
// an entry is stored when deflating does not make it smaller (as zip tools do; deciding costs one extra
// deflate of each entry, cheap for the small archives written here), and output is byte-for-byte
// reproducible: every entry carries the same timestamp unless one is given, in UTC, and no extended
// timestamp field. Hostile archives for tests come from zip-writer.fixture.ts, which no library would write.
import { buffer } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import { ZipFile } from 'yazl';
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

const deflateRawAsync = promisify(deflateRaw);
const REGULAR_FILE = 0o100644;

/**
 * The Date whose local-time fields are `date`'s UTC fields: yazl writes a DOS time from local-time getters,
 * and an archive must not depend on the time zone of the machine that wrote it.
 */
function dosTimestamp(date: Date | undefined): Date {
  if (!date || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1980) return new Date(1980, 0, 1);
  if (date.getUTCFullYear() > 2107)
    throw new Error(`a zip header cannot hold the year ${date.getUTCFullYear()}`);
  return new Date(
    date.getUTCFullYear(),
    date.getUTCMonth(),
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  );
}

/** Checks every entry as the reading side (archive.ts) would, before a byte is written. */
function checkEntries(entries: readonly ZipFileEntry[]) {
  const seen = new Set<string>();
  return entries.map((entry) => {
    const name = checkEntryName(entry.name);
    if (name !== entry.name || name === '') throw new Error(`"${entry.name}" is not a plain relative path`);
    if (seen.has(name)) throw new Error(`"${name}" is listed twice`);
    seen.add(name);
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : entry.data;
    return {
      name,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      store: entry.store ?? false,
      mtime: dosTimestamp(entry.modified),
    };
  });
}

/** The archive as a stream. Bad entries throw here; a failure while writing destroys the stream. */
export function zipStream(entries: readonly ZipFileEntry[]): Readable {
  const checked = checkEntries(entries);
  const zip = new ZipFile();
  const out = zip.outputStream as Readable;
  zip.on('error', (err: Error) => out.destroy(err));
  const add = async () => {
    // In order, one at a time: entries are written in the order they are added.
    for (const entry of checked) {
      const compress = !entry.store && (await deflateRawAsync(entry.data)).byteLength < entry.data.byteLength;
      zip.addBuffer(entry.data, entry.name, {
        mtime: entry.mtime,
        mode: REGULAR_FILE,
        compress,
        forceDosTimestamp: true,
      });
    }
    zip.end();
  };
  add().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}

/** Builds a zip archive in memory, refusing what the reading side (archive.ts) would refuse. */
export async function writeZip(entries: readonly ZipFileEntry[]): Promise<Buffer> {
  return buffer(zipStream(entries));
}
