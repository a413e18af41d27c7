// Decides whether a URL, host name or resolved address may be fetched by the crawlers (SSRF guard).
// Everything is judged on numbers: host strings go through the WHATWG URL parser (which turns
// 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 into 127.0.0.1) and then through ipaddr.js, so no spelling of
// an address can slip past a textual comparison.
import ipaddr from 'ipaddr.js';
import { DomainError } from '@llmtwin/runtime';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface AddressPolicyConfig {
  /**
   * Exceptions to the policy: CIDRs or single addresses ("127.0.0.1/32", "::1", "10.1.2.3") and host names
   * ("fixtures.test", "*.example.internal"). An allow-listed name is trusted whatever it resolves to; an
   * address or CIDR allows connecting to those addresses. Allow-listed hosts may use any port.
   */
  readonly allow?: readonly string[];
  /** Ports allowed for hosts outside the allow-list. Default 80 and 443. */
  readonly ports?: readonly number[];
}

export const DEFAULT_ALLOWED_PORTS: readonly number[] = Object.freeze([80, 443]);

// Names that never denote a public site, or that resolve to internal services on common platforms
// (metadata.google.internal, *.ec2.internal, instance-data on EC2).
const BLOCKED_NAME_SUFFIXES = [
  'localhost',
  'local',
  'internal',
  'localdomain',
  'home.arpa',
  'lan',
  'intranet',
  'corp',
];
const BLOCKED_NAMES = new Set(['instance-data', 'metadata', 'metadata.goog', 'kubernetes.default.svc']);

const refuse = (what: string, why: string, field = 'url'): DomainError =>
  new DomainError('invalid-argument', `refused to fetch ${what}: ${why}`, {
    violations: [{ field, message: why }],
  });

const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
const IPV4_COMPATIBLE_V6 = ipaddr.parseCIDR('::/96');

const V4_REASONS: Record<string, string> = {
  unspecified: 'an unspecified address (0.0.0.0/8)',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address (224.0.0.0/4)',
  linkLocal: 'a link-local address (169.254.0.0/16, where cloud metadata services live)',
  loopback: 'a loopback address (127.0.0.0/8)',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)',
  reserved: 'a reserved or documentation address',
  as112: 'an AS112 address',
  amt: 'an AMT relay address',
  benchmarking: 'a benchmarking address (198.18.0.0/15)',
};

const V6_REASONS: Record<string, string> = {
  unspecified: 'the unspecified IPv6 address (::)',
  linkLocal: 'a link-local IPv6 address (fe80::/10)',
  multicast: 'a multicast IPv6 address (ff00::/8)',
  loopback: 'the IPv6 loopback address (::1)',
  uniqueLocal: 'a unique-local IPv6 address (fc00::/7, e.g. the EC2 metadata service fd00:ec2::254)',
  teredo: 'a Teredo tunnel address (2001::/32), which can reach arbitrary IPv4 hosts',
  reserved: 'a reserved or documentation IPv6 address',
  discard: 'a discard-only IPv6 address (100::/64)',
  deprecatedSiteLocal: 'a site-local IPv6 address (fec0::/10)',
};

/** Parses a host as the WHATWG URL parser would (brackets, numeric IPv4 spellings); undefined for names. */
export function parseHostAddress(host: string): Address | undefined {
  let hostname: string;
  try {
    const bare = host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
    hostname = new URL(`http://${bare}/`).hostname;
  } catch {
    return undefined;
  }
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1);
  if (ipaddr.IPv4.isValidFourPartDecimal(hostname) || ipaddr.IPv6.isValid(hostname)) {
    return ipaddr.parse(hostname);
  }
  return undefined;
}

function embeddedV4(v6: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = v6.toByteArray();
  return new ipaddr.IPv4(bytes.slice(12, 16));
}

function sixToFourV4(v6: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = v6.toByteArray();
  return new ipaddr.IPv4(bytes.slice(2, 6));
}

/** Why an address is not public, or undefined when it is a public unicast address. */
export function nonPublicReason(address: Address): string | undefined {
  if (address.kind() === 'ipv4') {
    const range = address.range();
    if (range === 'unicast') return undefined;
    return V4_REASONS[range] ?? `a special-purpose address (${range})`;
  }
  const v6 = address as ipaddr.IPv6;
  // Addresses that carry an IPv4 address are judged by that address: connecting to them reaches it.
  if (v6.isIPv4MappedAddress()) {
    const inner = nonPublicReason(v6.toIPv4Address());
    return inner && `an IPv4-mapped IPv6 address of ${inner}`;
  }
  const range = v6.range();
  if (range === 'rfc6052') {
    if (!v6.match(NAT64_WELL_KNOWN)) return 'a local-use NAT64 address (64:ff9b:1::/48)';
    const inner = nonPublicReason(embeddedV4(v6));
    return inner && `a NAT64 address (64:ff9b::/96) embedding ${inner}`;
  }
  if (range === '6to4') {
    const inner = nonPublicReason(sixToFourV4(v6));
    return inner && `a 6to4 address (2002::/16) embedding ${inner}`;
  }
  if (range === 'rfc6145') return 'an IPv4-translated IPv6 address (::ffff:0:0:0/96)';
  if (range !== 'unicast') return V6_REASONS[range] ?? `a special-purpose IPv6 address (${range})`;
  if (v6.match(IPV4_COMPATIBLE_V6)) return 'an IPv4-compatible IPv6 address (::/96, deprecated)';
  if (!v6.match(GLOBAL_UNICAST_V6)) return 'an IPv6 address outside global unicast space (2000::/3)';
  return undefined;
}

