// GatewaySecurity over API keys: who is calling (from `Authorization: Bearer <key>` or `x-api-key`), and
// whether the key still has quota this minute. Used by the Connect interceptor and the plain HTTP routes.
import { Code, ConnectError, createContextKey } from '@connectrpc/connect';
import type { ApiKeyStore } from './api-keys.js';
import type { GatewaySecurity, Principal } from './principal.js';
import { RateLimiter } from './rate-limiter.js';

export const DEFAULT_RATE_LIMIT_PER_MINUTE = 600;

const HOW_TO_GET_A_KEY =
  'an admin creates one with `llmtwin keys create --author <id>` (embedded mode keeps the admin key in <data dir>/admin.key)';

/** The caller of the current RPC, set by the auth interceptor. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: 'llmtwin gateway principal',
});

function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/** The key a request carries, or undefined; throws when a header is there but malformed. */
export function keyFromHeaders(headers: Headers): string | undefined {
  const authorization = headers.get('authorization');
  if (authorization !== null && authorization.trim() !== '') {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization.trim());
    if (!match) throw unauthenticated('the Authorization header must be `Bearer <API key>`');
    return match[1];
  }
  const apiKey = headers.get('x-api-key')?.trim();
  return apiKey ? apiKey : undefined;
}

export interface ApiKeySecurityOptions {
  /** Requests per minute for keys that have no limit of their own. */
  defaultRateLimitPerMinute?: number;
  now?: () => number;
}

export class ApiKeySecurity implements GatewaySecurity {
  private readonly limiter: RateLimiter;
  private readonly defaultLimit: number;

  constructor(
    private readonly keys: ApiKeyStore,
    options: ApiKeySecurityOptions = {},
  ) {
    this.limiter = new RateLimiter(options.now);
    this.defaultLimit = options.defaultRateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
  }

  async authenticate(headers: Headers, signal?: AbortSignal): Promise<Principal> {
    const key = keyFromHeaders(headers);
    if (key === undefined) {
      throw unauthenticated(
        `no API key: send it as \`Authorization: Bearer <key>\` or \`x-api-key: <key>\`; ${HOW_TO_GET_A_KEY}`,
      );
    }
    const record = await this.keys.lookup(key, signal);
    if (!record) throw unauthenticated(`unknown API key: check it; ${HOW_TO_GET_A_KEY}`);
    if (record.revokedAt !== null) {
      throw unauthenticated(`API key ${record.prefix}… was revoked; ${HOW_TO_GET_A_KEY}`);
    }
    const perMinute = record.rateLimitPerMinute > 0 ? record.rateLimitPerMinute : this.defaultLimit;
    const decision = this.limiter.take(record._id, perMinute);
    if (!decision.allowed) {
      throw new ConnectError(
        `rate limit of ${perMinute} requests per minute exceeded for API key ${record._id}: retry in ${decision.retryAfterSeconds} s`,
        Code.ResourceExhausted,
        { 'retry-after': String(decision.retryAfterSeconds) },
      );
    }
    return {
      keyId: record._id,
      admin: record.admin,
      ...(record.admin ? {} : { authorId: record.authorId }),
    };
  }
}
