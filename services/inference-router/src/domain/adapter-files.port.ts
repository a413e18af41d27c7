// What a backend needs of an author's adapter before a request can use it: the in-process model a local
// GGUF file (fetched from the artifact store and checked), a GPU server only the adapter's name. The
// adapters' ArtifactAdapterFiles (adapters/artifact-adapter-files.ts) implements it.
import type { BackendKind, LoraAdapter } from '@llmtwin/llm';
import type { AuthorModel } from './author-models.js';

export interface AdapterFiles {
  /** The adapter as a backend of `kind` takes it; throws a DomainError that says what is missing. */
  prepare(model: AuthorModel, kind: BackendKind, signal?: AbortSignal): Promise<LoraAdapter>;
}
