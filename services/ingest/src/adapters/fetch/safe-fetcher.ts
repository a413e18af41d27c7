// The only way the crawlers reach the network. Every hop (first URL, each redirect, robots.txt) goes
// through the address policy before any socket is opened, and host names are resolved by our own lookup,
// which checks every address and hands exactly those addresses to the socket: what was checked is what is
// connected to, so a DNS answer that changes between check and connect (rebinding) changes nothing.
import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import {
  gotScraping,
  TransformHeadersAgent,
  type GotScraping,
  type OptionsInit,
  type Request,
} from 'got-scraping';
import { DomainError, isDomainError } from '@llmtwin/runtime';
import { AddressPolicy, parseHostAddress, type AddressPolicyConfig } from './address-policy.js';
import { HostLimiter } from './host-limiter.js';
import { RobotsCache, type RobotsSource } from './robots-cache.js';

export type Resolver = (hostname: string) => Promise<string[]>;

export interface FetchTimeouts {
  /** DNS lookup plus TCP (and TLS) connection, per attempt. Default 10 s. */
  readonly connectMs?: number;
  /** From the request being sent to the first response byte, per attempt. Default 20 s. */
  readonly responseMs?: number;
  /** The whole attempt, body included. Default 60 s. */
  readonly totalMs?: number;
}

export interface RetryOptions {
  /** Retries after the first attempt, on 429, 5xx and network errors. Default 3. */
  readonly limit?: number;
  /** First backoff delay; doubles each retry (with jitter). Default 1 s. */
  readonly baseDelayMs?: number;
  /** Cap for one backoff delay and for a Retry-After the server asks for. Default 30 s. */
  readonly maxDelayMs?: number;
}

export interface SafeFetcherOptions {
  readonly policy?: AddressPolicy | AddressPolicyConfig;
  /** Resolves a host name to all its addresses. Default: the system resolver (getaddrinfo, all families). */
  readonly resolve?: Resolver;
  /** The User-Agent header; the other headers are generated to look like a browser's. */
  readonly userAgent?: string;
  /** The token matched against robots.txt user-agent groups. Default "LLMTwinBot". */
  readonly robotsAgent?: string;
  /** Set false only for sources the author owns and vouches for (e.g. tests). Default true. */
  readonly respectRobots?: boolean;
  readonly robotsTtlMs?: number;
  readonly timeouts?: FetchTimeouts;
  /** Largest body kept, after decompression. Default 10 MiB. */
  readonly maxBodyBytes?: number;
  /** Default 5. */
  readonly maxRedirects?: number;
  readonly retry?: RetryOptions;
  /** Concurrent requests per host (host:port). Default 2. */
  readonly perHostConcurrency?: number;
  /**
   * A robots.txt Crawl-delay spaces the starts of requests to its host by that much, up to this cap (a
   * site asking for an hour between pages would never be crawled). Default 30 s; 0 ignores Crawl-delay.
   */
  readonly maxCrawlDelayMs?: number;
  /** The clock that spaces requests by Crawl-delay (tests inject one). Default: real time. */
  readonly pacingClock?: PacingClock;
}

export interface PacingClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface FetchRequest {
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface FetchResult {
  /** The URL of the last hop, after redirects. */
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** The Content-Type header as sent (with parameters such as charset), or "" when absent. */
  readonly contentType: string;
  /** Every URL requested, first to last. */
  readonly redirects: readonly string[];
}

export const DEFAULT_USER_AGENT =
  'Mozilla/5.0 (compatible; LLMTwinBot/0.1; +https://github.com/llmtwin/llmtwin)';
export const DEFAULT_ROBOTS_AGENT = 'LLMTwinBot';
const ROBOTS_MAX_BYTES = 500 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

const systemResolve: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

class BodyTooLarge extends Error {}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(name === 'set-cookie' ? '\n' : ', ') : value;
  }
  return out;
}

