import { describe, expect, it } from '@jest/globals';
import { DomainError } from '@llmtwin/runtime';
import { AddressPolicy, nonPublicReason, parseHostAddress } from './address-policy.js';

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('parseHostAddress', () => {
  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['::1', '::1'],
  ])('reads %s as %s', (host, expected) => {
    expect(parseHostAddress(host)?.toString()).toBe(expected);
  });

  it('leaves names alone', () => {
    expect(parseHostAddress('medium.com')).toBeUndefined();
  });
});

describe('nonPublicReason', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('accepts public %s', (address) => {
    expect(nonPublicReason(parseHostAddress(address)!)).toBeUndefined();
  });

  it.each([
    ['64:ff9b:1::a00:1', /local-use NAT64/],
    ['2002:a00:1::1', /6to4 .* private/],
    ['::ffff:169.254.169.254', /IPv4-mapped .* link-local/],
    ['100::1', /discard/],
    ['2001:db8::1', /reserved/],
    ['fec0::1', /site-local/],
    ['::7f00:1', /IPv4-compatible/],
    ['198.18.0.1', /reserved|benchmarking/],
  ])('refuses %s', (address, reason) => {
    expect(nonPublicReason(parseHostAddress(address)!)).toMatch(reason);
  });
});

describe('AddressPolicy', () => {
  const policy = new AddressPolicy();

  it('accepts public https and http URLs on the default ports', () => {
    expect(policy.checkUrl('https://medium.com/@someone/a-post-123abc').hostname).toBe('medium.com');
    expect(policy.checkUrl('http://8.8.8.8/').hostname).toBe('8.8.8.8');
  });

  it('says what was refused and why', () => {
    const err = refusal(() => policy.checkUrl('http://0x7f.1/admin'));
    expect(err.kind).toBe('invalid-argument');
    expect(err.message).toBe(
      'refused to fetch 127.0.0.1: a loopback address (127.0.0.0/8) is not a public address',
    );
    expect(err.violations[0]?.field).toBe('url');
  });

  it('refuses other ports unless configured', () => {
    expect(refusal(() => policy.checkUrl('http://example.com:8080/')).message).toMatch(
      /port 8080 is not allowed/,
    );
    expect(new AddressPolicy({ ports: [80, 443, 8080] }).checkUrl('http://example.com:8080/').port).toBe(
      '8080',
    );
  });

  it('lets the allow-list override by CIDR, address and name, on any port', () => {
    const allowing = new AddressPolicy({
      allow: ['127.0.0.1/32', '10.1.2.3', '*.fixtures.test', 'intranet'],
    });
    expect(allowing.checkUrl('http://127.0.0.1:45678/x').port).toBe('45678');
    expect(allowing.checkUrl('http://2130706433:45678/x').hostname).toBe('127.0.0.1');
    expect(allowing.checkUrl('http://[::ffff:127.0.0.1]:1/').port).toBe('1');
    expect(() => allowing.checkAddress('10.1.2.3', 'some.example.com')).not.toThrow();
    expect(() => allowing.checkAddress('10.0.0.1', 'medium.fixtures.test')).not.toThrow();
    expect(allowing.checkUrl('http://intranet:8000/').hostname).toBe('intranet');
    expect(refusal(() => allowing.checkUrl('http://127.0.0.2/')).message).toMatch(/loopback/);
    expect(refusal(() => allowing.checkAddress('10.0.0.1', 'other.example.com')).message).toBe(
      'refused to fetch other.example.com (resolved to 10.0.0.1): a private address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) is not a public address',
    );
  });

  it('rejects allow-list entries it cannot read', () => {
    expect(() => new AddressPolicy({ allow: ['http://x y'] })).toThrow(/neither a CIDR/);
    expect(() => new AddressPolicy({ ports: [0] })).toThrow(/not a TCP port/);
  });

  it('refuses resolved values that are not addresses', () => {
    expect(refusal(() => policy.checkAddress('not-an-ip', 'example.com')).message).toMatch(
      /not an IP address/,
    );
  });
});
