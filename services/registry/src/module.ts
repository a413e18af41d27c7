// The registry service as a module: datasets, runs, model versions and lineage.
import { registryv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { Warehouse, EventBus } from '@llmtwin/ports';

export interface RegistryDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
}

export async function createRegistryModule(deps: RegistryDeps): Promise<ServiceModule> {
  return {
    name: 'registry',
    services: [registryv1.RegistryService],
    // Methods without a handler answer Unimplemented until their pipeline lands.
    register: (router) => router.service(registryv1.RegistryService, {}),
    dependencies: adapterDependencies(deps),
  };
}
