// Who is calling the gateway: resolved from the API key on every request (Connect RPCs and the plain HTTP
// OpenAI routes alike), with the key's quota already charged.

export interface Principal {
  /** The API key's id (never the secret). */
  keyId: string;
  /** The author this key belongs to; undefined for admin keys. */
  authorId?: string;
  admin: boolean;
}

export interface GatewaySecurity {
  /**
   * Reads the key from `Authorization: Bearer <key>` (or `x-api-key`), checks it and charges one request to
   * its rate limit. Throws a ConnectError: Unauthenticated (no or unknown/revoked key) or ResourceExhausted
   * (over quota).
   */
  authenticate(headers: Headers): Promise<Principal>;
}
