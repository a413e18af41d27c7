// The embedded mode's in-process transport: a call goes from the client's interceptors straight into the
// server's interceptors and handler with the message objects themselves. createRouterTransport (which
// inProcessTransport uses) runs the whole Connect protocol in memory instead: it encodes each request and
// response to protobuf bytes, frames them, decodes them on the other side and links three abort signals per
// call, which cost the gateway → inference router hop more CPU than the router's own work per answer
// (bench/router-overhead.ts). What the protocol gives a call is kept: both sides' interceptors (tracing,
// error mapping, auth), request and response headers and trailers, deadlines, cancellation in both
// directions, the server's "internal error" for whatever is not a ConnectError, and Unimplemented for a
// method nobody registered.
import { create, isMessage } from '@bufbuild/protobuf';
import type {
  DescMessage,
  DescMethod,
  DescMethodStreaming,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createContextValues,
  createHandlerContext,
  createMethodImplSpec,
  createServiceImplSpec,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
  type MethodImplSpec,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from '@connectrpc/connect';
import {
  createDeadlineSignal,
  createLinkedAbortController,
  createMethodUrl,
  getAbortSignalReason,
  invokeUnaryImplementation,
  runStreamingCall,
  transformInvokeImplementation,
} from '@connectrpc/connect/protocol';

type UnaryFn<I extends DescMessage, O extends DescMessage> = (
  req: UnaryRequest<I, O>,
) => Promise<UnaryResponse<I, O>>;

/** Where in-process calls say they go (the URL createRouterTransport uses too). */
const BASE_URL = 'https://in-memory';

interface Registered {
  spec: MethodImplSpec;
  interceptors: readonly Interceptor[];
}

/** Why a finished call's server context is aborted (every call ends so): made once. */
const CALL_OVER = new ConnectError('the call is over', Code.Canceled);

/** What the server side threw, as the Connect handler would send it. */
function serverError(err: unknown): ConnectError {
  return err instanceof ConnectError
    ? err
    : new ConnectError('internal error', Code.Internal, undefined, undefined, err);
}

/** Records what `routes` registers, with each registration's own interceptors. */
function collect(routes: (router: ConnectRouter) => void): Map<DescMethod, Registered> {
  const methods = new Map<DescMethod, Registered>();
  const router: ConnectRouter = {
    handlers: [],
    service(service: DescService, implementation, options) {
      const spec = createServiceImplSpec(service, implementation);
      for (const method of service.methods) {
        methods.set(method, {
          spec: spec.methods[method.localName]!,
          interceptors: options?.interceptors ?? [],
        });
      }
      return router;
    },
    rpc(method, implementation, options) {
      methods.set(method, {
        spec: createMethodImplSpec(method, implementation),
        interceptors: options?.interceptors ?? [],
      });
      return router;
    },
  };
  routes(router);
  return methods;
}

/**
 * A transport to the handlers `routes` registers, in this process, without serialization. `interceptors`
 * are the client side's (the server side's ride on each registration, as buildServer adds them).
 */
export function directTransport(
  routes: (router: ConnectRouter) => void,
  interceptors: readonly Interceptor[] = [],
): Transport {
  const methods = collect(routes);
  const lookup = (method: DescMethod): Registered => {
    const found = methods.get(method);
    if (!found) {
      throw new ConnectError(
        `${method.parent.typeName}/${method.name} is not implemented here`,
        Code.Unimplemented,
      );
    }
    return found;
  };
  const context = (
    method: DescMethod,
    req: { header: Headers; signal: AbortSignal; url: string },
    timeoutMs: number | undefined,
  ) =>
    createHandlerContext({
      service: method.parent,
      method,
      protocolName: 'in-process',
      requestMethod: 'POST',
      url: req.url,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      requestSignal: req.signal,
      requestHeader: req.header,
      // The server starts with values of its own, as it would over the network.
      contextValues: createContextValues(),
    });

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      message: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      // As runUnaryCall, except that the finished call's signal is aborted with a reason made once (it made
      // a DOMException per call).
      const deadline = createDeadlineSignal(timeoutMs);
      const controller = createLinkedAbortController(signal, deadline.signal);
      const req: UnaryRequest<I, O> = {
        stream: false,
        service: method.parent,
        method,
        requestMethod: 'POST',
        url: createMethodUrl(BASE_URL, method),
        header: new Headers(header),
        contextValues: contextValues ?? createContextValues(),
        message: isMessage(message, method.input) ? message : create(method.input, message),
        signal: controller.signal,
      };
      const server = async (req: UnaryRequest<I, O>): Promise<UnaryResponse<I, O>> => {
        const { spec, interceptors: serverInterceptors } = lookup(method);
        const ctx = context(method, req, timeoutMs);
        try {
          // lookup() found it under this unary method, so its spec is a unary one.
          const output = await invokeUnaryImplementation(
            spec as Parameters<typeof invokeUnaryImplementation>[0],
            ctx,
            req.message,
            [...serverInterceptors],
          );
          return {
            stream: false,
            service: method.parent,
            method,
            header: ctx.responseHeader,
            message: output as MessageShape<O>,
            trailer: ctx.responseTrailer,
          };
        } catch (err) {
          throw serverError(err);
        } finally {
          ctx.abort(CALL_OVER);
        }
      };
      const call = interceptors.reduceRight<UnaryFn<I, O>>(
        (next, interceptor) => interceptor(next as never) as unknown as UnaryFn<I, O>,
        server,
      );
      try {
        const res = await call(req);
        deadline.cleanup();
        controller.abort(CALL_OVER);
        return res;
      } catch (err) {
        const error = ConnectError.from(
          controller.signal.aborted ? getAbortSignalReason(controller.signal) : err,
        );
        deadline.cleanup();
        controller.abort(error);
        throw error;
      }
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      return runStreamingCall<I, O>({
        interceptors: [...interceptors],
        signal,
        timeoutMs,
        req: {
          stream: true,
          service: method.parent,
          method,
          requestMethod: 'POST',
          url: createMethodUrl(BASE_URL, method),
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const { spec, interceptors: serverInterceptors } = lookup(method);
          const ctx = context(method, req, timeoutMs);
          const output = transformInvokeImplementation(spec, ctx, [...serverInterceptors])(req.message);
          const it = output[Symbol.asyncIterator]();
          let over = false;
          const end = () => {
            if (over) return;
            over = true;
            req.signal.removeEventListener('abort', onAbort);
            ctx.abort(CALL_OVER);
          };
          // The caller went away (or its deadline passed): the handler's generator is closed, so that its
          // cleanup (a cancelled generation's record, say) runs as it would when the connection dropped.
          const onAbort = () => {
            end();
            void it.return?.().catch(() => undefined);
          };
          req.signal.addEventListener('abort', onAbort, { once: true });
          return {
            stream: true,
            service: method.parent,
            method,
            header: ctx.responseHeader,
            trailer: ctx.responseTrailer,
            message: {
              [Symbol.asyncIterator]: () => ({
                async next() {
                  try {
                    // After the caller's abort nothing more arrives, as when a connection is cut.
                    req.signal.throwIfAborted();
                    const r = await it.next();
                    req.signal.throwIfAborted();
                    if (r.done === true) end();
                    return r as IteratorResult<MessageShape<O>>;
                  } catch (err) {
                    end();
                    throw req.signal.aborted
                      ? ConnectError.from(req.signal.reason, Code.Canceled)
                      : serverError(err);
                  }
                },
                async return(value?: unknown) {
                  end();
                  await it.return?.().catch(() => undefined);
                  return { done: true as const, value: value as MessageShape<O> };
                },
              }),
            },
          };
        },
      });
    },
  };
}
