import { describe, expect, it } from '@jest/globals';
import { decodeHtml, decodeWindows1252, prescanMetaCharset } from './html-encoding.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

describe('decodeHtml', () => {
  it('maps windows-1252 0x80–0x9F to the characters a browser shows', () => {
    expect(decodeWindows1252(Uint8Array.from([0x80, 0x85, 0x93, 0x94, 0x99, 0xe9]))).toBe(
      '\u20ac\u2026\u201c\u201d\u2122\u00e9',
    );
  });

  it('lets a BOM win over every declaration', () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('<meta charset="iso-8859-1">\u00e9', 'utf8'),
    ]);
    const decoded = decodeHtml(body, 'text/html; charset=windows-1252');
    expect(decoded).toMatchObject({ encoding: 'utf-8', source: 'bom' });
    expect(decoded.text.endsWith('\u00e9')).toBe(true);
    expect(decoded.text.startsWith('\ufeff')).toBe(false);
  });

  it('prefers the Content-Type charset to the meta tag', () => {
    expect(decodeHtml(bytes('<meta charset="utf-8">\xe9'), 'text/html; charset="ISO-8859-1"')).toMatchObject({
      encoding: 'windows-1252',
      source: 'content-type',
      text: '<meta charset="utf-8">\u00e9',
    });
  });

  it('finds meta charset and http-equiv declarations in the first 1024 bytes', () => {
    expect(prescanMetaCharset(bytes('<html><head><meta charset=shift_jis>'))).toBe('shift_jis');
    expect(
      prescanMetaCharset(bytes('<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">')),
    ).toBe('koi8-r');
    expect(prescanMetaCharset(bytes('<meta name="description" content="charset=koi8-r">'))).toBeUndefined();
    expect(prescanMetaCharset(bytes(`${' '.repeat(1100)}<meta charset="koi8-r">`))).toBeUndefined();
    expect(prescanMetaCharset(bytes('<meta charset="utf-16">'))).toBe('utf-8');
  });

  it('decodes a declared legacy encoding', () => {
    const sjis = Uint8Array.from([...Buffer.from('<meta charset="shift_jis">'), 0x93, 0xfa, 0x96, 0x7b]);
    expect(decodeHtml(sjis).text.endsWith('\u65e5\u672c')).toBe(true);
  });

  it('sniffs valid UTF-8 and falls back to windows-1252 otherwise', () => {
    expect(decodeHtml(Buffer.from('<p>\u017c\u00f3\u0142w</p>', 'utf8'))).toMatchObject({
      encoding: 'utf-8',
      source: 'sniffed',
      text: '<p>\u017c\u00f3\u0142w</p>',
    });
    expect(decodeHtml(bytes('<p>caf\xe9 \x93ok\x94</p>'))).toMatchObject({
      encoding: 'windows-1252',
      text: '<p>caf\u00e9 \u201cok\u201d</p>',
    });
  });
});
