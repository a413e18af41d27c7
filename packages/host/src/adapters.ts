// Opens the adapters a service asked for, each chosen by its URL (one URL per port), and closes them in
// reverse order on shutdown. Embedded URLs: sqlite:<file>, log:<file>. Real: mongodb://, kafka://, http(s)://.
import { createEventBus, createVectorStore, createWarehouse, tracedEventBus } from '@llmtwin/ports/adapters';
import type { EventBus, VectorStore, Warehouse } from '@llmtwin/ports';
import type { Logger } from 'pino';

export interface AdapterUrls {
  warehouse?: string;
  eventBus?: string;
  vectorStore?: string;
}

export interface Adapters {
  warehouse?: Warehouse;
  eventBus?: EventBus;
  vectorStore?: VectorStore;
  close(): Promise<void>;
}

export async function openAdapters(urls: AdapterUrls, options: { logger?: Logger } = {}): Promise<Adapters> {
  const opened: { close(): Promise<void> }[] = [];
  try {
    const warehouse = urls.warehouse ? await createWarehouse(urls.warehouse) : undefined;
    if (warehouse) opened.push(warehouse);
    // Every publish and handler is traced, with the trace context carried in message headers.
    const eventBus = urls.eventBus
      ? tracedEventBus(
          createEventBus(
            urls.eventBus,
            options.logger ? { logger: options.logger.child({ component: 'event-bus' }) } : {},
          ),
        )
      : undefined;
    if (eventBus) opened.push(eventBus);
    const vectorStore = urls.vectorStore ? await createVectorStore(urls.vectorStore) : undefined;
    if (vectorStore) opened.push(vectorStore);
    return {
      ...(warehouse ? { warehouse } : {}),
      ...(eventBus ? { eventBus } : {}),
      ...(vectorStore ? { vectorStore } : {}),
      close: () => closeAll(opened),
    };
  } catch (err) {
    await closeAll(opened);
    throw err;
  }
}

async function closeAll(opened: { close(): Promise<void> }[]): Promise<void> {
  for (const adapter of [...opened].reverse()) {
    await adapter.close().catch(() => undefined);
  }
}

/** The health dependencies for whichever adapters are open. */
export function adapterDependencies(adapters: Omit<Adapters, 'close'>) {
  const deps = [];
  if (adapters.warehouse) {
    const w = adapters.warehouse;
    deps.push({ name: 'warehouse', adapter: w.adapter, check: (s: AbortSignal) => w.ping(s) });
  }
  if (adapters.eventBus) {
    const b = adapters.eventBus;
    deps.push({ name: 'event-bus', adapter: b.adapter, check: (s: AbortSignal) => b.ping(s) });
  }
  if (adapters.vectorStore) {
    const v = adapters.vectorStore;
    deps.push({ name: 'vector-store', adapter: v.adapter, check: (s: AbortSignal) => v.ping(s) });
  }
  return deps;
}
