// Hashes the dataset builder needs, with no Node module: SHA-256 through Web Crypto (the global `crypto`
// of every supported runtime) for identities that are recorded (content hashes, split assignment), and a
// fast 32-bit mix for MinHash, where speed matters and nothing is recorded.

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** SHA-256 of UTF-8 text or bytes, lowercase hex. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return hex(new Uint8Array(digest));
}

/** FNV-1a over the UTF-16 code units of a string, 32 bits. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: a cheap bijective scramble of 32 bits. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A number in [0, 1) from the first 32 bits of a SHA-256 hex digest. */
export const unitInterval = (hexDigest: string): number => parseInt(hexDigest.slice(0, 8), 16) / 2 ** 32;
