// The generator's language models through the inference router's LLM port: the router's model table (a pool
// of backends per model id, llm/model-router.ts) is passed in as it is — in embedded mode the very instance
// the router serves answers with, in distributed mode one the trainer builds from the same settings. Typed
// structurally, so that the trainer does not reach into the router's files.
import type { CompletionRequest, GeneratorLlm, GeneratorModels } from '../domain/generator-llm.port.js';

type ChatEvent = { type: 'delta'; text: string } | { type: 'end' };

/** What the router's LlmBackend offers that the generator uses. */
export interface ChatBackend {
  readonly model: string;
  chat(
    request: CompletionRequest & { temperature?: number },
    signal?: AbortSignal,
  ): AsyncIterable<ChatEvent | { type: string }>;
}

/** What the router's ModelRouter offers: the pool serving a model id (throws not-found when none). */
export interface ModelTable {
  resolve(model?: string): ChatBackend;
}

class RouterLlm implements GeneratorLlm {
  constructor(private readonly backend: ChatBackend) {}

  get model(): string {
    return this.backend.model;
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<string> {
    let text = '';
    for await (const event of this.backend.chat(request, signal)) {
      if (event.type === 'delta') text += (event as { text: string }).text;
    }
    return text;
  }
}

export function routerModels(models: ModelTable): GeneratorModels {
  return { resolve: (id) => new RouterLlm(models.resolve(id)) };
}
