// The files a training job works with, behind a port because the domain does no I/O: the job's folder, the
// dataset splits fetched from the artifact store into it, the outputs stored back, the held-out split read.
import type { Artifact } from '@llmtwin/ports';

export interface StoredFile {
  /** The file's path relative to the folder stored (for a folder), or its base name. */
  name: string;
  artifact: Artifact;
}

export interface TrainingWorkspace {
  /** The folder of a new run's job (created): <data dir>/training/<run id>. */
  create(runId: string): Promise<string>;
  /** The folder a run's job uses: <data dir>/training/<run id>. */
  dir(runId: string): string;
  /** Fetches an artifact into a file (folders created), checking its sha256; returns the absolute path. */
  fetch(uri: string, file: string, signal?: AbortSignal): Promise<string>;
  /** The text of a file (the test split, for the evaluation). */
  readText(file: string, signal?: AbortSignal): Promise<string>;
  /** Stores a file in the artifact store. */
  storeFile(file: string, mediaType: string, signal?: AbortSignal): Promise<StoredFile>;
  /** Stores every file under a folder (a PEFT adapter: config, weights, tokenizer files), sorted by name. */
  storeFolder(dir: string, signal?: AbortSignal): Promise<StoredFile[]>;
  /** Whether the folder exists (a resumed run's work dir). */
  exists(dir: string): Promise<boolean>;
}