function normaliseName(hostname: string): string {
  return hostname.toLowerCase().replace(/\.+$/, '');
}

function nameMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1));
  return name === pattern;
}

export class AddressPolicy {
  private readonly allowedCidrs: [Address, number][] = [];
  private readonly allowedNames: string[] = [];
  private readonly ports: ReadonlySet<number>;

  constructor(config: AddressPolicyConfig = {}) {
    for (const entry of config.allow ?? []) {
      const trimmed = entry.trim();
      if (trimmed === '') continue;
      if (ipaddr.isValidCIDR(trimmed)) {
        this.allowedCidrs.push(ipaddr.parseCIDR(trimmed));
        continue;
      }
      const address = parseHostAddress(trimmed);
      if (address) {
        this.allowedCidrs.push([address, address.kind() === 'ipv4' ? 32 : 128]);
        continue;
      }
      if (!/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(trimmed)) {
        throw new DomainError(
          'invalid-argument',
          `allow-list entry "${entry}" is neither a CIDR, an address nor a host name`,
          {
            violations: [{ field: 'allow', message: `unparseable entry ${entry}` }],
          },
        );
      }
      this.allowedNames.push(normaliseName(trimmed));
    }
    for (const port of config.ports ?? DEFAULT_ALLOWED_PORTS) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new DomainError('invalid-argument', `port ${port} is not a TCP port`, {
          violations: [{ field: 'ports', message: `invalid port ${port}` }],
        });
      }
    }
    this.ports = new Set(config.ports ?? DEFAULT_ALLOWED_PORTS);
  }

  isAllowListedName(hostname: string): boolean {
    const name = normaliseName(hostname);
    return this.allowedNames.some((pattern) => nameMatches(pattern, name));
  }

  isAllowListedAddress(address: Address): boolean {
    const candidates: Address[] = [address];
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
      candidates.push((address as ipaddr.IPv6).toIPv4Address());
    }
    return candidates.some((candidate) =>
      this.allowedCidrs.some(([net, bits]) => net.kind() === candidate.kind() && candidate.match(net, bits)),
    );
  }

  /**
   * Checks everything that can be judged before any network access: scheme, credentials, port, the host
   * name, and the address when the host is an IP literal. Returns the parsed URL.
   */
  checkUrl(input: string | URL): URL {
    let url: URL;
    try {
      url = new URL(String(input));
    } catch (cause) {
      throw new DomainError(
        'invalid-argument',
        `refused to fetch "${String(input)}": not a valid absolute URL`,
        {
          cause,
          violations: [{ field: 'url', message: 'not a valid absolute URL' }],
        },
      );
    }
    const shown = `${url.protocol}//${url.host}${url.pathname}`;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refuse(shown, `scheme ${url.protocol} is not allowed, only http: and https:`);
    }
    if (url.username !== '' || url.password !== '') {
      throw refuse(shown, 'URLs with embedded credentials are not fetched');
    }
    if (url.hostname === '') throw refuse(shown, 'the URL has no host');

    const address = parseHostAddress(url.hostname);
    const allowListed = address ? this.isAllowListedAddress(address) : this.isAllowListedName(url.hostname);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    if (address) {
      if (!allowListed) this.assertPublic(address, url.hostname);
    } else {
      this.checkHostname(url.hostname);
    }
    if (!allowListed && !this.ports.has(port)) {
      throw refuse(shown, `port ${port} is not allowed (allowed: ${[...this.ports].join(', ')})`);
    }
    return url;
  }

  /** Refuses host names that denote local or internal hosts, unless allow-listed. */
  checkHostname(hostname: string): void {
    const name = normaliseName(hostname);
    if (this.isAllowListedName(name)) return;
    if (parseHostAddress(name)) return;
    if (BLOCKED_NAMES.has(name)) throw refuse(hostname, `host name ${name} denotes an internal service`);
    for (const suffix of BLOCKED_NAME_SUFFIXES) {
      if (name === suffix || name.endsWith(`.${suffix}`)) {
        throw refuse(hostname, `host name ${name} is a local or internal name (.${suffix})`);
      }
    }
    if (!name.includes('.')) {
      throw refuse(
        hostname,
        `host name ${name} has a single label, which resolves through local search domains`,
      );
    }
  }

  /**
   * Checks one address a host name resolved to (or an IP literal). `host` is the name it came from, for the
   * message and for the name allow-list.
   */
  checkAddress(address: string, host: string = address): void {
    const parsed = parseHostAddress(address);
    if (!parsed) throw refuse(host, `resolved to "${address}", which is not an IP address`);
    if (this.isAllowListedName(host) || this.isAllowListedAddress(parsed)) return;
    this.assertPublic(parsed, host);
  }

  private assertPublic(address: Address, host: string): void {
    const reason = nonPublicReason(address);
    if (reason === undefined) return;
    const shown = address.toString();
    const subject =
      normaliseName(host) === shown || host === `[${shown}]` ? shown : `${host} (resolved to ${shown})`;
    throw refuse(subject, `${reason} is not a public address`);
  }
}
