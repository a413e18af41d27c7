// Cross-encoder reranking: a model that reads the query and one passage together and scores how well the
// passage answers the query. Far sharper than the bi-encoder's cosine and far too slow for the whole
// collection, so it only reorders the first candidates of the hybrid search.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  AutoModelForSequenceClassification,
  AutoTokenizer,
  env,
  Tensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import { failedPrecondition, invalidArgument, unavailable } from '@llmtwin/runtime/errors';
import type { Reranker } from '../domain/reranker.port.js';

export type { Reranker } from '../domain/reranker.port.js';

/** The encoder's input for a query–passage pair: ids with their segment (token type) ids. */
export interface PairInput {
  ids: number[];
  typeIds: number[];
}

type Encoding = { input_ids: number[]; token_type_ids?: number[] };
type Segment = { ids: number[]; types: number[] };

function indexOfRun(haystack: readonly number[], needle: readonly number[], from = 0): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Where a tokenizer puts its special tokens around a pair (BERT: [CLS] q [SEP] p [SEP]; XLM-R:
 * <s> q </s></s> p </s>), learnt from a probe pair. The pair is assembled here rather than by transformers.js
 * because its truncation cuts the end of the sequence, closing [SEP] included, while the models were trained
 * on pairs truncated longest-first with their special tokens intact.
 */
export class PairTemplate {
  private readonly parts: [Segment, Segment, Segment];
  private readonly queryType: number;
  private readonly passageType: number;

  constructor(private readonly tokenizer: PreTrainedTokenizer) {
    const a = tokenizer.encode('query', { add_special_tokens: false });
    const b = tokenizer.encode('passage', { add_special_tokens: false });
    const pair = (tokenizer as unknown as (t: string, o: Record<string, unknown>) => Encoding)('query', {
      text_pair: 'passage',
      return_tensor: false,
      return_token_type_ids: true,
    });
    const ids = pair.input_ids;
    const types = pair.token_type_ids ?? ids.map(() => 0);
    const at = indexOfRun(ids, a);
    const bt = at < 0 ? -1 : indexOfRun(ids, b, at + a.length);
    if (at < 0 || bt < 0) throw new Error('tokenizer: cannot locate a pair between its special tokens');
    const slice = (from: number, to: number): Segment => ({
      ids: ids.slice(from, to),
      types: types.slice(from, to),
    });
    this.parts = [slice(0, at), slice(at + a.length, bt), slice(bt + b.length, ids.length)];
    this.queryType = types[at] ?? 0;
    this.passageType = types[bt] ?? 0;
  }

  get specialTokenCount(): number {
    return this.parts.reduce((n, p) => n + p.ids.length, 0);
  }

  get padId(): number {
    return this.tokenizer.pad_token_id ?? 0;
  }

  ids(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false });
  }

  /** The pair cut to `maxTokens`, longest side first (as Hugging Face's `longest_first` does). */
  build(query: readonly number[], passage: readonly number[], maxTokens: number): PairInput {
    const room = Math.max(0, maxTokens - this.specialTokenCount);
    let q = query.length;
    let p = passage.length;
    if (q + p > room) {
      // Trim the longer side down to the shorter, then both alternately (ties trim the passage).
      const excess = q + p - room;
      const fromLonger = Math.min(excess, Math.abs(q - p));
      if (q > p) q -= fromLonger;
      else p -= fromLonger;
      const rest = excess - fromLonger;
      p -= Math.ceil(rest / 2);
      q -= Math.floor(rest / 2);
    }
    const [lead, middle, tail] = this.parts;
    return {
      ids: [...lead.ids, ...query.slice(0, q), ...middle.ids, ...passage.slice(0, p), ...tail.ids],
      typeIds: [
        ...lead.types,
        ...Array<number>(q).fill(this.queryType),
        ...middle.types,
        ...Array<number>(p).fill(this.passageType),
        ...tail.types,
      ],
    };
  }
}

/** The padded batch the encoder takes: input_ids, attention_mask, token_type_ids, all int64 [rows, width]. */
export function batchTensors(rows: readonly PairInput[], padId: number): Record<string, Tensor> {
  const width = Math.max(...rows.map((r) => r.ids.length));
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(padId));
  const mask = new BigInt64Array(rows.length * width);
  const types = new BigInt64Array(rows.length * width);
  rows.forEach((row, b) => {
    row.ids.forEach((id, t) => {
      ids[b * width + t] = BigInt(id);
      mask[b * width + t] = 1n;
      types[b * width + t] = BigInt(row.typeIds[t] ?? 0);
    });
  });
  const dims = [rows.length, width];
  return {
    input_ids: new Tensor('int64', ids, dims),
    attention_mask: new Tensor('int64', mask, dims),
    token_type_ids: new Tensor('int64', types, dims),
  };
}

export interface OnnxRerankerOptions {
  /** Pairs per forward pass. */
  batchSize?: number;
  /** Tokens per pair, special tokens included; default min(512, the model's positions). */
  maxTokens?: number;
  /** onnxruntime intra-op threads; default all cores. */
  threads?: number;
}

