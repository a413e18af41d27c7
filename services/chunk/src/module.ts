// The chunk service as a module: chunking policies, fed by documents.cleaned events.
import { chunkv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { EventBus } from '@llmtwin/ports';

export interface ChunkDeps {
  eventBus: EventBus;
}

export async function createChunkModule(deps: ChunkDeps): Promise<ServiceModule> {
  return {
    name: 'chunk',
    services: [chunkv1.ChunkService],
    // Methods without a handler answer Unimplemented until their pipeline lands.
    register: (router) => router.service(chunkv1.ChunkService, {}),
    dependencies: adapterDependencies(deps),
  };
}
