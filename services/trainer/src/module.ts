// The trainer service as a module: dataset generation and training jobs.
import { trainerv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { Warehouse, EventBus } from '@llmtwin/ports';

export interface TrainerDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
}

export async function createTrainerModule(deps: TrainerDeps): Promise<ServiceModule> {
  return {
    name: 'trainer',
    services: [trainerv1.TrainerService],
    // Methods without a handler answer Unimplemented until their pipeline lands.
    register: (router) => router.service(trainerv1.TrainerService, {}),
    dependencies: adapterDependencies(deps),
  };
}
