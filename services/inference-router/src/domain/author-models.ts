// Which fine-tuned model answers for which author: the author's production model version, an adapter over
// the router's base model. Kept from the registry's ModelStageChanged events (consumers/model-promotion):
// a version approved into production serves its author from then on, one that leaves production (archived,
// rolled back, tainted) stops, without a restart. Pure: what an adapter costs on a backend (a context, a
// load on a GPU server) is released through the callback that the module wires to the model table.
export interface AdapterArtifact {
  uri: string;
  sha256: string;
  sizeBytes: number;
}

/** An author's production model version, as a generation uses and records it. */
export interface AuthorModel {
  authorId: string;
  modelVersionId: string;
  /** "<model name>/<version>", e.g. "jane-doe-twin/3": what every answer names. */
  label: string;
  /** What a GPU server knows the adapter as (vLLM lora_name, TGI adapter_id). */
  servingName: string;
  baseModel: string;
  /** The GGUF LoRA file (artifact "adapter.gguf"), for the in-process backend; absent when not registered. */
  gguf?: AdapterArtifact;
}

/** The artifact name the router loads in process: the trainer registers the GGUF LoRA under it. */
export const GGUF_ADAPTER_ARTIFACT = 'adapter.gguf';

export class AuthorModels {
  private readonly byAuthor = new Map<string, AuthorModel>();

  constructor(private readonly release: (model: AuthorModel) => Promise<void> = async () => undefined) {}

  /** The model version that answers for the author, or undefined for the stock model. */
  forAuthor(authorId: string): AuthorModel | undefined {
    return authorId ? this.byAuthor.get(authorId) : undefined;
  }

  list(): AuthorModel[] {
    return [...this.byAuthor.values()];
  }

  /** The version serves its author from now on; the version it replaces is released. */
  async serve(model: AuthorModel): Promise<void> {
    const previous = this.byAuthor.get(model.authorId);
    this.byAuthor.set(model.authorId, model);
    if (previous && previous.modelVersionId !== model.modelVersionId) await this.release(previous);
  }

  /**
   * The version stops serving its author. A version that is not the one serving (an older one archived
   * after its successor took over) changes nothing. Resolves whether it was serving.
   */
  async retire(authorId: string, modelVersionId: string): Promise<boolean> {
    const current = this.byAuthor.get(authorId);
    if (!current || current.modelVersionId !== modelVersionId) return false;
    this.byAuthor.delete(authorId);
    await this.release(current);
    return true;
  }
}
