// Turns fetched bytes into the text a browser would show: the WHATWG "determine the character encoding"
// order (BOM, then the transport's charset, then a <meta> prescan of the first 1024 bytes, comments
// skipped), then a guess where nothing is declared. The spec lets a browser guess at that point; we take
// UTF-8 when the bytes are valid UTF-8 (what Chromium's detector concludes for such pages), then a <meta>
// declared later in the page (a browser's detector finds those too), and windows-1252 otherwise.
// The one decoder of the project: ingest and clean each had their own until they met here, this one (clean's,
// measured on the extraction benchmarks) with the comment skipping of ingest's.

export interface DecodedHtml {
  text: string;
  /** WHATWG encoding name actually used, e.g. 'utf-8', 'windows-1252', 'shift_jis'. */
  encoding: string;
  /** Where the choice came from, for debugging odd pages. */
  source: 'bom' | 'content-type' | 'meta' | 'sniffed' | 'default';
}

// Node's TextDecoder decodes the windows-1252 label as ISO-8859-1, so 0x80–0x9F would come out as C1
// control characters instead of € ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ.
const WINDOWS_1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
];

export function decodeWindows1252(bytes: Uint8Array): string {
  const parts: string[] = [];
  const chunk = 8192;
  const codes = new Array<number>(chunk);
  for (let start = 0; start < bytes.length; start += chunk) {
    const end = Math.min(bytes.length, start + chunk);
    codes.length = end - start;
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      codes[i - start] = b >= 0x80 && b <= 0x9f ? WINDOWS_1252_HIGH[b - 0x80]! : b;
    }
    parts.push(String.fromCharCode(...codes));
  }
  return parts.join('');
}

/** Resolves a charset label to a WHATWG encoding name, or undefined when the label is unknown. */
export function resolveEncodingLabel(label: string | undefined): string | undefined {
  if (!label) return undefined;
  const trimmed = label.trim().replace(/^["']|["']$/g, '');
  if (!trimmed) return undefined;
  try {
    return new TextDecoder(trimmed).encoding;
  } catch {
    return undefined;
  }
}

export function charsetFromContentType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const m = /;\s*charset\s*=\s*("?)([^";,\s]+)\1/i.exec(contentType);
  return resolveEncodingLabel(m?.[2]);
}

/**
 * The <meta> prescan, simplified: attributes of each <meta> tag in the window, charset= or http-equiv, outside
 * comments (a comment left open runs to the end of the window, where the spec's prescan stops).
 */
export function prescanMetaCharset(bytes: Uint8Array, limit = 1024): string | undefined {
  const head = decodeWindows1252(bytes.subarray(0, Math.min(limit, bytes.length))).replace(
    /<!--[\s\S]*?(?:-->|$)/g,
    '',
  );
  const metaTag = /<meta\b([^>]*)>?/gi;
  for (let m = metaTag.exec(head); m; m = metaTag.exec(head)) {
    const attrs = m[1] ?? '';
    const charset = /\bcharset\s*=\s*["']?\s*([^"'\s/>;]+)/i.exec(attrs);
    if (!charset) continue;
    // A bare charset= inside content="" only counts with http-equiv=content-type, as in the spec.
    const direct = /(?:^|\s)charset\s*=/i.test(attrs);
    if (!direct && !/http-equiv\s*=\s*["']?\s*content-type/i.test(attrs)) continue;
    let encoding = resolveEncodingLabel(charset[1]);
    if (!encoding) continue;
    // The spec: a page cannot declare itself UTF-16 in a meta tag it wrote in an ASCII-compatible encoding.
    if (encoding === 'utf-16le' || encoding === 'utf-16be') encoding = 'utf-8';
    if (encoding === 'x-user-defined') encoding = 'windows-1252';
    return encoding;
  }
  return undefined;
}

function bomEncoding(bytes: Uint8Array): { encoding: string; skip: number } | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf-8', skip: 3 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', skip: 2 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', skip: 2 };
  return undefined;
}

/** The bytes as UTF-8, or undefined where they are not valid UTF-8: validating and decoding are one pass. */
function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function decodeWith(bytes: Uint8Array, encoding: string): string {
  if (encoding === 'windows-1252') return decodeWindows1252(bytes);
  // ignoreBOM: the BOM was handled (and stripped) above; a stray one later is text.
  return new TextDecoder(encoding, { ignoreBOM: true }).decode(bytes);
}

export function decodeHtml(bytes: Uint8Array, contentType?: string): DecodedHtml {
  const bom = bomEncoding(bytes);
  if (bom) {
    return {
      text: decodeWith(bytes.subarray(bom.skip), bom.encoding),
      encoding: bom.encoding,
      source: 'bom',
    };
  }
  const declared = charsetFromContentType(contentType);
  if (declared) {
    const encoding = declared === 'x-user-defined' ? 'windows-1252' : declared;
    return { text: decodeWith(bytes, encoding), encoding, source: 'content-type' };
  }
  const meta = prescanMetaCharset(bytes);
  if (meta) return { text: decodeWith(bytes, meta), encoding: meta, source: 'meta' };
  // Plain ASCII reads the same in every encoding a page may declare late; it is named UTF-8, the truthful
  // label for bytes that ingest stores and clean decodes again (ingest's decoder did so; clean's said
  // windows-1252, the same text).
  const utf8 = strictUtf8(bytes);
  if (utf8 !== undefined) return { text: utf8, encoding: 'utf-8', source: 'sniffed' };
  // Pages often declare their charset past the first 1024 bytes; a browser's detector still finds it.
  const lateMeta = prescanMetaCharset(bytes, 16384);
  if (lateMeta) return { text: decodeWith(bytes, lateMeta), encoding: lateMeta, source: 'meta' };
  return { text: decodeWindows1252(bytes), encoding: 'windows-1252', source: 'default' };
}
