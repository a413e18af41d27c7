// One port for every protocol: gRPC (HTTP/2), Connect (HTTP/1.1 and HTTP/2, binary and JSON) and gRPC-Web.
// buildServer assembles the routes (the service's own, health, reflection) with the tracing and error
// interceptors; listen serves them over cleartext, sniffing each connection for the HTTP/2 preface so that
// h2c clients (grpc-js, grpcurl -plaintext) and plain HTTP/1.1 clients (curl, browsers) share the port.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { DescFile, DescService } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createConnectRouter,
  createRouterTransport,
  type ConnectRouter,
  type Interceptor,
  type Transport,
} from '@connectrpc/connect';
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from '@connectrpc/connect-node';
import type { Logger } from 'pino';
import { errorInterceptor } from './connect-errors.js';
import { registerHealthRoutes, type HealthService } from './health.js';
import { registerReflection } from './reflection.js';
import { tracingInterceptor } from './tracing.interceptor.js';

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface BuildServerOptions {
  /** The service's name, for logs. */
  name: string;
  /** Registers the service's own handlers. */
  register: (router: ConnectRouter) => void;
  /** The services `register` implements: for health (per-service status) and reflection. */
  services: readonly DescService[];
  health: HealthService;
  logger: Logger;
  /** Run after tracing and error mapping, in this order (auth, quotas...). */
  interceptors?: readonly Interceptor[];
  /** More descriptors for reflection to serve (e.g. event messages). */
  reflectionFiles?: readonly DescFile[];
  /** Largest request message accepted, in bytes. Default 4 MiB (gRPC's default). */
  readMaxBytes?: number;
}

export interface BuiltServer {
  /** Node request handler for http and http2 servers; give it to `listen`. */
  handler: NodeHandler;
  /** The same registrations, for createRouterTransport (embedded mode, tests). */
  routes: (router: ConnectRouter) => void;
}

export function buildServer(options: BuildServerOptions): BuiltServer {
  const logger = options.logger.child({ component: 'rpc' });
  // Tracing outermost so the span sees the code the client will see; error mapping next.
  const interceptors: Interceptor[] = [
    tracingInterceptor('server'),
    errorInterceptor(logger),
    ...(options.interceptors ?? []),
  ];
  const handlerOptions = { interceptors, readMaxBytes: options.readMaxBytes ?? 4 * 1024 * 1024 };
  options.health.registerService(...options.services.map((s) => s.typeName));

  // Interceptors ride on each registration rather than on the router, so createRouterTransport gets them
  // too. (Per-service options replace router-level ones in connect-es, so pass extras via `interceptors`.)
  const routes = (router: ConnectRouter): void => {
    const withInterceptors: ConnectRouter = {
      get handlers() {
        return router.handlers;
      },
      service(service, implementation, serviceOptions) {
        router.service(service, implementation, {
          ...handlerOptions,
          ...serviceOptions,
          interceptors: [...interceptors, ...(serviceOptions?.interceptors ?? [])],
        });
        return withInterceptors;
      },
      rpc(method, implementation, methodOptions) {
        router.rpc(method, implementation, {
          ...handlerOptions,
          ...methodOptions,
          interceptors: [...interceptors, ...(methodOptions?.interceptors ?? [])],
        });
        return withInterceptors;
      },
    };
    options.register(withInterceptors);
    registerHealthRoutes(withInterceptors, options.health);
    registerReflection(withInterceptors, {
      services: options.services,
      ...(options.reflectionFiles === undefined ? {} : { files: options.reflectionFiles }),
    });
  };

  return { handler: nodeHandler(routes, logger), routes };
}

// connectNodeAdapter, minus its console.error: a response that cannot be written because the client went
// away (or close() cut it) is routine, and everything we print must be a JSON log line.
function nodeHandler(routes: (router: ConnectRouter) => void, logger: Logger): NodeHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli] });
  routes(router);
  const byPath = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = byPath.get((req.url ?? '').split('?', 1)[0] ?? '');
    if (handler === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    const universalRequest = universalRequestFromNodeRequest(req, res, undefined, undefined);
    handler(universalRequest)
      .then((universalResponse) => universalResponseToNodeResponse(universalResponse, res))
      .catch((reason: unknown) => {
        const error = ConnectError.from(reason);
        if (error.code === Code.Aborted || res.destroyed) return;
        logger.warn(
          { rpc: `${handler.service.typeName}/${handler.method.name}`, err: reason },
          'could not send the response',
        );
      });
  };
}