function domainCause(err: unknown): DomainError | undefined {
  for (let current: unknown = err; current instanceof Error; current = current.cause) {
    if (isDomainError(current)) return current;
  }
  return undefined;
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Attempt {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
}

interface HopOptions {
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  readonly maxBytes: number;
  /** Keep the first maxBytes instead of failing (robots.txt: RFC 9309 asks for at least 500 KiB). */
  readonly truncate: boolean;
  readonly robots: boolean;
}

export class SafeFetcher {
  readonly policy: AddressPolicy;
  private readonly resolve: Resolver;
  private readonly client: GotScraping;
  private readonly limiter: HostLimiter;
  private readonly robots: RobotsCache;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly userAgent: string;
  private readonly robotsAgent: string;
  private readonly respectRobots: boolean;
  private readonly maxBodyBytes: number;
  private readonly maxRedirects: number;
  private readonly retryLimit: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxCrawlDelayMs: number;
  private readonly pacing: PacingClock;
  /** Per host: the earliest time the next request may start under its Crawl-delay. */
  private readonly nextStart = new Map<string, number>();

  constructor(options: SafeFetcherOptions = {}) {
    this.policy =
      options.policy instanceof AddressPolicy ? options.policy : new AddressPolicy(options.policy);
    this.resolve = options.resolve ?? systemResolve;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.robotsAgent = options.robotsAgent ?? DEFAULT_ROBOTS_AGENT;
    this.respectRobots = options.respectRobots ?? true;
    this.maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.retryLimit = options.retry?.limit ?? 3;
    this.baseDelayMs = options.retry?.baseDelayMs ?? 1000;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 30_000;
    this.limiter = new HostLimiter(options.perHostConcurrency ?? 2);
    this.maxCrawlDelayMs = options.maxCrawlDelayMs ?? 30_000;
    this.pacing = options.pacingClock ?? { now: Date.now, sleep };
    this.robots = new RobotsCache((robotsUrl) => this.loadRobots(robotsUrl), {
      ...(options.robotsTtlMs === undefined ? {} : { ttlMs: options.robotsTtlMs }),
    });
    this.agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

    const timeouts = options.timeouts ?? {};
    const connectMs = timeouts.connectMs ?? 10_000;
    this.client = gotScraping.extend({
      // http2-wrapper opens its own sessions outside the agent and our lookup, so HTTP/2 stays off.
      http2: false,
      followRedirect: false,
      throwHttpErrors: false,
      retry: { limit: 0 },
      decompress: true,
      https: { rejectUnauthorized: true },
      dnsLookup: this.lookup as unknown as OptionsInit['dnsLookup'],
      agent: {
        http: new TransformHeadersAgent(this.agents.http),
        https: new TransformHeadersAgent(this.agents.https),
      },
      timeout: {
        lookup: connectMs,
        connect: connectMs,
        secureConnect: connectMs,
        response: timeouts.responseMs ?? 20_000,
        request: timeouts.totalMs ?? 60_000,
      },
      hooks: {
        init: [
          (_raw, options) => {
            // got-scraping probes https hosts for ALPN with a TLS connection of its own, resolved by the
            // system resolver and unchecked; we speak HTTP/1.1 only, so answer the probe without connecting.
            (
              options as unknown as { resolveProtocol: () => Promise<{ alpnProtocol: string }> }
            ).resolveProtocol = () => Promise.resolve({ alpnProtocol: 'http/1.1' });
          },
        ],
      },
    });
  }

  /** Fetches a URL, following redirects, with every safety check. Non-2xx final statuses are returned. */
  async fetch(url: string | URL, request: FetchRequest = {}): Promise<FetchResult> {
    return this.follow(url, {
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.headers ? { headers: request.headers } : {}),
      maxBytes: this.maxBodyBytes,
      truncate: false,
      robots: this.respectRobots,
    });
  }

  /** Closes pooled keep-alive sockets. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private async follow(input: string | URL, options: HopOptions): Promise<FetchResult> {
    const visited: string[] = [];
    let url = this.policy.checkUrl(input);
    for (;;) {
      visited.push(url.href);
      if (options.robots) {
        const verdict = await this.robots.check(url, this.robotsAgent);
        if (!verdict.allowed) {
          throw new DomainError('permission-denied', `refused to fetch ${url.href}: ${verdict.reason}`);
        }
      }
      if (options.robots) await this.pace(url, options.signal);
      const attempt = await this.limiter.run(url.host, () => this.withRetries(url, options), options.signal);
      const location = attempt.headers.location;
      if (!REDIRECT_STATUSES.has(attempt.status) || location === undefined) {
        return {
          url: url.href,
          status: attempt.status,
          headers: flattenHeaders(attempt.headers),
          body: attempt.body,
          contentType: attempt.headers['content-type'] ?? '',
          redirects: visited,
        };
      }
      if (visited.length > this.maxRedirects) {
        throw new DomainError(
          'invalid-argument',
          `refused to fetch ${visited[0]}: more than ${this.maxRedirects} redirects (last hop ${url.href})`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (cause) {
        throw new DomainError(
          'invalid-argument',
          `${url.href} redirected to an invalid location "${location}"`,
          { cause },
        );
      }
      try {
        // Checked before anything connects to it.
        url = this.policy.checkUrl(next);
      } catch (err) {
        if (isDomainError(err)) {
          throw new DomainError(err.kind, `redirect from ${url.href} ${err.message}`, {
            cause: err,
            violations: err.violations,
          });
        }
        throw err;
      }
    }
  }

  /**
   * Waits until the host's Crawl-delay since the previous request to it has passed. Each caller reserves
   * its start time before waiting, so concurrent fetches of one host queue up one delay apart.
   */
  private async pace(url: URL, signal?: AbortSignal): Promise<void> {
    const delay = Math.min(this.maxCrawlDelayMs, await this.robots.crawlDelayMs(url, this.robotsAgent));
    if (delay <= 0) return;
    const now = this.pacing.now();
    const start = Math.max(now, this.nextStart.get(url.host) ?? 0);
    this.nextStart.set(url.host, start + delay);
    if (start > now) await this.pacing.sleep(start - now, signal);
  }

  private async withRetries(url: URL, options: HopOptions): Promise<Attempt> {
    for (let retry = 0; ; retry += 1) {
      let attempt: Attempt | undefined;
      let failure: DomainError | undefined;
      try {
        attempt = await this.attempt(url, options);
      } catch (err) {
        const domain = err instanceof DomainError ? err : undefined;
        // Only transport failures are worth another try; refusals and limits give the same answer again.
        if (!domain || (domain.kind !== 'unavailable' && domain.kind !== 'deadline-exceeded')) throw err;
        failure = domain;
      }
      const retryable = attempt === undefined || attempt.status === 429 || attempt.status >= 500;
      if (!retryable && attempt) return attempt;

      const what = attempt ? `answered ${attempt.status}` : (failure?.message ?? 'failed');
      if (retry >= this.retryLimit) {
        if (failure && this.retryLimit === 0) throw failure;
        throw new DomainError(
          failure?.kind ?? 'unavailable',
          `${url.href} ${what} after ${retry + 1} attempt${retry === 0 ? '' : 's'}`,
          failure ? { cause: failure } : undefined,
        );
      }
      const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** retry);
      let delay = backoff / 2 + Math.random() * (backoff / 2);
      const retryAfter = attempt
        ? parseRetryAfter(attempt.headers['retry-after'] as string | undefined)
        : undefined;
      if (retryAfter !== undefined) {
        if (retryAfter > this.maxDelayMs) {
          throw new DomainError(
            'unavailable',
            `${url.href} ${what} and asked to retry after ${Math.ceil(retryAfter / 1000)} s, more than the ${Math.ceil(this.maxDelayMs / 1000)} s limit`,
          );
        }
        delay = Math.max(delay, retryAfter);
      }
      await sleep(delay, options.signal);
    }
  }

  private attempt(url: URL, options: HopOptions): Promise<Attempt> {
    // got keeps its abort listener on the signal it is given; a per-attempt child signal, unlinked when the
    // attempt settles, keeps a long crawl's job signal from collecting one listener per request.
    const outer = options.signal;
    const child = new AbortController();
    const forward = () => child.abort(outer?.reason);
    if (outer?.aborted) child.abort(outer.reason);
    else outer?.addEventListener('abort', forward, { once: true });
    return this.attemptWith(url, options, child.signal).finally(() =>
      outer?.removeEventListener('abort', forward),
    );
  }

  private attemptWith(url: URL, options: HopOptions, signal: AbortSignal): Promise<Attempt> {
    return new Promise<Attempt>((resolve, reject) => {
      const stream: Request = this.client.stream(url, {
        headers: { 'user-agent': this.userAgent, ...options.headers },
        signal,
        // Lenient header parsing invites response splitting; strict is the node default.
        insecureHTTPParser: false,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let status = 0;
      let headers: http.IncomingHttpHeaders = {};
      let truncated = false;
      stream.once('response', (response: http.IncomingMessage) => {
        status = response.statusCode ?? 0;
        headers = response.headers;
      });
      stream.on('data', (chunk: Buffer) => {
        if (truncated) return;
        size += chunk.length;
        if (size > options.maxBytes) {
          if (options.truncate) {
            chunks.push(chunk.subarray(0, chunk.length - (size - options.maxBytes)));
            truncated = true;
            stream.destroy();
            resolve({ status, headers, body: Buffer.concat(chunks) });
            return;
          }
          stream.destroy(new BodyTooLarge());
          return;
        }
        chunks.push(chunk);
      });
      stream.once('end', () => resolve({ status, headers, body: Buffer.concat(chunks) }));
      stream.once('error', (err: Error) => {
        if (truncated) return;
        reject(this.translate(err, url, options));
      });
    });
  }

  private translate(err: Error, url: URL, options: HopOptions): Error {
    if (err instanceof BodyTooLarge || err.cause instanceof BodyTooLarge) {
      return new DomainError(
        'resource-exhausted',
        `refused ${url.href}: the body is larger than ${options.maxBytes} bytes`,
      );
    }
    const domain = domainCause(err);
    if (domain) return domain;
    if (options.signal?.aborted) {
      return new DomainError('cancelled', `fetching ${url.href} was cancelled`, { cause: err });
    }
    if (err.name === 'TimeoutError') {
      const event = (err as { event?: string }).event ?? 'request';
      return new DomainError('deadline-exceeded', `fetching ${url.href} timed out (${event} phase)`, {
        cause: err,
      });
    }
    const code = (err as { code?: string }).code;
    return new DomainError('unavailable', `fetching ${url.href} failed: ${code ?? err.message}`, {
      cause: err,
    });
  }

  // Called by the socket layer for host names (never for IP literals, which checkUrl has judged).
  private readonly lookup = (
    hostname: string,
    optionsOrCallback: { family?: number | string; all?: boolean } | LookupCallback,
    maybeCallback?: LookupCallback,
  ): void => {
    const options = typeof optionsOrCallback === 'function' ? {} : optionsOrCallback;
    const callback = typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback;
    if (!callback) throw new TypeError('lookup needs a callback');
    this.resolveChecked(hostname).then(
      (addresses) => {
        const family =
          options.family === 4 || options.family === 'IPv4'
            ? 4
            : options.family === 6 || options.family === 'IPv6'
              ? 6
              : 0;
        const usable = addresses.filter((entry) => family === 0 || entry.family === family);
        if (usable.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`${hostname} has no IPv${family} address`);
          err.code = 'ENOTFOUND';
          callback(err, '');
          return;
        }
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, ''),
    );
  };

  /** Resolves a host name and checks every address it has; one forbidden address refuses the name. */
  async resolveChecked(hostname: string): Promise<LookupAddress[]> {
    this.policy.checkHostname(hostname);
    const literal = parseHostAddress(hostname);
    const addresses = literal ? [literal.toString()] : await this.resolve(hostname);
    if (addresses.length === 0) {
      throw new DomainError('unavailable', `${hostname} did not resolve to any address`);
    }
    return addresses.map((address) => {
      this.policy.checkAddress(address, hostname);
      const parsed = parseHostAddress(address)!;
      return { address: parsed.toString(), family: parsed.kind() === 'ipv4' ? 4 : 6 };
    });
  }

  private async loadRobots(robotsUrl: URL): Promise<RobotsSource> {
    const result = await this.follow(robotsUrl, {
      maxBytes: ROBOTS_MAX_BYTES,
      truncate: true,
      robots: false,
    });
    if (result.status >= 200 && result.status < 300) {
      return { kind: 'file', url: result.url, text: Buffer.from(result.body).toString('utf8') };
    }
    if (result.status >= 400 && result.status < 500) return { kind: 'absent', status: result.status };
    return { kind: 'unreachable', reason: `status ${result.status}` };
  }
}
