// The clean service as a module: the cleaned snapshot, fed by documents.raw events.
import { cleanv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { Warehouse, EventBus } from '@llmtwin/ports';

export interface CleanDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
}

export async function createCleanModule(deps: CleanDeps): Promise<ServiceModule> {
  return {
    name: 'clean',
    services: [cleanv1.CleanService],
    // Methods without a handler answer Unimplemented until their pipeline lands.
    register: (router) => router.service(cleanv1.CleanService, {}),
    dependencies: adapterDependencies(deps),
  };
}
