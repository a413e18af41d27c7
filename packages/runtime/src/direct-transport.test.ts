import { describe, expect, it } from '@jest/globals';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { healthv1 } from '@llmtwin/contracts';
import { directTransport } from './direct-transport.js';

/** A client-side interceptor that stamps a header, and a server-side one that reads it back. */
const stamp: Interceptor = (next) => (req) => {
  req.header.set('x-stamp', 'from-client');
  return next(req);
};

describe('directTransport', () => {
  it('runs both sides’ interceptors and the handler with headers both ways, on the message objects', async () => {
    const seen: string[] = [];
    const serverSide: Interceptor = (next) => async (req) => {
      seen.push(`server interceptor: ${req.header.get('x-stamp')}`);
      const res = await next(req);
      res.header.set('x-answered-by', 'direct');
      return res;
    };
    const transport = directTransport(
      (router) =>
        router.service(
          healthv1.Health,
          {
            check(req, ctx) {
              seen.push(`handler: ${req.service} ${ctx.requestHeader.get('x-stamp')}`);
              return { status: healthv1.HealthCheckResponse_ServingStatus.SERVING };
            },
          },
          { interceptors: [serverSide] },
        ),
      [stamp],
    );
    let header: Headers | undefined;
    const res = await createClient(healthv1.Health, transport).check(
      { service: 'llmtwin.x' },
      { onHeader: (h) => (header = h) },
    );
    expect(res.status).toBe(healthv1.HealthCheckResponse_ServingStatus.SERVING);
    expect(seen).toEqual(['server interceptor: from-client', 'handler: llmtwin.x from-client']);
    expect(header?.get('x-answered-by')).toBe('direct');
  });

  it('answers as a Connect server would: codes and metadata kept, other errors Internal, missing methods Unimplemented', async () => {
    const transport = directTransport((router) =>
      router.service(healthv1.Health, {
        check(req) {
          if (req.service === 'busy') {
            throw new ConnectError('too many', Code.ResourceExhausted, { 'retry-after': '3' });
          }
          throw new Error('a bug with details nobody outside should read');
        },
      }),
    );
    const client = createClient(healthv1.Health, transport);
    const busy = await client.check({ service: 'busy' }).catch((e: unknown) => ConnectError.from(e));
    expect(busy).toMatchObject({ code: Code.ResourceExhausted, rawMessage: 'too many' });
    expect((busy as ConnectError).metadata.get('retry-after')).toBe('3');
    await expect(client.check({ service: 'x' })).rejects.toMatchObject({
      code: Code.Internal,
      rawMessage: 'internal error',
    });
    await expect(client.list({})).rejects.toMatchObject({ code: Code.Unimplemented });
  });

  it('closes a server stream the caller abandons, and aborts the handler’s signal', async () => {
    let closed = false;
    let handlerSignal: AbortSignal | undefined;
    const transport = directTransport((router) =>
      router.service(healthv1.Health, {
        async *watch(_req, ctx) {
          handlerSignal = ctx.signal;
          try {
            for (;;) {
              yield { status: healthv1.HealthCheckResponse_ServingStatus.SERVING };
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
          } finally {
            closed = true;
          }
        },
      }),
    );
    const ctl = new AbortController();
    const stream = createClient(healthv1.Health, transport).watch({}, { signal: ctl.signal });
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({
      status: healthv1.HealthCheckResponse_ServingStatus.SERVING,
    });
    ctl.abort(new ConnectError('the client left', Code.Canceled));
    await expect(it.next()).rejects.toMatchObject({ code: Code.Canceled });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handlerSignal?.aborted).toBe(true);
    expect(closed).toBe(true);
  });
});
