// Forwards the public services to the services that own them. Unary and server-streaming methods are
// forwarded as they are; the caller's deadline and cancellation travel with the call.
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { createClient, type ConnectRouter, type HandlerContext, type Transport } from '@connectrpc/connect';

type AnyClient = Record<string, (req: unknown, opts: unknown) => unknown>;

function forwardedOptions(ctx: HandlerContext) {
  const headers = new Headers();
  // The gateway authenticates callers; upstream services trust the author it resolved.
  const author = ctx.requestHeader.get('x-llmtwin-author');
  if (author) headers.set('x-llmtwin-author', author);
  return { signal: ctx.signal, headers, timeoutMs: ctx.timeoutMs() };
}

export function registerProxy(router: ConnectRouter, service: DescService, transport: Transport): void {
  const client = createClient(service, transport) as unknown as AnyClient;
  const impl: Record<string, unknown> = {};
  for (const method of service.methods as DescMethod[]) {
    const call = client[method.localName];
    if (!call) continue;
    switch (method.methodKind) {
      case 'unary':
        impl[method.localName] = (req: unknown, ctx: HandlerContext) => call(req, forwardedOptions(ctx));
        break;
      case 'server_streaming':
        impl[method.localName] = async function* (req: unknown, ctx: HandlerContext) {
          yield* call(req, forwardedOptions(ctx)) as AsyncIterable<unknown>;
        };
        break;
      default:
        // Client and bidi streaming are not part of the public surface (archives are uploaded through the
        // plain POST /v1/archives route instead).
        break;
    }
  }
  // Method by method, so that a method the gateway does not forward has no route at all, rather than one
  // that answers Unimplemented.
  for (const method of service.methods as DescMethod[]) {
    const fn = impl[method.localName];
    if (fn !== undefined) router.rpc(method, fn as never);
  }
}
