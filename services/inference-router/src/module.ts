// The inference-router service as a module: RAG over the vector store and generation on the LLM backends.
import { inferencev1 } from '@llmtwin/contracts';
import { adapterDependencies, type ServiceModule } from '@llmtwin/host';
import type { Warehouse, VectorStore } from '@llmtwin/ports';

export interface InferenceRouterDeps {
  warehouse: Warehouse;
  vectorStore: VectorStore;
}

export async function createInferenceRouterModule(deps: InferenceRouterDeps): Promise<ServiceModule> {
  return {
    name: 'inference-router',
    services: [inferencev1.InferenceService],
    // Methods without a handler answer Unimplemented until their pipeline lands.
    register: (router) => router.service(inferencev1.InferenceService, {}),
    dependencies: adapterDependencies(deps),
  };
}
