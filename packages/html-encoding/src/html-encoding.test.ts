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

  it('skips <meta> tags inside comments, as the prescan does', () => {
    expect(prescanMetaCharset(bytes('<!-- <meta charset="koi8-r"> --><meta charset="shift_jis">'))).toBe(
      'shift_jis',
    );
    expect(prescanMetaCharset(bytes('<!-- left open <meta charset="koi8-r">'))).toBeUndefined();
    const declaredInComment = Uint8Array.from([...bytes('<!-- <meta charset="koi8-r"> --><p>'), 0xe9]);
    expect(decodeHtml(declaredInComment)).toMatchObject({
      encoding: 'windows-1252',
      text: expect.stringMatching(/\u00e9$/),
    });
  });

  it('decodes an unknown Content-Type charset as if none were given, and honours UTF-16 there', () => {
    expect(
      decodeHtml(bytes('<meta charset="koi8-r">\xe9'), 'text/html; charset=no-such-thing'),
    ).toMatchObject({
      encoding: 'koi8-r',
      source: 'meta',
    });
    const utf16 = Buffer.from('<p>\u00e9</p>', 'utf16le');
    expect(decodeHtml(utf16, 'text/html; charset=utf-16le')).toMatchObject({
      encoding: 'utf-16le',
      source: 'content-type',
      text: '<p>\u00e9</p>',
    });
  });

  it('finds a charset declared past the first 1024 bytes when the bytes are not UTF-8', () => {
    const late = Uint8Array.from([...bytes(`${' '.repeat(2000)}<meta charset="koi8-r">`), 0xc1]);
    expect(decodeHtml(late)).toMatchObject({ encoding: 'koi8-r', source: 'meta' });
    expect(decodeHtml(late).text.endsWith('\u0430')).toBe(true);
  });

  it('decodes a declared legacy encoding', () => {
    const sjis = Uint8Array.from([...Buffer.from('<meta charset="shift_jis">'), 0x93, 0xfa, 0x96, 0x7b]);
    expect(decodeHtml(sjis).text.endsWith('\u65e5\u672c')).toBe(true);
  });

  it('names undeclared plain ASCII UTF-8', () => {
    expect(decodeHtml(bytes('<p>plain</p>'))).toMatchObject({
      encoding: 'utf-8',
      source: 'sniffed',
      text: '<p>plain</p>',
    });
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

// Ingest's decoder tests, from before the two decoders became this one.
describe('decodeHtml (as ingest reads pages)', () => {
  it('follows the BOM, then meta charset, then guesses', () => {
    expect(decodeHtml(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).text).toBe('A');
    const latin = new Uint8Array([...Buffer.from('<meta charset="iso-8859-1"><p>'), 0xe9]);
    expect(decodeHtml(latin).text.endsWith('é')).toBe(true);
    expect(decodeHtml(new Uint8Array([0x93, 0x41, 0x94])).text).toBe('“A”');
    expect(decodeHtml(new Uint8Array(Buffer.from('<p>é'))).encoding).toBe('utf-8');
  });
});
