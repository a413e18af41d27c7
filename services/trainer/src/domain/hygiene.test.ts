import { describe, expect, it } from '@jest/globals';
import { normalizeForDedup, scrubPii } from './hygiene.js';

describe('PII scrub', () => {
  it('replaces e-mail addresses and counts them', () => {
    const r = scrubPii('Write to jane.doe+blog@example.co.uk or to bob@mail.example.com, not to @handles.');
    expect(r.text).toBe('Write to [email] or to [email], not to @handles.');
    expect(r.emails).toBe(2);
    expect(r.phones).toBe(0);
  });

  it('replaces phone numbers in the usual layouts', () => {
    const samples = [
      '+1 415 555 0134',
      '+44 20 7946 0958',
      '(415) 555-0134',
      '415-555-0134',
      '030 1234 5678',
      '+49 (0)30 12345678',
      '06.12.34.56.78',
    ];
    for (const phone of samples) {
      const r = scrubPii(`Call me at ${phone} today.`);
      expect({ phone, text: r.text, phones: r.phones }).toEqual({
        phone,
        text: 'Call me at [phone] today.',
        phones: 1,
      });
    }
  });

  it('leaves years, dates, versions, addresses, ids and prices alone', () => {
    const text =
      'In 2023 (from 2019-2021, and on 2024-01-15 and 15.01.2024) version 1.2.3 of the tool ran on ' +
      '192.168.100.200 with order 20231115, costing 1 299 euros; the loop ran 1000 times.';
    expect(scrubPii(text)).toEqual({ text, emails: 0, phones: 0 });
  });

  it('folds case and punctuation for exact de-duplication', () => {
    expect(normalizeForDedup('Hello,  World!\n— Ünïcode')).toBe('hello world ünïcode');
    expect(normalizeForDedup('HELLO world')).toBe(normalizeForDedup('hello, world.'));
  });
});
