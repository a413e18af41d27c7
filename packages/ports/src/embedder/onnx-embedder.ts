import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { env, pipeline, Tensor, type FeatureExtractionPipeline } from '@huggingface/transformers';
import { failedPrecondition, invalidArgument, unavailable } from '@llmtwin/runtime';
import type { Embedder, InputType, Tokenization } from './embedder.port.js';
import { HfTokenizer } from './hf-tokenizer.js';

export type OnnxDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'bnb4' | 'q4f16';
export type Pooling = 'mean' | 'cls';

export interface OnnxEmbedderOptions {
  /** A local model folder (config.json, tokenizer.json, onnx/*.onnx) or a Hugging Face model id. */
  readonly model: string;
  /** Root of the local cache; a model id is looked up in `<cacheDir>/models/<id>` first. */
  readonly cacheDir?: string;
  /** Let transformers.js download a model id that is not in the cache (needs internet). */
  readonly allowDownload?: boolean;
  /** Which ONNX file: fp32 → onnx/model.onnx, q8 → onnx/model_quantized.onnx, … Default: what the folder has. */
  readonly dtype?: OnnxDtype;
  /** Default: the model's `1_Pooling/config.json` (sentence-transformers), else mean. */
  readonly pooling?: Pooling;
  /** Default: sentence_bert_config.json max_seq_length, else tokenizer model_max_length, else positions. */
  readonly maxTokens?: number;
  /** Text put before each input; e5 wants 'query: ' / 'passage: ', bge a query instruction, MiniLM none. */
  readonly queryPrefix?: string;
  readonly passagePrefix?: string;
  /**
   * Texts per forward pass. Each call's texts are sorted by token count before they are cut into batches,
   * so a batch pads only to its own longest text; larger batches pay less per-run overhead.
   */
  readonly batchSize?: number;
  /** onnxruntime intra-op threads; default all cores. */
  readonly threads?: number;
}

export const defaultCacheDir = (): string => join(homedir(), '.cache', 'llmtwin');

const looksLikePath = (spec: string): boolean =>
  isAbsolute(spec) ||
  spec.startsWith('./') ||
  spec.startsWith('../') ||
  spec.startsWith('~/') ||
  spec === '.';

interface Resolved {
  readonly source: string;
  readonly folder: string | undefined;
  readonly name: string;
}

function resolveModel(spec: string, cacheDir: string, allowDownload: boolean): Resolved {
  if (looksLikePath(spec)) {
    const folder = resolve(spec.startsWith('~/') ? join(homedir(), spec.slice(2)) : spec);
    if (!existsSync(join(folder, 'config.json'))) {
      throw failedPrecondition(
        `embedding model folder ${folder} has no config.json; give a folder laid out for transformers.js ` +
          '(config.json, tokenizer.json, onnx/model*.onnx), e.g. one made by `node scripts/prepare-models.mjs`',
      );
    }
    return { source: folder, folder, name: basename(folder) };
  }
  const cached = join(cacheDir, 'models', spec);
  if (existsSync(join(cached, 'config.json'))) return { source: cached, folder: cached, name: spec };
  if (!allowDownload) {
    throw failedPrecondition(
      `embedding model "${spec}" is not in ${join(cacheDir, 'models')} and downloads are off: run ` +
        '`node scripts/prepare-models.mjs` (prepares all-MiniLM-L6-v2), give a local folder ' +
        '(onnx:/path/to/model), or set LLMTWIN_ALLOW_MODEL_DOWNLOAD=1 to fetch it from the Hugging Face hub',
    );
  }
  return { source: spec, folder: undefined, name: spec };
}

async function readJson(
  folder: string | undefined,
  file: string,
): Promise<Record<string, unknown> | undefined> {
  if (!folder || !existsSync(join(folder, file))) return undefined;
  return JSON.parse(await readFile(join(folder, file), 'utf8')) as Record<string, unknown>;
}

function defaultDtype(folder: string | undefined): OnnxDtype {
  if (!folder || existsSync(join(folder, 'onnx', 'model.onnx'))) return 'fp32';
  if (existsSync(join(folder, 'onnx', 'model_quantized.onnx'))) return 'q8';
  throw failedPrecondition(
    `embedding model folder ${folder} has neither onnx/model.onnx nor onnx/model_quantized.onnx`,
  );
}

const positiveNumber = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 1_000_000 ? v : undefined;

