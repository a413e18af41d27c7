// An author's adapter made ready for the backend that answers. GPU servers load adapters themselves (vLLM
// from its LoRA root, TGI from LORA_ADAPTERS) and need only the name; the in-process model needs the GGUF
// LoRA file on this machine, so it is fetched from the artifact store into a cache folder once, named by
// its sha256, checked against the sha256 the registry recorded, and then reused (also across restarts).
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { BackendKind, LoraAdapter } from '@llmtwin/llm';
import type { ArtifactStore } from '@llmtwin/ports';
import { DomainError, failedPrecondition, unavailable } from '@llmtwin/runtime/errors';
import type { AdapterFiles } from '../domain/adapter-files.port.js';
import { GGUF_ADAPTER_ARTIFACT, type AuthorModel } from '../domain/author-models.js';

export interface ArtifactAdapterFilesOptions {
  /** Where the registry's artifacts are; without it an in-process model cannot use adapters. */
  artifacts?: ArtifactStore;
  /** The local cache folder of adapter files. */
  cacheDir: string;
}

export class ArtifactAdapterFiles implements AdapterFiles {
  /** sha256 → the fetch in progress, so that concurrent first requests fetch once. */
  private readonly fetching = new Map<string, Promise<string>>();

  constructor(private readonly opts: ArtifactAdapterFilesOptions) {}

  async prepare(model: AuthorModel, kind: BackendKind, signal?: AbortSignal): Promise<LoraAdapter> {
    const adapter = { id: model.modelVersionId, name: model.servingName };
    if (kind !== 'local') return adapter;
    const gguf = model.gguf;
    if (!gguf) {
      throw failedPrecondition(
        `model version ${model.label} (${model.modelVersionId}) has no "${GGUF_ADAPTER_ARTIFACT}" artifact, ` +
          `which the in-process model needs: register the GGUF LoRA under that name, or ask with generation.model ` +
          `for the stock model`,
      );
    }
    return { ...adapter, path: await this.file(gguf.uri, gguf.sha256, gguf.sizeBytes, model, signal) };
  }

  /** The cached file of the artifact, fetched first when it is not there. */
  private async file(
    uri: string,
    sha256: string,
    sizeBytes: number,
    model: AuthorModel,
    signal?: AbortSignal,
  ): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) {
      throw failedPrecondition(
        `model version ${model.label}: the "${GGUF_ADAPTER_ARTIFACT}" artifact has no valid sha256 ("${sha256}")`,
      );
    }
    const target = path.join(this.opts.cacheDir, `${sha256}.gguf`);
    // Only complete, checked files are ever renamed into place; the size guards against a truncated disk copy.
    if (existsSync(target) && (sizeBytes <= 0 || (await stat(target)).size === sizeBytes)) return target;
    let pending = this.fetching.get(sha256);
    if (!pending) {
      pending = this.fetch(uri, sha256, target, model).finally(() => this.fetching.delete(sha256));
      this.fetching.set(sha256, pending);
    }
    if (!signal) return pending;
    signal.throwIfAborted();
    // The caller may stop waiting; the fetch goes on for the next request.
    return Promise.race([
      pending,
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      ),
    ]);
  }

  private async fetch(uri: string, sha256: string, target: string, model: AuthorModel): Promise<string> {
    const store = this.opts.artifacts;
    if (!store) {
      throw failedPrecondition(
        `model version ${model.label} needs its adapter file from the artifact store, and the router has none: ` +
          `set LLMTWIN_ARTIFACT_STORE_URL to the store the trainer writes to`,
      );
    }
    await mkdir(this.opts.cacheDir, { recursive: true });
    const partial = `${target}.${randomUUID().slice(0, 8)}.partial`;
    const hash = createHash('sha256');
    try {
      const source = await store.open(uri);
      await pipeline(
        source,
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        }),
        createWriteStream(partial),
      );
      const got = hash.digest('hex');
      if (got !== sha256) {
        throw failedPrecondition(
          `model version ${model.label}: ${uri} has sha256 ${got}, the registry recorded ${sha256}; ` +
            `register the version again with the artifact as stored`,
        );
      }
      await rename(partial, target);
      return target;
    } catch (err) {
      await rm(partial, { force: true });
      if (err instanceof DomainError) {
        if (err.kind === 'not-found') {
          throw new DomainError(
            'failed-precondition',
            `model version ${model.label}: its adapter ${uri} is not in the artifact store`,
            { cause: err },
          );
        }
        throw err;
      }
      throw unavailable(
        `model version ${model.label}: could not fetch its adapter ${uri}: ${String(err)}`,
        err,
      );
    }
  }
}
