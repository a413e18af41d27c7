// Bounded reading of an uploaded export archive (zip) or of a folder a user already unzipped. Archives are
// untrusted input: every limit is checked against the declared sizes first and again against the bytes that
// actually come out of the inflater, because a zip header can lie about its sizes.
import { invalidArgument } from '@llmtwin/runtime';
import { isUtf8 } from 'node:buffer';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';

export interface ArchiveLimits {
  /** Most entries (files and folders) the archive may list. */
  maxEntries: number;
  /** Most uncompressed bytes of one entry. */
  maxEntryBytes: number;
  /** Most uncompressed bytes of all entries together. */
  maxTotalBytes: number;
  /** Highest uncompressed/compressed ratio of one entry (a zip bomb reaches thousands). */
  maxCompressionRatio: number;
  /** The settings that raise each limit, named in the refusals (the importer itself has none). */
  settingNames?: Partial<Record<'maxEntries' | 'maxEntryBytes' | 'maxTotalBytes', string>>;
}

/** " (raise it with X)" for a limit that a setting controls. */
const raiseWith = (limits: ArchiveLimits, limit: keyof NonNullable<ArchiveLimits['settingNames']>) => {
  const setting = limits.settingNames?.[limit];
  return setting ? ` (raise it with ${setting})` : '';
};

// Real exports are a few hundred HTML/CSV files of some KiB each; these bounds leave room for years of
// writing while keeping a hostile upload far below the memory of one process.
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = Object.freeze({
  maxEntries: 20_000,
  maxEntryBytes: 32 * 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
  maxCompressionRatio: 200,
});

// Tiny entries compress at absurd ratios legitimately (a 2 KiB run of spaces), so the ratio only counts once
// an entry is big enough to matter.
const RATIO_FLOOR_BYTES = 1024 * 1024;

export interface ArchiveEntry {
  /** Normalised relative path with forward slashes. */
  path: string;
  /** Declared uncompressed size (for a folder, the file size on disk). */
  size: number;
}

export interface ArchiveReader {
  /** A label for messages: the zip file name or the folder. */
  readonly name: string;
  /** Every file in the archive (folders left out); listing reads no content. */
  readonly entries: readonly ArchiveEntry[];
  /** Reads one entry fully, within the limits. */
  read(path: string): Promise<Buffer>;
  /** Every entry path read so far, in order: lets callers and tests prove what was never opened. */
  readonly opened: readonly string[];
  close(): Promise<void>;
}

/** Refuses names that could escape an extraction folder or mean something else on another OS. */
export function checkEntryName(name: string): string {
  if (name.includes('\0')) throw invalidArgument(`archive entry name contains a NUL byte: refused`);
  if (name.includes('\\')) {
    throw invalidArgument(`archive entry "${name}" contains a backslash: refused (path separator confusion)`);
  }
  if (name.startsWith('/')) throw invalidArgument(`archive entry "${name}" is an absolute path: refused`);
  if (/^[a-zA-Z]:/.test(name)) throw invalidArgument(`archive entry "${name}" has a drive letter: refused`);
  const segments = name.split('/');
  if (segments.some((s) => s === '..')) {
    throw invalidArgument(
      `archive entry "${name}" climbs out of the archive with "..": refused (path traversal)`,
    );
  }
  return segments.filter((s) => s !== '' && s !== '.').join('/');
}

function checkEntrySize(path: string, size: number, limits: ArchiveLimits): void {
  if (size > limits.maxEntryBytes) {
    throw invalidArgument(
      `archive entry "${path}" is ${size} bytes uncompressed, over the limit of ${limits.maxEntryBytes}` +
        `${raiseWith(limits, 'maxEntryBytes')}: refused`,
    );
  }
}

function checkRatio(path: string, uncompressed: number, compressed: number, limits: ArchiveLimits): void {
  if (uncompressed < RATIO_FLOOR_BYTES) return;
  if (uncompressed / Math.max(compressed, 1) > limits.maxCompressionRatio) {
    throw invalidArgument(
      `archive entry "${path}" expands ${Math.round(uncompressed / Math.max(compressed, 1))}x, over the ` +
        `compression ratio limit of ${limits.maxCompressionRatio}: refused as a likely zip bomb`,
    );
  }
}

