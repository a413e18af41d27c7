// What the services' routes tests share: a client of one module's registration over an in-memory Connect
// transport (createRouterTransport, with the error interceptor the hosts use), the embedded warehouse and
// event log in a temporary folder, and the ConnectError a call fails with.
import type { DescService } from '@bufbuild/protobuf';
import { ConnectError, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { createEventBus, createWarehouse } from '@llmtwin/ports/adapters';
import type { ServiceModule } from '@llmtwin/host';
import { errorInterceptor } from '@llmtwin/runtime';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';

/** A client of `service` served by `module` in process, errors mapped as the hosts map them. */
export function routesClient<S extends DescService>(
  service: S,
  module: Pick<ServiceModule, 'register'>,
  logger: Logger,
): Client<S> {
  return createClient(
    service,
    createRouterTransport((router) => module.register(router), {
      router: { interceptors: [errorInterceptor(logger)] },
    }),
  );
}

/** The ConnectError the call fails with; throws when it succeeds. */
export async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error('expected the call to fail');
}

/** The embedded warehouse (`warehouse.db`) and event log (`events.db`) in a new temporary folder. */
export interface EmbeddedStorage {
  readonly root: string;
  readonly warehouse: Warehouse;
  readonly bus: EventBus;
  /** Closes the event log and the warehouse and removes the folder. */
  close(): Promise<void>;
}

export async function openEmbeddedStorage(prefix: string): Promise<EmbeddedStorage> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const warehouse = await createWarehouse(`sqlite:${path.join(root, 'warehouse.db')}`);
  const bus = createEventBus(`log:${path.join(root, 'events.db')}`);
  return {
    root,
    warehouse,
    bus,
    close: async () => {
      await bus.close();
      await warehouse.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
