// robots.txt, fetched once per origin and cached, read as RFC 9309 says: a 4xx means no rules, an
// unreachable file (5xx, network error, refusal) means the whole site is off limits until we try again.
import robotsParserModule from 'robots-parser';
import { isDomainError } from '@llmtwin/runtime';

// robots-parser is CommonJS whose typings claim an ES default export; at run time the default import is
// the function itself.
interface Robot {
  isAllowed(url: string, ua?: string): boolean | undefined;
  getMatchingLineNumber(url: string, ua?: string): number;
  getCrawlDelay(ua?: string): number | undefined;
}
type RobotsParser = (url: string, contents: string) => Robot;
const robotsParser = robotsParserModule as unknown as RobotsParser;

export type RobotsVerdict = { allowed: true } | { allowed: false; reason: string };

export interface RobotsRules {
  check(url: URL, agent: string): RobotsVerdict;
  /** The Crawl-delay the agent's group asks for, in milliseconds (0 when none or unreadable). */
  crawlDelayMs(agent: string): number;
}

export type RobotsSource =
  | { kind: 'file'; url: string; text: string }
  | { kind: 'absent'; status: number }
  | { kind: 'unreachable'; reason: string };

export interface RobotsCacheOptions {
  /** How long a fetched (or absent) robots.txt stays valid. Default 24 hours. */
  readonly ttlMs?: number;
  /** How long an unreachable robots.txt blocks the origin before we try again. Default 60 seconds. */
  readonly errorTtlMs?: number;
  readonly now?: () => number;
}

function rulesFrom(source: RobotsSource): RobotsRules {
  switch (source.kind) {
    case 'file': {
      const robot = robotsParser(source.url, source.text);
      return {
        check(url, agent) {
          // robots-parser answers undefined for URLs of another origin; callers only ask about their own.
          if (robot.isAllowed(url.href, agent) === false) {
            const line = robot.getMatchingLineNumber(url.href, agent);
            return {
              allowed: false,
              reason: `${source.url} disallows ${url.pathname} for ${agent} (line ${line})`,
            };
          }
          return { allowed: true };
        },
        crawlDelayMs(agent) {
          // Not in RFC 9309, but widely written: seconds, possibly fractional, between requests.
          const seconds = robot.getCrawlDelay(agent);
          return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
        },
      };
    }
    case 'absent':
      return { check: () => ({ allowed: true }), crawlDelayMs: () => 0 };
    case 'unreachable':
      return {
        crawlDelayMs: () => 0,
        check: (url) => ({
          allowed: false,
          reason: `robots.txt of ${url.origin} could not be read (${source.reason}), so the site is treated as disallowed`,
        }),
      };
  }
}

export class RobotsCache {
  private readonly entries = new Map<string, { expires: number; rules: Promise<RobotsRules> }>();
  private readonly ttlMs: number;
  private readonly errorTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly load: (robotsUrl: URL) => Promise<RobotsSource>,
    options: RobotsCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.errorTtlMs = options.errorTtlMs ?? 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  async check(url: URL, agent: string): Promise<RobotsVerdict> {
    const rules = await this.rulesFor(url.origin);
    return rules.check(url, agent);
  }

  /** The Crawl-delay the origin's robots.txt asks of this agent, in milliseconds (0 when none). */
  async crawlDelayMs(url: URL, agent: string): Promise<number> {
    return (await this.rulesFor(url.origin)).crawlDelayMs(agent);
  }

  private rulesFor(origin: string): Promise<RobotsRules> {
    const cached = this.entries.get(origin);
    if (cached && cached.expires > this.now()) return cached.rules;
    // Concurrent fetches of one origin share a single robots.txt request through this promise.
    const entry = {
      expires: Number.POSITIVE_INFINITY,
      rules: Promise.resolve<RobotsRules>(rulesFrom({ kind: 'absent', status: 0 })),
    };
    entry.rules = this.load(new URL('/robots.txt', origin))
      .catch((err: unknown): RobotsSource => {
        // A host the address policy refuses is refused as such, not reported as a robots.txt problem.
        if (isDomainError(err, 'invalid-argument')) {
          this.entries.delete(origin);
          throw err;
        }
        return { kind: 'unreachable', reason: err instanceof Error ? err.message : String(err) };
      })
      .then((source) => {
        entry.expires = this.now() + (source.kind === 'unreachable' ? this.errorTtlMs : this.ttlMs);
        return rulesFrom(source);
      });
    this.entries.set(origin, entry);
    return entry.rules;
  }
}