class TotalCounter {
  private total = 0;
  constructor(
    private readonly limits: ArchiveLimits,
    private readonly what: string,
  ) {}
  add(bytes: number): void {
    this.total += bytes;
    if (this.total > this.limits.maxTotalBytes) {
      throw invalidArgument(
        `${this.what} holds more than ${this.limits.maxTotalBytes} uncompressed bytes in all` +
          `${raiseWith(this.limits, 'maxTotalBytes')}: refused (archive too large)`,
      );
    }
  }
}

const UNICODE_PATH_FIELD = 0x7075;

// Code page 437, the zip format's original name encoding: the upper half of the table (0x80-0xFF).
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeCp437(raw: Buffer): string {
  let out = '';
  for (const byte of raw) out += byte < 0x80 ? String.fromCharCode(byte) : CP437_HIGH[byte - 0x80];
  return out;
}

/**
 * An entry's name as its writer meant it, in the order unzip and the desktop archivers use: the Info-ZIP
 * Unicode Path extra field when its CRC matches the header's name (a stale field, left by a tool that renamed
 * the entry without updating it, does not match and is ignored); the name as UTF-8 when bit 11 says so or
 * when the bytes are valid UTF-8 anyway — Info-ZIP's zip, macOS and many libraries write UTF-8 without the
 * flag, and CP437 text with bytes over 0x7F is almost never valid UTF-8; otherwise CP437. yauzl's own
 * decoding reads unflagged names as CP437 only, which turned "Vägen" into "V├ñgen".
 */
