import { describe, expect, it } from '@jest/globals';
import { cleanCode, languageFromPath } from './clean-code.js';

describe('cleanCode', () => {
  it('returns the source byte for byte', () => {
    const source = '\ufeffdef f():\r\n\treturn "caf\u00e9"   \n\n\n# \u65e5\u672c\n';
    const bytes = Buffer.from(source, 'utf8');
    const cleaned = cleanCode(bytes, { path: 'src/f.py' });
    expect(cleaned).toEqual({ text: source, language: 'python', utf8: true });
    expect(Buffer.from(cleaned.text, 'utf8').equals(bytes)).toBe(true);
  });

  it('keeps invalid UTF-8 recoverable and says so', () => {
    const bytes = Uint8Array.from([0x61, 0xff, 0x62]);
    const cleaned = cleanCode(bytes, { language: 'c' });
    expect(cleaned.utf8).toBe(false);
    expect(Buffer.from(cleaned.text, 'latin1').equals(Buffer.from(bytes))).toBe(true);
  });

  it('names the language from the path when none is given', () => {
    expect(languageFromPath('a/b/main.go')).toBe('go');
    expect(languageFromPath('Dockerfile')).toBe('dockerfile');
    expect(cleanCode('x', { path: 'README' }).language).toBe('text');
  });
});
