// The ingest service as a module: IngestService over the warehouse; crawl events go out on the event bus.
import { ingestv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { EventBus, Warehouse } from '@llmtwin/ports';
import { AuthorDirectory } from './domain/authors.js';
import { registerIngestRoutes } from './rpc/ingest.routes.js';

export interface IngestDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
}

export async function createIngestModule(deps: IngestDeps): Promise<ServiceModule> {
  const authors = new AuthorDirectory(deps.warehouse);
  await authors.init();
  return {
    name: 'ingest',
    services: [ingestv1.IngestService],
    register: (router) => registerIngestRoutes(router, authors),
    dependencies: adapterDependencies(deps),
  };
}
