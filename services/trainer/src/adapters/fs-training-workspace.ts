// The training jobs' folders on this machine's disk (<data dir>/training/<run id>), and the artifact store
// between them and the rest of the system: splits in, adapters out.
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore } from '@llmtwin/ports';
import type { StoredFile, TrainingWorkspace } from '../domain/training-workspace.port.js';

const mediaTypes: Record<string, string> = {
  '.json': 'application/json',
  '.jsonl': 'application/jsonl',
  '.safetensors': 'application/octet-stream',
  '.gguf': 'application/gguf',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
};

export class FsTrainingWorkspace implements TrainingWorkspace {
  constructor(
    private readonly root: string,
    private readonly artifacts: ArtifactStore,
  ) {}

  dir(runId: string): string {
    return path.join(this.root, runId);
  }

  async create(runId: string): Promise<string> {
    const dir = this.dir(runId);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async fetch(uri: string, file: string, signal?: AbortSignal): Promise<string> {
    await mkdir(path.dirname(file), { recursive: true });
    // Written beside and renamed: a reader (the job) never sees half a file; the store checks the sha256.
    const partial = `${file}.partial`;
    await pipeline(
      await this.artifacts.open(uri, signal),
      createWriteStream(partial),
      signal ? { signal } : {},
    );
    await rename(partial, file);
    return file;
  }

  readText(file: string, signal?: AbortSignal): Promise<string> {
    return readFile(file, { encoding: 'utf8', ...(signal ? { signal } : {}) });
  }

  async storeFile(file: string, mediaType: string, signal?: AbortSignal): Promise<StoredFile> {
    const artifact = await this.artifacts.putFile(file, { mediaType, ...(signal ? { signal } : {}) });
    return { name: path.basename(file), artifact };
  }

  async storeFolder(dir: string, signal?: AbortSignal): Promise<StoredFile[]> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();
    const stored: StoredFile[] = [];
    for (const name of files) {
      const mediaType = mediaTypes[path.extname(name)] ?? 'application/octet-stream';
      const artifact = await this.artifacts.putFile(path.join(dir, name), {
        mediaType,
        ...(signal ? { signal } : {}),
      });
      stored.push({ name: name.split(path.sep).join('/'), artifact });
    }
    return stored;
  }

  async exists(dir: string): Promise<boolean> {
    return (await stat(dir).catch(() => undefined))?.isDirectory() ?? false;
  }
}