/** An in-process transport to `routes` (embedded mode), traced as a client call. */
export function inProcessTransport(
  routes: (router: ConnectRouter) => void,
  interceptors: readonly Interceptor[] = [],
): Transport {
  return createRouterTransport(routes, {
    transport: { interceptors: [tracingInterceptor('client'), ...interceptors] },
  });
}

export interface ListenOptions {
  port: number;
  host: string;
  logger?: Logger;
  /**
   * Connections older than this many milliseconds (each ±10 %, so that a fleet's clients do not reconnect
   * together) are asked to reconnect: an HTTP/2 session gets a GOAWAY and closes once its open calls have
   * finished; an HTTP/1.1 connection closes after its next response. Clients reconnect through whatever
   * balances them (a Kubernetes Service), so replicas started later get their share of long-lived gRPC
   * clients. 0 or unset: connections live as long as the client keeps them.
   */
  maxConnectionAgeMs?: number;
}

/** Highest HTTP/2 stream id: a GOAWAY carrying it refuses no stream the client has already sent. */
const LAST_STREAM_ID = 2 ** 31 - 1;

/** An age between 90 % and 110 % of `ms`. */
const jittered = (ms: number): number => ms * (0.9 + 0.2 * Math.random());

/**
 * Ends an HTTP/2 session without failing a call. A GOAWAY that still admits every stream tells the client to
 * open no more on this connection (a stream already on its way is served, not refused); the client closes
 * the connection itself once its calls have finished. A client that has not done so `graceMs` later gets the
 * final GOAWAY and a graceful close, which still lets open calls finish.
 */
function retireSession(session: http2.ServerHttp2Session, graceMs = 5000): void {
  if (session.closed || session.destroyed) return;
  try {
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, LAST_STREAM_ID);
  } catch {
    return; // already going away
  }
  const timer = setTimeout(() => {
    if (!session.closed && !session.destroyed) session.close();
  }, graceMs);
  timer.unref();
  session.once('close', () => clearTimeout(timer));
}

export interface ListeningServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `timeoutMs` (default 10 s), then
   * destroys whatever is left. HTTP/2 clients get a GOAWAY; HTTP/1.1 keep-alive connections are closed
   * after their current response.
   */
  close(timeoutMs?: number): Promise<void>;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Reads just enough of a new connection to tell an HTTP/2 prior-knowledge client (whose first bytes are the
 * connection preface) from an HTTP/1.x one, then puts the bytes back for the real server to read.
 */
function sniff(socket: net.Socket, route: (isHttp2: boolean) => void): void {
  let buffered = Buffer.alloc(0);
  const cleanup = () => {
    socket.off('readable', onReadable);
    socket.off('end', onGone);
    socket.off('close', onGone);
  };
  const decide = (isHttp2: boolean) => {
    cleanup();
    if (buffered.length > 0) socket.unshift(buffered);
    route(isHttp2);
  };
  function onGone() {
    cleanup();
    socket.destroy();
  }
  function onReadable() {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      buffered = Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, PREFACE.length);
      if (!buffered.subarray(0, n).equals(PREFACE.subarray(0, n))) return decide(false);
      if (buffered.length >= PREFACE.length) return decide(true);
    }
  }
  socket.on('readable', onReadable);
  socket.once('end', onGone);
  socket.once('close', onGone);
}

