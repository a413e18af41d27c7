// One Connect interceptor for both ends of an RPC: a CLIENT span that injects W3C trace context into the
// request headers, a SERVER span that continues it, rpc.* attributes, and the RPC duration histograms.
// Streams keep their span open until the last message (or the error) has gone through.
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamResponse,
  type UnaryResponse,
} from '@connectrpc/connect';
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_RPC_CONNECT_RPC_ERROR_CODE,
  ATTR_RPC_GRPC_STATUS_CODE,
  ATTR_RPC_METHOD,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  METRIC_RPC_CLIENT_DURATION,
  METRIC_RPC_SERVER_DURATION,
} from './semconv.js';
import { callerEnded } from './connect-errors.js';
import { getTracer, lazyInstruments } from './telemetry.js';

export type RpcSide = 'server' | 'client';

export const headersGetter: TextMapGetter<Headers> = {
  keys: (carrier) => {
    const keys: string[] = [];
    carrier.forEach((_, key) => keys.push(key));
    return keys;
  },
  get: (carrier, key) => carrier.get(key) ?? undefined,
};
export const headersSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

type RpcSystem = 'grpc' | 'connect_rpc';

// gRPC-Web is gRPC on the wire (grpc-status trailers), so it reports as grpc.
function rpcSystem(header: Headers): RpcSystem {
  const type = header.get('content-type') ?? '';
  return type.startsWith('application/grpc') ? 'grpc' : 'connect_rpc';
}

/** Connect's code name in snake case, as rpc.connect_rpc.error_code spells it ("cancelled" with two l's). */
export function connectErrorCodeName(code: Code): string {
  if (code === Code.Canceled) return 'cancelled';
  return (Code[code] ?? 'unknown').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

// Per the gRPC conventions a server span is an error only for codes that mean the server failed.
const SERVER_ERROR_CODES = new Set<Code>([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

const instruments = lazyInstruments((meter) => ({
  server: meter.createHistogram(METRIC_RPC_SERVER_DURATION, {
    description: 'Duration of inbound RPCs',
    unit: 'ms',
  }),
  client: meter.createHistogram(METRIC_RPC_CLIENT_DURATION, {
    description: 'Duration of outbound RPCs',
    unit: 'ms',
  }),
}));

export interface TracingInterceptorOptions {
  /** Instrumentation scope of the spans; default @llmtwin/runtime. */
  tracerName?: string;
}

/**
 * The tracing interceptor. Pass `'server'` in a router's interceptors (buildServer does) and `'client'` in a
 * transport's interceptors.
 */
export function tracingInterceptor(side: RpcSide, options: TracingInterceptorOptions = {}): Interceptor {
  const tracer = getTracer(options.tracerName);
  return (next) => async (req) => {
    const system = rpcSystem(req.header);
    const service = req.service.typeName;
    const method = req.method.name;
    const baseAttributes: Attributes = {
      [ATTR_RPC_SYSTEM]: system,
      [ATTR_RPC_SERVICE]: service,
      [ATTR_RPC_METHOD]: method,
    };
    const spanAttributes: Attributes = { ...baseAttributes };
    if (side === 'client') {
      try {
        const url = new URL(req.url);
        spanAttributes[ATTR_SERVER_ADDRESS] = url.hostname;
        const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
        spanAttributes[ATTR_SERVER_PORT] = port;
      } catch {
        // In-process transports use URLs without a host; nothing to record.
      }
    }
    const parent =
      side === 'server' ? propagation.extract(context.active(), req.header, headersGetter) : context.active();
    const span = tracer.startSpan(
      `${service}/${method}`,
      { kind: side === 'server' ? SpanKind.SERVER : SpanKind.CLIENT, attributes: spanAttributes },
      parent,
    );
    const spanContext = trace.setSpan(parent, span);
    if (side === 'client') propagation.inject(spanContext, req.header, headersSetter);
    const started = performance.now();

    let ended = false;
    const finish = (error: unknown) => {
      if (ended) return;
      ended = true;
      // An aborted call surfaces as whatever the transport threw when its stream was torn down; the
      // signal says what really happened (cancelled, or the deadline passed).
      const code =
        error === undefined
          ? undefined
          : side === 'server'
            ? (callerEnded(req.signal) ?? ConnectError.from(error)).code
            : req.signal.aborted
              ? ConnectError.from(req.signal.reason, Code.Canceled).code
              : ConnectError.from(error).code;
      const outcome: Attributes = {};
      if (system === 'grpc') outcome[ATTR_RPC_GRPC_STATUS_CODE] = code ?? 0;
      if (system === 'connect_rpc' && code !== undefined) {
        outcome[ATTR_RPC_CONNECT_RPC_ERROR_CODE] = connectErrorCodeName(code);
      }
      if (code !== undefined) outcome[ATTR_ERROR_TYPE] = connectErrorCodeName(code);
      span.setAttributes(outcome);
      // A call this side cancelled itself (its caller went away) failed nobody.
      const cancelledHere = side === 'client' && code === Code.Canceled && req.signal.aborted;
      if (code !== undefined && !cancelledHere && (side === 'client' || SERVER_ERROR_CODES.has(code))) {
        recordFailure(span, error, code);
      }
      span.end();
      const histograms = instruments();
      (side === 'server' ? histograms.server : histograms.client).record(performance.now() - started, {
        ...baseAttributes,
        ...outcome,
      });
    };

    let res: UnaryResponse | StreamResponse;
    try {
      res = await context.with(spanContext, () => next(req));
    } catch (error) {
      finish(error);
      throw error;
    }
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    return {
      ...res,
      message: traceStream(res.message, spanContext, finish, req.signal),
    };
  };
}

function recordFailure(span: Span, error: unknown, code: Code) {
  const message = error instanceof ConnectError ? error.rawMessage : connectErrorCodeName(code);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  if (error instanceof Error) span.recordException(error);
}

// Runs every step of the stream inside the span's context (a server-streaming handler is an async
// generator whose body runs when the adapter pulls, outside the interceptor's call) and ends the span once.
function traceStream<T>(
  source: AsyncIterable<T>,
  ctx: Context,
  finish: (error: unknown) => void,
  signal: AbortSignal,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = context.with(ctx, () => source[Symbol.asyncIterator]());
      return {
        async next() {
          try {
            const result = await context.with(ctx, () => it.next());
            if (result.done === true) finish(undefined);
            return result;
          } catch (error) {
            finish(error);
            throw error;
          }
        },
        async return(value?: unknown) {
          finish(
            signal.aborted ? (signal.reason ?? new ConnectError('cancelled', Code.Canceled)) : undefined,
          );
          return it.return !== undefined
            ? await context.with(ctx, () => it.return!(value))
            : { done: true, value: value as T };
        },
        async throw(error?: unknown) {
          finish(error);
          if (it.throw !== undefined) return await context.with(ctx, () => it.throw!(error));
          throw error;
        },
      };
    },
  };
}
