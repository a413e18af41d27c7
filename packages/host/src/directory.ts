// Service directories: how one service reaches another. Distributed: gRPC over HTTP/2 to the address in
// LLMTWIN_<SERVICE>_URL. Embedded: in-process transports that hand the messages to the same handlers (and
// their interceptors) without serializing them (runtime direct-transport.ts).
import type { ConnectRouter, Transport } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { directTransport, invalidArgument, refusedStreamRetry, tracingInterceptor } from '@llmtwin/runtime';
import type { ServiceDirectory, ServiceName } from './service-module.js';

export function envVarFor(service: ServiceName | 'gateway'): string {
  return `LLMTWIN_${service.toUpperCase().replace(/-/g, '_')}_URL`;
}

export class NetworkDirectory implements ServiceDirectory {
  private readonly transports = new Map<ServiceName, Transport>();
  constructor(private readonly urls: Partial<Record<ServiceName, string>>) {}

  transport(service: ServiceName): Transport {
    let t = this.transports.get(service);
    if (!t) {
      const baseUrl = this.urls[service];
      if (!baseUrl) {
        throw invalidArgument(`${envVarFor(service)} is not set: give the address of the ${service} service`);
      }
      // A call refused by a connection that was going away (the server's maximum connection age) is sent
      // again on a new one, as gRPC clients do.
      t = createGrpcTransport({
        baseUrl,
        interceptors: [tracingInterceptor('client'), refusedStreamRetry()],
      });
      this.transports.set(service, t);
    }
    return t;
  }
}

export class InProcessDirectory implements ServiceDirectory {
  private readonly routes = new Map<ServiceName, (router: ConnectRouter) => void>();
  private readonly transports = new Map<ServiceName, Transport>();

  add(service: ServiceName, routes: (router: ConnectRouter) => void): void {
    this.routes.set(service, routes);
  }

  transport(service: ServiceName): Transport {
    let t = this.transports.get(service);
    if (!t) {
      const routes = this.routes.get(service);
      if (!routes) throw invalidArgument(`service ${service} is not running in this process`);
      t = directTransport(routes, [tracingInterceptor('client')]);
      this.transports.set(service, t);
    }
    return t;
  }
}