export function listen(handler: NodeHandler, options: ListenOptions): Promise<ListeningServer> {
  const log = options.logger?.child({ component: 'http' });
  let closing = false;
  let inflight = 0;
  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  const http2Sockets = new Set<net.Socket>();
  const busyHttp1 = new Map<net.Socket, number>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const maxAge = options.maxConnectionAgeMs ?? 0;
  // When each HTTP/1.1 connection has outlived its (jittered) maximum age.
  const expiresAt = new WeakMap<net.Socket, number>();

  const tracked = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    inflight++;
    const http1Socket = req instanceof http.IncomingMessage ? req.socket : undefined;
    if (http1Socket !== undefined) {
      busyHttp1.set(http1Socket, (busyHttp1.get(http1Socket) ?? 0) + 1);
      const expired = Date.now() >= (expiresAt.get(http1Socket) ?? Infinity);
      if (closing || expired) (res as http.ServerResponse).setHeader('connection', 'close');
    }
    let finished = false;
    res.once('close', () => {
      if (finished) return;
      finished = true;
      inflight--;
      if (http1Socket !== undefined) {
        const left = (busyHttp1.get(http1Socket) ?? 1) - 1;
        if (left === 0) {
          busyHttp1.delete(http1Socket);
          if (closing) http1Socket.destroySoon();
        } else busyHttp1.set(http1Socket, left);
      }
    });
    handler(req, res);
  };

  const h1 = http.createServer(tracked);
  h1.on('clientError', (err, socket) => {
    log?.debug({ err }, 'bad HTTP/1 request');
    socket.destroy();
  });
  const h2 = http2.createServer({}, tracked);
  h2.on('session', (session) => {
    sessions.add(session);
    if (maxAge > 0) {
      const timer = setTimeout(() => {
        log?.debug({ maxConnectionAgeMs: maxAge }, 'HTTP/2 connection reached its maximum age: GOAWAY');
        retireSession(session);
      }, jittered(maxAge));
      timer.unref();
      session.once('close', () => clearTimeout(timer));
    }
    session.once('close', () => sessions.delete(session));
    if (closing) session.close();
  });
  h2.on('sessionError', (err) => log?.debug({ err }, 'HTTP/2 session error'));

  const front = net.createServer((socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      sniffing.delete(socket);
      http2Sockets.delete(socket);
    });
    // Errors surface in the http servers once routed; before that a reset connection is just dropped.
    socket.on('error', (err) => log?.debug({ err }, 'connection error'));
    sniffing.add(socket);
    sniff(socket, (isHttp2) => {
      sniffing.delete(socket);
      if (isHttp2) http2Sockets.add(socket);
      else if (maxAge > 0) expiresAt.set(socket, Date.now() + jittered(maxAge));
      (isHttp2 ? h2 : h1).emit('connection', socket);
    });
  });

  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.listen(options.port, options.host, () => {
      front.off('error', reject);
      front.on('error', (err) => log?.error({ err }, 'listener error'));
      const address = front.address() as net.AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      let closed: Promise<void> | undefined;
      resolve({
        port: address.port,
        url: `http://${host}:${address.port}`,
        close(timeoutMs = 10_000) {
          closed ??= (async () => {
            closing = true;
            const stopped = new Promise<void>((done) => front.close(() => done()));
            for (const socket of sniffing) socket.destroy();
            for (const session of sessions) session.close();
            for (const socket of sockets) {
              // Idle HTTP/1.1 keep-alive connections; busy ones close after their response.
              if (!http2Sockets.has(socket) && !busyHttp1.has(socket)) socket.destroy();
            }
            // Drained once every connection has closed on its own: HTTP/2 sessions close after their last
            // stream (and its trailers) went out, HTTP/1.1 sockets after their last response.
            let timer: NodeJS.Timeout | undefined;
            const outcome = await Promise.race([
              stopped.then(() => 'drained' as const),
              new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), timeoutMs))),
            ]);
            clearTimeout(timer);
            if (outcome === 'timeout') {
              log?.warn({ inflight }, 'shutdown timeout: cancelling requests still in flight');
              for (const session of sessions) session.destroy();
              for (const socket of sockets) socket.destroy();
            }
            await stopped;
            // Neither server listens itself; closing them just stops their connection-timeout timers.
            h1.close(() => undefined);
            h2.close(() => undefined);
          })();
          return closed;
        },
      });
    });
  });
}
