import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainError } from '@llmtwin/runtime';
import { poll } from '@llmtwin/testkit/poll';
import { FixtureServer } from '../../../test/fixture-server.js';
import { SafeFetcher, type SafeFetcherOptions } from './safe-fetcher.js';

// The committed copies of the commit-ok saved pages.
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures', import.meta.url));

// Names the injected resolver answers, standing in for public DNS records that point inside.
const DNS: Record<string, string[]> = {
  'evil.example.com': ['10.0.0.5'],
  'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
  'v6.example.com': ['::1'],
  'metadata.example.com': ['169.254.169.254'],
  'mapped.example.com': ['::ffff:192.168.0.1'],
  'fixtures.test': ['127.0.0.1'],
};
const resolved: string[] = [];
const resolve = (hostname: string): Promise<string[]> => {
  resolved.push(hostname);
  return Promise.resolve(DNS[hostname] ?? ['93.184.216.34']);
};

function fetcher(options: Partial<SafeFetcherOptions> = {}): SafeFetcher {
  return new SafeFetcher({
    policy: { allow: ['127.0.0.1/32'] },
    resolve,
    retry: { limit: 0 },
    timeouts: { connectMs: 2000, responseMs: 2000, totalMs: 5000 },
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected the fetch to be refused');
}

/** A server that records every TCP connection, to prove a refused target was never contacted. */
async function listen(
  host: string,
  handler: http.RequestListener,
): Promise<{ server: http.Server; url: string; connections: () => number }> {
  let connections = 0;
  const server = http.createServer(handler);
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((ready) => server.listen(0, host, ready));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${host}:${port}`, connections: () => connections };
}

const close = (server: http.Server): Promise<void> => {
  server.closeAllConnections();
  return new Promise((done) => server.close(() => done()));
};

describe('SafeFetcher refuses hostile URLs', () => {
  const hostile: [string, RegExp][] = [
    ['http://127.0.0.2/', /loopback/],
    ['http://10.0.0.1/', /private/],
    ['http://172.16.5.4/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://224.0.0.1/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://240.0.0.1/', /reserved/],
    ['http://[::1]/', /IPv6 loopback/],
    ['http://[::]/', /unspecified IPv6/],
    ['http://[fc00::1]/', /unique-local/],
    ['http://[fd00:ec2::254]/latest/meta-data/', /unique-local/],
    ['http://[fe80::1]/', /link-local IPv6/],
    ['http://[ff02::1]/', /multicast IPv6/],
    ['http://[::ffff:10.0.0.1]/', /IPv4-mapped .*private/],
    ['http://[::ffff:169.254.169.254]/', /IPv4-mapped .*link-local/],
    ['http://[::10.0.0.1]/', /IPv4-compatible/],
    ['http://[64:ff9b::10.0.0.1]/', /NAT64 .*private/],
    ['http://[2002:c0a8:101::1]/', /6to4 .*private/],
    ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', /Teredo/],
    ['http://localhost/', /local or internal name/],
    ['http://LOCALHOST./admin', /local or internal name/],
    ['http://api.localhost/', /local or internal name/],
    ['http://printer.local/', /local or internal name/],
    ['http://metadata.google.internal/computeMetadata/v1/', /local or internal name/],
    ['http://fileserver/', /single label/],
    ['http://2130706433/', /loopback/],
    ['http://2852039166/latest/meta-data/', /link-local/],
    ['http://0xa9fea9fe/', /link-local/],
    ['http://0x7f.1/', /loopback/],
    ['http://0177.0.0.1/', /loopback/],
    ['http://0251.0376.0251.0376/', /link-local/],
    ['http://10.1/', /private/],
    ['http://evil.example.com/', /evil\.example\.com \(resolved to 10\.0\.0\.5\).*private/],
    ['http://mixed.example.com/', /resolved to 127\.0\.0\.1.*loopback/],
    ['https://v6.example.com/', /resolved to ::1.*loopback/],
    ['http://metadata.example.com/', /resolved to 169\.254\.169\.254.*link-local/],
    ['http://mapped.example.com/', /IPv4-mapped .*private/],
    ['file:///etc/passwd', /scheme file: is not allowed/],
    ['gopher://example.com/', /scheme gopher: is not allowed/],
    ['http://user:secret@example.com/', /embedded credentials/],
    ['http://example.com:22/', /port 22 is not allowed/],
  ];
  // No allow-list here: the fixture allow-list would rightly let the 127.0.0.1 spellings through.
  const safe = fetcher({ policy: {} });
  afterAll(() => safe.close());

  it('has at least 30 cases', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(30);
  });

  it.each(hostile)('refuses %s', async (url, reason) => {
    const err = await failure(safe.fetch(url));
    expect(err.kind).toBe('invalid-argument');
    expect(err.message).toMatch(/^refused to fetch /);
    expect(err.message).toMatch(reason);
  });
});

describe('SafeFetcher against local servers', () => {
  let site: FixtureServer;
  beforeAll(async () => {
    site = await FixtureServer.start();
  });
  afterAll(async () => {
    await site.close();
  });
  const fetchers: SafeFetcher[] = [];
  const make = (options: Partial<SafeFetcherOptions> = {}): SafeFetcher => {
    const made = fetcher(options);
    fetchers.push(made);
    return made;
  };
  afterEach(() => {
    for (const made of fetchers.splice(0)) made.close();
  });

  it('fetches a saved Medium page from the allow-listed server with browser-like headers', async () => {
    const url = site.mediumArticle('tim', 'wtf-whats-the-future-e52ab9515573', {
      file: `${FIXTURES}/medium/postlight-parser/fixtures/medium.com.html`,
    });
    const result = await make({ userAgent: 'LLMTwinTest/1.0' }).fetch(url);
    expect(result.status).toBe(200);
    expect(result.url).toBe(url);
    expect(result.contentType).toBe('text/html; charset=utf-8');
    expect(Buffer.from(result.body).toString('utf8')).toContain('What’s The Future?');
    const seen = site.requests.filter((entry) => entry.path === '/@tim/wtf-whats-the-future-e52ab9515573');
    expect(seen.at(-1)?.userAgent).toBe('LLMTwinTest/1.0');
  });

  it('resolves allow-listed names through the injected resolver', async () => {
    site.substackPost('hello', { body: '<title>Hello</title>' });
    const url = site.at('/p/hello').replace('127.0.0.1', 'fixtures.test');
    const result = await make({ policy: { allow: ['fixtures.test'] } }).fetch(url);
    expect(Buffer.from(result.body).toString('utf8')).toBe('<title>Hello</title>');
    expect(resolved).toContain('fixtures.test');
  });

  it('returns 404 and 410 for removed pages, and edited bodies', async () => {
    site.linkedinPost('123', { body: 'first' });
    site.linkedinPulse('gone', { body: 'there' });
    const safe = make();
    site.replace('/posts/123', 'second');
    expect(Buffer.from((await safe.fetch(site.at('/posts/123'))).body).toString()).toBe('second');
    site.remove('/posts/123');
    site.remove('/pulse/gone', 410);
    expect((await safe.fetch(site.at('/posts/123'))).status).toBe(404);
    expect((await safe.fetch(site.at('/pulse/gone'))).status).toBe(410);
  });

  it('pages through the Substack archive endpoint', async () => {
    site.substackArchive(
      ['a', 'b', 'c'].map((slug, index) => ({
        slug,
        title: slug.toUpperCase(),
        post_date: `2024-01-0${index + 1}T00:00:00.000Z`,
      })),
    );
    const page = await make().fetch(site.at('/api/v1/archive?sort=new&offset=1&limit=1'));
    expect(JSON.parse(Buffer.from(page.body).toString())).toEqual([expect.objectContaining({ slug: 'b' })]);
  });

  it('refuses a redirect into private space without connecting to it', async () => {
    const trap = await listen('127.0.0.2', (_req, res) => res.end('secret'));
    try {
      site.route('/to-trap', { status: 302, headers: { location: `${trap.url}/secret` } });
      site.route('/to-ten', { status: 301, headers: { location: 'http://10.0.0.7/admin' } });
      site.route('/to-evil', { status: 307, headers: { location: 'http://evil.example.com/' } });
      const safe = make();
      const toTrap = await failure(safe.fetch(site.at('/to-trap')));
      expect(toTrap.kind).toBe('invalid-argument');
      expect(toTrap.message).toBe(
        `redirect from ${site.at('/to-trap')} refused to fetch 127.0.0.2: a loopback address (127.0.0.0/8) is not a public address`,
      );
      expect(trap.connections()).toBe(0);
      expect((await failure(safe.fetch(site.at('/to-ten')))).message).toMatch(
        /10\.0\.0\.7: a private address/,
      );
      expect((await failure(safe.fetch(site.at('/to-evil')))).message).toMatch(
        /evil\.example\.com \(resolved to 10\.0\.0\.5\)/,
      );
    } finally {
      await close(trap.server);
    }
  });

  it('follows a bounded number of redirects', async () => {
    site.route('/hop/1', { status: 302, headers: { location: '/hop/2' } });
    site.route('/hop/2', { status: 302, headers: { location: '/hop/3' } });
    site.route('/hop/3', { body: 'landed' });
    site.route('/loop', { status: 302, headers: { location: '/loop' } });
    const safe = make({ maxRedirects: 2 });
    const landed = await safe.fetch(site.at('/hop/1'));
    expect(landed.url).toBe(site.at('/hop/3'));
    expect(landed.redirects).toEqual([site.at('/hop/1'), site.at('/hop/2'), site.at('/hop/3')]);
    const err = await failure(safe.fetch(site.at('/loop')));
    expect(err.kind).toBe('invalid-argument');
    expect(err.message).toMatch(/more than 2 redirects/);
  });

  it('aborts bodies over the byte limit, compressed ones included', async () => {
    site.route('/big', { body: 'x'.repeat(5000), contentType: 'text/plain' });
    site.route('/bomb', {
      body: gzipSync(Buffer.alloc(1_000_000)),
      contentType: 'text/html',
      headers: { 'content-encoding': 'gzip' },
    });
    site.route('/small', { body: 'x'.repeat(100), contentType: 'text/plain' });
    const safe = make({ maxBodyBytes: 1000 });
    const big = await failure(safe.fetch(site.at('/big')));
    expect(big.kind).toBe('resource-exhausted');
    expect(big.message).toMatch(/larger than 1000 bytes/);
    expect((await failure(safe.fetch(site.at('/bomb')))).kind).toBe('resource-exhausted');
    expect((await safe.fetch(site.at('/small'))).body.byteLength).toBe(100);
  });

  it('honours robots.txt, fetching it once per origin', async () => {
    const robots = await FixtureServer.start();
    try {
      robots.robots('User-agent: *\nDisallow: /private\n\nUser-agent: LLMTwinBot\nDisallow: /drafts\n');
      robots.route('/public', { body: 'ok' });
      robots.route('/drafts/x', { body: 'draft' });
      const safe = make();
      expect((await safe.fetch(robots.at('/public'))).status).toBe(200);
      expect((await safe.fetch(robots.at('/public'))).status).toBe(200);
      const err = await failure(safe.fetch(robots.at('/drafts/x')));
      expect(err.kind).toBe('permission-denied');
      expect(err.message).toBe(
        `refused to fetch ${robots.at('/drafts/x')}: ${robots.at('/robots.txt')} disallows /drafts/x for LLMTwinBot (line 5)`,
      );
      expect(robots.hits('/robots.txt')).toBe(1);
      expect(robots.hits('/drafts/x')).toBe(0);
    } finally {
      await robots.close();
    }
  });

  it('spaces requests to a host by its robots.txt Crawl-delay, capped, per host', async () => {
    const slow = await FixtureServer.start();
    const greedy = await FixtureServer.start();
    // A fake pacing clock: it records the waits asked for instead of sleeping, and time moves when told.
    let t = 0;
    const waits: string[] = [];
    const pacingClock = {
      now: () => t,
      sleep: async (ms: number) => {
        waits.push(`${ms}`);
      },
    };
    try {
      slow.robots('User-agent: *\nCrawl-delay: 1\n\nUser-agent: LLMTwinBot\nCrawl-delay: 2\nAllow: /\n');
      greedy.robots('User-agent: *\nCrawl-delay: 3600\n');
      for (const site of [slow, greedy]) {
        for (const page of ['/a', '/b', '/c']) site.route(page, { body: page });
      }
      const safe = make({ pacingClock, maxCrawlDelayMs: 30_000 });
      // Three at once to one host: the first starts now, the others one delay (LLMTwinBot's 2 s) apart.
      const pages = await Promise.all(['/a', '/b', '/c'].map((p) => safe.fetch(slow.at(p))));
      expect(pages.map((p) => p.status)).toEqual([200, 200, 200]);
      expect(waits).toEqual(['2000', '4000']);
      // Once the delay has passed, the next request waits for nothing; another host has its own pace.
      t = 10_000;
      waits.length = 0;
      await safe.fetch(slow.at('/a'));
      expect(waits).toEqual([]);
      // An hour asked for is capped at the 30 s maximum.
      await safe.fetch(greedy.at('/a'));
      await safe.fetch(greedy.at('/b'));
      expect(waits).toEqual(['30000']);
      expect(slow.hits('/a') + slow.hits('/b') + slow.hits('/c')).toBe(4);

      // Ignoring robots.txt (a source the author vouches for) ignores its Crawl-delay too.
      waits.length = 0;
      const unpaced = make({ pacingClock, respectRobots: false });
      await Promise.all(['/a', '/b'].map((p) => unpaced.fetch(greedy.at(p))));
      expect(waits).toEqual([]);
    } finally {
      await slow.close();
      await greedy.close();
    }
  });

  it('treats an unreadable robots.txt as disallowing the site', async () => {
    const broken = await FixtureServer.start();
    try {
      broken.route('/robots.txt', { status: 500, body: 'oops' });
      broken.route('/page', { body: 'ok' });
      const err = await failure(make().fetch(broken.at('/page')));
      expect(err.kind).toBe('permission-denied');
      expect(err.message).toMatch(/could not be read/);
      expect(broken.hits('/page')).toBe(0);
    } finally {
      await broken.close();
    }
  });

  it('times out a server that never answers', async () => {
    const silent = await listen('127.0.0.1', () => undefined);
    try {
      const err = await failure(
        make({ respectRobots: false, timeouts: { responseMs: 200, totalMs: 1000 } }).fetch(`${silent.url}/`),
      );
      expect(err.kind).toBe('deadline-exceeded');
      expect(err.message).toMatch(/timed out \(response phase\)/);
    } finally {
      await close(silent.server);
    }
  });

  it('retries 5xx with backoff, and gives up on a Retry-After beyond the bound', async () => {
    let calls = 0;
    const flaky = await listen('127.0.0.1', (req, res) => {
      if (req.url === '/busy') {
        res.writeHead(429, { 'retry-after': '3600' }).end();
        return;
      }
      calls += 1;
      if (calls <= 2) res.writeHead(503, { 'retry-after': '0' }).end('down');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('up');
    });
    try {
      const safe = make({ respectRobots: false, retry: { limit: 3, baseDelayMs: 10, maxDelayMs: 50 } });
      const result = await safe.fetch(`${flaky.url}/page`);
      expect(Buffer.from(result.body).toString()).toBe('up');
      expect(calls).toBe(3);
      const busy = await failure(safe.fetch(`${flaky.url}/busy`));
      expect(busy.kind).toBe('unavailable');
      expect(busy.message).toMatch(/answered 429 and asked to retry after 3600 s/);
    } finally {
      await close(flaky.server);
    }
  });

  it('gives up after the retry limit on persistent 5xx', async () => {
    let calls = 0;
    const down = await listen('127.0.0.1', (_req, res) => {
      calls += 1;
      res.writeHead(502).end();
    });
    try {
      const err = await failure(
        make({ respectRobots: false, retry: { limit: 2, baseDelayMs: 1, maxDelayMs: 5 } }).fetch(
          `${down.url}/`,
        ),
      );
      expect(err.kind).toBe('unavailable');
      expect(err.message).toMatch(/answered 502 after 3 attempts/);
      expect(calls).toBe(3);
    } finally {
      await close(down.server);
    }
  });

  it('limits concurrent requests per host', async () => {
    let active = 0;
    let peak = 0;
    const pending: (() => void)[] = [];
    const slow = await listen('127.0.0.1', (_req, res) => {
      active += 1;
      peak = Math.max(peak, active);
      pending.push(() => {
        active -= 1;
        res.end('done');
      });
    });
    try {
      const safe = make({ respectRobots: false, perHostConcurrency: 2 });
      const all = Promise.all([1, 2, 3, 4, 5].map((n) => safe.fetch(`${slow.url}/${n}`)));
      // Answer in waves: wait until the limit's worth of requests is held open, then release them.
      let answered = 0;
      while (answered < 5) {
        const wave = Math.min(2, 5 - answered);
        await poll(() => pending.length >= wave, { what: `${wave} requests held open`, intervalMs: 5 });
        for (const next of pending.splice(0)) {
          next();
          answered += 1;
        }
      }
      expect((await all).map((result) => result.status)).toEqual([200, 200, 200, 200, 200]);
      expect(peak).toBe(2);
    } finally {
      await close(slow.server);
    }
  });
});