type Dtype = 'fp32' | 'q8';

function dtypeOf(folder: string): Dtype {
  if (existsSync(join(folder, 'onnx', 'model.onnx'))) return 'fp32';
  if (existsSync(join(folder, 'onnx', 'model_quantized.onnx'))) return 'q8';
  throw failedPrecondition(
    `reranker model folder ${folder} has neither onnx/model.onnx nor onnx/model_quantized.onnx`,
  );
}

const positive = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;

/** A cross-encoder (…ForSequenceClassification with one or two labels) run in process by transformers.js. */
export class OnnxReranker implements Reranker {
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly model: PreTrainedModel,
    private readonly template: PairTemplate,
    readonly name: string,
    readonly maxTokens: number,
    private readonly labels: 1 | 2,
    private readonly batchSize: number,
  ) {}

  /** Loads a local transformers.js folder: config.json, tokenizer.json, onnx/model.onnx or model_quantized.onnx. */
  static async load(dir: string, options: OnnxRerankerOptions = {}): Promise<OnnxReranker> {
    const folder = resolve(dir);
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw invalidArgument(`reranker batch size must be a positive integer, got ${batchSize}`);
    if (!existsSync(join(folder, 'config.json'))) {
      throw failedPrecondition(
        `reranker model folder ${folder} has no config.json: give a cross-encoder laid out for transformers.js ` +
          '(config.json, tokenizer.json, onnx/model.onnx or onnx/model_quantized.onnx)',
      );
    }
    const config = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
    const architectures = Array.isArray(config.architectures) ? (config.architectures as string[]) : [];
    if (!architectures.some((a) => a.endsWith('ForSequenceClassification'))) {
      throw failedPrecondition(
        `reranker model in ${folder} is ${architectures.join(', ') || 'of no stated architecture'}, not a ` +
          'cross-encoder (a …ForSequenceClassification model that scores a query–passage pair)',
      );
    }
    const labels =
      config.id2label && typeof config.id2label === 'object'
        ? Object.keys(config.id2label).length
        : (positive(config.num_labels) ?? 1);
    if (labels !== 1 && labels !== 2) {
      throw failedPrecondition(
        `reranker model in ${folder} has ${labels} labels; a relevance cross-encoder has one (a score) or two`,
      );
    }
    const dtype = dtypeOf(folder);
    // transformers.js settings are process-wide: local files only, never the hub.
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    let model: PreTrainedModel;
    let tokenizer: PreTrainedTokenizer;
    try {
      tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
      model = await AutoModelForSequenceClassification.from_pretrained(folder, {
        dtype,
        local_files_only: true,
        // One run at a time (calls are serialised), so spread each over the cores instead.
        session_options: {
          intraOpNumThreads: options.threads ?? availableParallelism(),
          interOpNumThreads: 1,
        },
      });
    } catch (err) {
      throw unavailable(`cannot load reranker model ${folder} (${dtype}): ${(err as Error).message}`, err);
    }
    const maxTokens =
      options.maxTokens ??
      Math.min(
        512,
        positive(config.max_position_embeddings) ?? 512,
        positive(tokenizer.model_max_length) ?? 512,
      );
    const template = new PairTemplate(tokenizer);
    if (maxTokens <= template.specialTokenCount + 1)
      throw invalidArgument(`reranker maxTokens ${maxTokens} leaves no room for text`);
    return new OnnxReranker(model, template, `${basename(folder)}:${dtype}`, maxTokens, labels, batchSize);
  }

  async rerank(query: string, texts: string[], signal?: AbortSignal): Promise<number[]> {
    if (this.closed) throw unavailable(`reranker ${this.name} is closed`);
    if (texts.length === 0) return [];
    const q = this.template.ids(query);
    const scores: number[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      signal?.throwIfAborted();
      const rows = texts
        .slice(i, i + this.batchSize)
        .map((t) => this.template.build(q, this.template.ids(t), this.maxTokens));
      scores.push(...(await this.serialised(() => this.forward(rows))));
    }
    return scores;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.model.dispose();
  }

  // An onnxruntime session runs one batch at a time here; one run already uses every core.
  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async forward(rows: readonly PairInput[]): Promise<number[]> {
    if (this.closed) throw unavailable(`reranker ${this.name} is closed`);
    const output = (await this.model(batchTensors(rows, this.template.padId))) as {
      logits?: Tensor;
    };
    const logits = output.logits;
    if (!logits || logits.dims.length !== 2 || logits.dims[0] !== rows.length) {
      throw unavailable(`reranker ${this.name} gave no [pairs × labels] logits: is it a cross-encoder?`);
    }
    const width = logits.dims[1]!;
    const data = logits.data as Float32Array;
    // One label: its logit. Two: the log-odds of the second ("relevant"), which orders as its softmax does.
    return rows.map((_, b) =>
      this.labels === 1 || width === 1 ? data[b * width]! : data[b * width + 1]! - data[b * width]!,
    );
  }
}