export class OnnxEmbedder implements Embedder {
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly extractor: FeatureExtractionPipeline,
    private readonly tok: HfTokenizer,
    readonly model: string,
    readonly dimensions: number,
    readonly maxTokens: number,
    private readonly pooling: Pooling,
    private readonly prefixes: Readonly<Record<InputType, string>>,
    private readonly batchSize: number,
  ) {}

  static async load(options: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const allowDownload = options.allowDownload ?? false;
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw invalidArgument(`batch size must be a positive integer, got ${batchSize}`);
    const resolved = resolveModel(options.model, cacheDir, allowDownload);
    const dtype = options.dtype ?? defaultDtype(resolved.folder);
    // transformers.js settings are process-wide; set them for this load only as far as they matter.
    env.allowLocalModels = true;
    env.allowRemoteModels = allowDownload;
    env.cacheDir = join(cacheDir, 'hub');
    const threads = options.threads ?? availableParallelism();
    let extractor: FeatureExtractionPipeline;
    try {
      // The cast sidesteps TS2590: pipeline()'s task-indexed return type is too large a union for tsc.
      const featureExtraction = pipeline as (
        task: 'feature-extraction',
        model: string,
        options: Record<string, unknown>,
      ) => Promise<FeatureExtractionPipeline>;
      extractor = await featureExtraction('feature-extraction', resolved.source, {
        dtype,
        local_files_only: !allowDownload,
        // One inference at a time: onnxruntime-node runs a session synchronously on the JS thread, so a
        // second session in the same process would not run beside the first. Spread each run over the cores.
        session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
      });
    } catch (err) {
      throw unavailable(
        `cannot load embedding model "${options.model}" (${dtype}): ${(err as Error).message}`,
        err,
      );
    }
    const config = extractor.model.config as unknown as Record<string, unknown>;
    const stConfig = await readJson(resolved.folder, 'sentence_bert_config.json');
    const poolingConfig = await readJson(resolved.folder, '1_Pooling/config.json');
    const maxTokens =
      options.maxTokens ??
      positiveNumber(stConfig?.max_seq_length) ??
      positiveNumber(extractor.tokenizer.model_max_length) ??
      positiveNumber(config.max_position_embeddings) ??
      512;
    const pooling: Pooling =
      options.pooling ?? (poolingConfig?.pooling_mode_cls_token === true ? 'cls' : 'mean');
    const dimensions = positiveNumber(config.hidden_size);
    if (dimensions === undefined)
      throw failedPrecondition(`embedding model "${options.model}" has no hidden_size in config.json`);
    const manifest = await readJson(resolved.folder, 'llmtwin-model.json');
    const name = typeof manifest?.name === 'string' ? manifest.name : resolved.name;
    return new OnnxEmbedder(
      extractor,
      new HfTokenizer(extractor.tokenizer),
      `${name}:${dtype}`,
      dimensions,
      maxTokens,
      pooling,
      { query: options.queryPrefix ?? '', passage: options.passagePrefix ?? '' },
      batchSize,
    );
  }

  countTokens(text: string, inputType: InputType = 'passage'): number {
    return this.tok.specialTokenCount + this.tok.ids(this.prefixes[inputType] + text).length;
  }

  tokenize(text: string): Tokenization {
    return this.tok.tokenize(text);
  }

  async embed(texts: readonly string[], inputType: InputType, signal?: AbortSignal): Promise<Float32Array[]> {
    signal?.throwIfAborted();
    const prefix = this.prefixes[inputType];
    const rows = texts.map((t) => this.tok.modelInput(prefix + t, this.maxTokens));
    // Shortest first, so each batch pads only to texts of about its own length; stable for equal lengths.
    const order = rows.map((_, i) => i).sort((a, b) => (rows[a]?.length ?? 0) - (rows[b]?.length ?? 0));
    const out = new Array<Float32Array>(texts.length);
    for (let i = 0; i < order.length; i += this.batchSize) {
      signal?.throwIfAborted();
      const picked = order.slice(i, i + this.batchSize);
      const vectors = await this.serialised(() => this.forward(picked.map((k) => rows[k] as number[])));
      picked.forEach((k, j) => (out[k] = vectors[j] as Float32Array));
    }
    return out;
  }

  async ping(): Promise<void> {
    if (this.closed) throw unavailable(`embedder ${this.model} is closed`);
    const [v] = await this.embed(['ping'], 'query');
    if (v?.length !== this.dimensions)
      throw unavailable(`embedder ${this.model} returned a malformed vector`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.extractor.dispose();
  }

  // onnxruntime sessions are not meant for concurrent runs here, and one run already uses every core.
  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async forward(rows: readonly (readonly number[])[]): Promise<Float32Array[]> {
    if (this.closed) throw unavailable(`embedder ${this.model} is closed`);
    const width = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(rows.length * width).fill(BigInt(this.tok.padId));
    const mask = new BigInt64Array(rows.length * width);
    rows.forEach((row, b) => {
      row.forEach((id, t) => {
        ids[b * width + t] = BigInt(id);
        mask[b * width + t] = 1n;
      });
    });
    const output = (await this.extractor.model({
      input_ids: new Tensor('int64', ids, [rows.length, width]),
      attention_mask: new Tensor('int64', mask, [rows.length, width]),
    })) as Record<string, Tensor | undefined>;
    const hidden = output.last_hidden_state ?? output.token_embeddings;
    if (!hidden) throw unavailable(`embedding model ${this.model} has no last_hidden_state output`);
    const [, seq, dim] = hidden.dims as [number, number, number];
    const data = hidden.data as Float32Array;
    return rows.map((row, b) => {
      const v = new Float32Array(dim);
      const base = b * seq * dim;
      if (this.pooling === 'cls') {
        v.set(data.subarray(base, base + dim));
      } else {
        // A sum, not a mean: the L2 normalisation below removes the 1/length factor anyway.
        for (let t = 0; t < row.length; t++) {
          for (let k = 0; k < dim; k++) v[k] = (v[k] ?? 0) + (data[base + t * dim + k] ?? 0);
        }
      }
      let norm = 0;
      for (const x of v) norm += x * x;
      norm = Math.sqrt(norm) || 1;
      for (let k = 0; k < dim; k++) v[k] = (v[k] ?? 0) / norm;
      return v;
    });
  }
}
