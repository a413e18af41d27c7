// Connect clients for the CLI, talking JSON over HTTP/1.1 to the gateway (what curl would do).
import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import type { DescService } from '@bufbuild/protobuf';

export function gatewayClient<S extends DescService>(
  service: S,
  baseUrl: string,
  apiKey?: string,
): Client<S> {
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: '1.1',
    useBinaryFormat: false,
    // A fresh connection per call: a command makes few calls, and a kept-alive socket that the server closes
    // after its idle timeout just as the next call goes out answers ECONNRESET.
    nodeOptions: { agent: false },
    interceptors: apiKey
      ? [
          (next) => (req) => {
            req.header.set('authorization', `Bearer ${apiKey}`);
            return next(req);
          },
        ]
      : [],
  });
  return createClient(service, transport);
}
