import { describe, expect, it } from '@jest/globals';
import { SPACES, nonSpaceLength, normaliseInline } from './html-lineariser.js';

// The scans in html-lineariser.ts replace these regex definitions on the hot path; they must agree exactly.
const byRegex = (s: string): string =>
  s
    .replace(/[\u200b\u00ad\ufeff]/g, '')
    .replace(SPACES, ' ')
    .trim()
    .normalize('NFC');

const samples = [
  '',
  '   ',
  'plain words with single spaces',
  '  leading and trailing  ',
  '\n      indented\n      source text\t\twith tabs\r\n',
  'a \u00a0b',
  'no\u2003break\u3000spaces',
  'soft\u00adhyphen and zero\u200bwidth',
  'cafe\u0301 composed',
  'ÄÖÜ straße',
  'x\u0000y',
  'end \n',
  'DEL\u007fchar',
];

describe('normaliseInline', () => {
  it.each(samples)('collapses %j exactly as the regex definition does', (s) => {
    expect(normaliseInline(s)).toBe(byRegex(s));
  });
});

describe('nonSpaceLength', () => {
  it.each(samples)('counts the visible characters of %j', (s) => {
    expect(nonSpaceLength(s)).toBe(s.replace(SPACES, '').length);
  });
});
