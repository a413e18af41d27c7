// A zip writer for tests: unlike writeZip it can also write what a hostile archive holds (lying sizes,
// symbolic links, any entry name), which no well-behaved zip tool would produce.
import { deflateRawSync } from 'node:zlib';
import { assembleZip, crc32 } from './zip-writer.js';

export interface ZipEntrySpec {
  name: string;
  data?: Uint8Array | string;
  /** Store instead of deflate. */
  stored?: boolean;
  /** Overrides the uncompressed size written in both headers (a lying header). */
  declaredSize?: number;
  /** Unix mode (e.g. 0o120777 for a symlink); written in the external attributes. */
  unixMode?: number;
}

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
        dosTime: 0,
        dosDate: 0x21,
      };
    }),
  );
}
