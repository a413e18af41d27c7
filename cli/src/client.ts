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
