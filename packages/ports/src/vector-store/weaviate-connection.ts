// The store's connection to Weaviate: a client built on first use and rebuilt after an outage (a failed
// connect is retried by the next call, a dropped channel replaced rather than waited out), and every call's
// errors translated. Kept apart from the store so its operations read as the port's, not as connection care.
import weaviate, { type WeaviateClient } from 'weaviate-client';
import { DomainError, failedPrecondition, invalidArgument } from '../errors.js';
import { throwIfAborted } from './vector-store-input.js';
import { translate } from './weaviate-errors.js';

export interface WeaviateEndpoint {
  httpHost: string;
  httpPort: number;
  httpSecure: boolean;
  httpPath?: string;
  grpcHost: string;
  grpcPort: number;
  grpcSecure: boolean;
  apiKey?: string;
}

/** `http(s)://host[:port][/path]?grpc=50051[&grpcHost=h][&apiKey=k]` to connection settings. */
export function parseWeaviateUrl(url: string, options: { apiKey?: string } = {}): WeaviateEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw invalidArgument(`not a valid Weaviate URL: ${url}`, [{ field: 'url', message: String(err) }]);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidArgument(`a Weaviate URL must be http: or https:, got ${parsed.protocol}`, [
      { field: 'url', message: 'must be http(s)' },
    ]);
  }
  const secure = parsed.protocol === 'https:';
  const httpPort = parsed.port === '' ? (secure ? 443 : 80) : Number(parsed.port);
  const grpcParam = parsed.searchParams.get('grpc') ?? '50051';
  const grpcPort = Number(grpcParam);
  if (!Number.isInteger(grpcPort) || grpcPort < 1 || grpcPort > 65535) {
    throw invalidArgument(`the grpc port in the Weaviate URL is not a port: ${grpcParam}`, [
      { field: 'url', message: 'grpc must be a port number' },
    ]);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const endpoint: WeaviateEndpoint = {
    httpHost: host,
    httpPort,
    httpSecure: secure,
    grpcHost: parsed.searchParams.get('grpcHost') ?? host,
    grpcPort,
    grpcSecure: secure,
  };
  const path = parsed.pathname.replace(/\/+$/, '');
  if (path !== '') endpoint.httpPath = path;
  const apiKey = options.apiKey ?? parsed.searchParams.get('apiKey') ?? undefined;
  if (apiKey !== undefined && apiKey !== '') endpoint.apiKey = apiKey;
  return endpoint;
}

/** Settles with the promise, or rejects with 'cancelled' as soon as the caller aborts. */
export function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(
        new DomainError('cancelled', 'the vector-store call was cancelled by its caller', {
          cause: signal.reason,
        }),
      );
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

export class WeaviateConnection {
  private clientPromise: Promise<WeaviateClient> | undefined;
  private closedFlag = false;

  constructor(
    readonly endpoint: WeaviateEndpoint,
    /** Timeout of one request, in seconds (the client's unit). */
    private readonly requestTimeoutS: number,
  ) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Runs `fn` with the client; its errors leave as DomainErrors, and an outage drops the client. */
  async call<T>(what: string, fn: (client: WeaviateClient) => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      const client = await this.client();
      return await withSignal(fn(client), signal);
    } catch (err) {
      const domainError = translate(err, what);
      if (domainError.kind === 'unavailable') this.resetClient();
      throw domainError;
    }
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const pending = this.clientPromise;
    this.clientPromise = undefined;
    if (pending !== undefined)
      await pending.then(
        (client) => client.close(),
        () => undefined,
      );
  }

  client(): Promise<WeaviateClient> {
    if (this.closedFlag) return Promise.reject(failedPrecondition('the Weaviate vector store is closed'));
    if (this.clientPromise === undefined) {
      const pending = this.connect();
      this.clientPromise = pending;
      pending.catch(() => {
        if (this.clientPromise === pending) this.clientPromise = undefined;
      });
    }
    return this.clientPromise;
  }

  private async connect(): Promise<WeaviateClient> {
    const e = this.endpoint;
    // skipInitChecks: the client's own start-up checks would fail the store for good if Weaviate were
    // down at that moment; here a failed connect is simply retried by the next call.
    const client = await weaviate.connectToCustom({
      httpHost: e.httpHost,
      httpPort: e.httpPort,
      httpSecure: e.httpSecure,
      ...(e.httpPath === undefined ? {} : { httpPath: e.httpPath }),
      grpcHost: e.grpcHost,
      grpcPort: e.grpcPort,
      grpcSecure: e.grpcSecure,
      ...(e.apiKey === undefined ? {} : { authCredentials: new weaviate.ApiKey(e.apiKey) }),
      timeout: { query: this.requestTimeoutS, insert: this.requestTimeoutS, init: this.requestTimeoutS },
      skipInitChecks: true,
    });
    // weaviate-client 3.12 starts un-awaited server-version lookups (AggregateManager's constructor in
    // collections/aggregate/index.js runs on every collections.use(); isReady() refreshes in a setTimeout)
    // that reject unhandled, and so crash the process, when the server is down and the version is not yet
    // cached. Caching it here, before the client is handed out, leaves them nothing to fetch.
    try {
      await client.getWeaviateVersion();
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  /**
   * Drops the client after a connectivity failure so the next call builds a fresh gRPC channel rather than
   * waiting out the old channel's reconnect backoff after the server comes back.
   */
  resetClient(): void {
    const old = this.clientPromise;
    this.clientPromise = undefined;
    if (old === undefined) return;
    // Closed later, not now: calls still in flight on the old channel get to finish or fail by themselves.
    const timer = setTimeout(() => {
      old.then((c) => c.close()).catch(() => undefined);
    }, this.requestTimeoutS * 1000);
    timer.unref();
  }

  describeEndpoint(): string {
    const e = this.endpoint;
    return `${e.httpSecure ? 'https' : 'http'}://${e.httpHost}:${e.httpPort} (gRPC ${e.grpcHost}:${e.grpcPort})`;
  }
}