export function decodeEntryName(raw: Buffer, extraFields: readonly { id: number; data: Buffer }[]): string {
  for (const field of extraFields) {
    if (field.id !== UNICODE_PATH_FIELD || field.data.length < 5 || field.data.readUInt8(0) !== 1) continue;
    const name = field.data.subarray(5);
    if (field.data.readUInt32LE(1) === crc32(raw) && isUtf8(name)) return name.toString('utf8');
  }
  // Bit 11 needs no test of its own: a truthfully flagged name is valid UTF-8 and is read as such here;
  // a flagged name that is not valid UTF-8 (a writer's bug) reads as CP437, which keeps it distinct and
  // printable instead of collapsing its bytes to U+FFFD. Pure ASCII reads the same either way.
  if (isUtf8(raw)) return raw.toString('utf8');
  return decodeCp437(raw);
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

interface ZipSlot {
  entry: yauzl.Entry;
  path: string;
}

export async function openZip(
  // fileName labels a zip on disk in messages, where its path (a stored upload's) would mean nothing to the user.
  source: { zipPath: string; fileName?: string } | { bytes: Uint8Array; fileName: string },
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<ArchiveReader> {
  // decodeStrings off: yauzl would otherwise reject bad names with its own wording (or silently turn
  // backslashes into slashes); the names are checked here with messages that say what is wrong.
  const options: yauzl.Options = {
    lazyEntries: true,
    autoClose: false,
    decodeStrings: false,
    validateEntrySizes: false,
  };
  const name = source.fileName ?? ('zipPath' in source ? source.zipPath : '');
  let zip: yauzl.ZipFile;
  try {
    zip =
      'zipPath' in source
        ? await yauzl.openPromise(source.zipPath, options)
        : await yauzl.fromBufferPromise(Buffer.from(source.bytes), options);
  } catch (err) {
    const e = invalidArgument(`"${name}" is not a readable zip archive: ${(err as Error).message}`);
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw invalidArgument(
        `"${name}" lists ${zip.entryCount} entries, over the limit of ${limits.maxEntries}` +
          `${raiseWith(limits, 'maxEntries')}: refused`,
      );
    }
    const slots = new Map<string, ZipSlot>();
    const declaredTotal = new TotalCounter(limits, `"${name}"`);
    for await (const entry of zip.eachEntry()) {
      const raw = entry.fileNameRaw;
      const fileName = decodeEntryName(raw, entry.extraFields);
      const path = checkEntryName(fileName);
      const madeByUnix = entry.versionMadeBy >> 8 === 3;
      if (madeByUnix && ((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) {
        throw invalidArgument(`archive entry "${fileName}" is a symbolic link: refused`);
      }
      if (fileName.endsWith('/')) continue;
      if (entry.isEncrypted()) throw invalidArgument(`archive entry "${fileName}" is encrypted: refused`);
      checkEntrySize(path, entry.uncompressedSize, limits);
      checkRatio(path, entry.uncompressedSize, entry.compressedSize, limits);
      declaredTotal.add(entry.uncompressedSize);
      if (slots.has(path))
        throw invalidArgument(`archive lists "${path}" twice: refused (ambiguous content)`);
      slots.set(path, { entry, path });
    }
    return new ZipReader(name, zip, slots, limits);
  } catch (err) {
    zip.close();
    throw err;
  }
}

class ZipReader implements ArchiveReader {
  readonly entries: readonly ArchiveEntry[];
  readonly opened: string[] = [];
  private readonly inflated: TotalCounter;

  constructor(
    readonly name: string,
    private readonly zip: yauzl.ZipFile,
    private readonly slots: Map<string, ZipSlot>,
    private readonly limits: ArchiveLimits,
  ) {
    this.entries = [...slots.values()].map((s) => ({ path: s.path, size: s.entry.uncompressedSize }));
    this.inflated = new TotalCounter(limits, `"${name}"`);
  }

  async read(path: string): Promise<Buffer> {
    const slot = this.slots.get(path);
    if (!slot) throw invalidArgument(`"${this.name}" has no entry "${path}"`);
    this.opened.push(path);
    const { entry } = slot;
    const stream = await this.zip.openReadStreamPromise(entry);
    const chunks: Buffer[] = [];
    let count = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        count += chunk.length;
        // The header's size is a claim; these checks hold against what the inflater really produces.
        if (count > entry.uncompressedSize) {
          throw invalidArgument(
            `archive entry "${path}" inflates to more than its declared ${entry.uncompressedSize} bytes: ` +
              `refused (corrupt or hostile archive)`,
          );
        }
        checkEntrySize(path, count, this.limits);
        checkRatio(path, count, entry.compressedSize, this.limits);
        this.inflated.add(chunk.length);
        chunks.push(chunk);
      }
    } finally {
      stream.destroy();
    }
    if (count !== entry.uncompressedSize) {
      throw invalidArgument(
        `archive entry "${path}" holds ${count} bytes, not the declared ${entry.uncompressedSize}: refused (corrupt archive)`,
      );
    }
    return Buffer.concat(chunks, count);
  }

  close(): Promise<void> {
    this.zip.close();
    return Promise.resolve();
  }
}

/** An export the user already unzipped. Symbolic links are refused: they could point anywhere on disk. */
export async function openDirectory(
  dir: string,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<ArchiveReader> {
  const root = await lstat(dir).catch((err: unknown) => {
    const e = invalidArgument(`"${dir}" cannot be read: ${(err as Error).message}`);
    (e as { cause?: unknown }).cause = err;
    throw e;
  });
  if (!root.isDirectory()) throw invalidArgument(`"${dir}" is not a folder`);
  const entries: ArchiveEntry[] = [];
  const total = new TotalCounter(limits, `"${dir}"`);
  let listed = 0;
  const walk = async (folder: string): Promise<void> => {
    const children = await readdir(folder, { withFileTypes: true });
    children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const child of children) {
      listed += 1;
      if (listed > limits.maxEntries) {
        throw invalidArgument(
          `"${dir}" holds more than ${limits.maxEntries} entries${raiseWith(limits, 'maxEntries')}: refused`,
        );
      }
      const full = join(folder, child.name);
      const path = relative(dir, full).split(sep).join('/');
      if (child.isSymbolicLink()) throw invalidArgument(`"${path}" in "${dir}" is a symbolic link: refused`);
      if (child.isDirectory()) {
        await walk(full);
      } else if (child.isFile()) {
        const { size } = await lstat(full);
        checkEntrySize(path, size, limits);
        total.add(size);
        entries.push({ path, size });
      }
    }
  };
  await walk(dir);
  return new DirectoryReader(dir, entries, limits);
}

class DirectoryReader implements ArchiveReader {
  readonly opened: string[] = [];
  private readonly known: Set<string>;

  constructor(
    readonly name: string,
    readonly entries: readonly ArchiveEntry[],
    private readonly limits: ArchiveLimits,
  ) {
    this.known = new Set(entries.map((e) => e.path));
  }

  async read(path: string): Promise<Buffer> {
    if (!this.known.has(path)) throw invalidArgument(`"${this.name}" has no file "${path}"`);
    this.opened.push(path);
    const full = join(this.name, ...path.split('/'));
    // Checked again at read time: the folder may have changed since it was listed.
    const info = await lstat(full);
    if (info.isSymbolicLink())
      throw invalidArgument(`"${path}" in "${this.name}" is a symbolic link: refused`);
    checkEntrySize(path, info.size, this.limits);
    return readFile(full);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
