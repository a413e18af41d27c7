// The embed service as a module: the embedder and the vector collections, fed by chunks events.
import { embedv1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { EventBus, VectorStore } from '@llmtwin/ports';

export interface EmbedDeps {
  eventBus: EventBus;
  vectorStore: VectorStore;
}

export async function createEmbedModule(deps: EmbedDeps): Promise<ServiceModule> {
  return {
    name: 'embed',
    services: [embedv1.EmbedService],
    // Methods without a handler answer Unimplemented until their pipeline lands.
    register: (router) => router.service(embedv1.EmbedService, {}),
    dependencies: adapterDependencies(deps),
  };
}
