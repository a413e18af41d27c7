import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError, failedPrecondition, invalidArgument, unavailable } from '@llmtwin/runtime';
import type { Embedder, InputType, Tokenization } from './embedder.port.js';
import type { HfTokenizer } from './hf-tokenizer.js';

/**
 * `tei`: Hugging Face text-embeddings-inference, `POST /embed {inputs, truncate, normalize}` → number[][].
 * `openai`: any OpenAI-compatible server, `POST /v1/embeddings {model, input}` → {data: [{index, embedding}]}.
 */
export type RemoteProtocol = 'tei' | 'openai';

export interface RemoteEmbedderOptions {
  readonly protocol: RemoteProtocol;
  /** http(s)://host:port[/prefix]; for openai a trailing /v1 is accepted (https://api.openai.com/v1). */
  readonly baseUrl: string;
  /** Sent to OpenAI-compatible servers (required there); for TEI only a label for the vector space. */
  readonly model?: string;
  readonly apiKey?: string;
  /** Expected vector size; learnt from the first response when absent, and checked on every response. */
  readonly dimensions?: number;
  readonly maxTokens?: number;
  /** A local copy of the served model's tokenizer, for countTokens/tokenize (the chunker needs them). */
  readonly tokenizer?: HfTokenizer;
  readonly queryPrefix?: string;
  readonly passagePrefix?: string;
  readonly batchSize?: number;
  /** Per HTTP attempt. */
  readonly timeoutMs?: number;
  /** Extra attempts after a 5xx, 429, timeout or connection failure. */
  readonly retries?: number;
  readonly fetch?: typeof fetch;
}

const RETRYABLE = (status: number): boolean => status >= 500 || status === 429;

class RetryableError extends Error {}

export class RemoteEmbedder implements Embedder {
  readonly model: string;
  readonly maxTokens: number;
  private learntDimensions: number | undefined;
  private readonly endpoint: string;
  private readonly prefixes: Readonly<Record<InputType, string>>;
  private readonly batchSize: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly fetchImpl: typeof fetch;
  private closed = false;

  constructor(private readonly options: RemoteEmbedderOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw invalidArgument(`embedder endpoint ${options.baseUrl} is not a URL`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw invalidArgument(`embedder endpoint ${options.baseUrl} must be http(s)`);
    }
    const path = base.pathname.replace(/\/+$/, '');
    if (options.protocol === 'openai') {
      if (!options.model) throw invalidArgument('an OpenAI-compatible embedder needs ?model=<name>');
      base.pathname = path.endsWith('/v1') ? `${path}/embeddings` : `${path}/v1/embeddings`;
    } else {
      base.pathname = `${path}/embed`;
    }
    base.search = '';
    this.endpoint = base.toString();
    this.model = options.model ?? `tei@${base.host}`;
    this.maxTokens = options.maxTokens ?? 512;
    this.learntDimensions = options.dimensions;
    this.prefixes = { query: options.queryPrefix ?? '', passage: options.passagePrefix ?? '' };
    this.batchSize = options.batchSize ?? 32;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 3;
    this.fetchImpl = options.fetch ?? fetch;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw invalidArgument(`batch size must be a positive integer, got ${this.batchSize}`);
    }
  }

  get dimensions(): number {
    if (this.learntDimensions === undefined) {
      throw failedPrecondition(
        `dimensions of ${this.model} are not known yet: call ping() first or put ?dimensions=<n> in the embedder URL`,
      );
    }
    return this.learntDimensions;
  }

  countTokens(text: string, inputType: InputType = 'passage'): number {
    const tok = this.requireTokenizer();
    return tok.specialTokenCount + tok.ids(this.prefixes[inputType] + text).length;
  }

  tokenize(text: string): Tokenization {
    return this.requireTokenizer().tokenize(text);
  }

  async embed(texts: readonly string[], inputType: InputType, signal?: AbortSignal): Promise<Float32Array[]> {
    if (this.closed) throw unavailable(`embedder ${this.model} is closed`);
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      const batch = texts.slice(i, i + this.batchSize).map((t) => this.prefixes[inputType] + t);
      out.push(...(await this.call(batch, signal)));
    }
    return out;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.embed(['ping'], 'query', signal);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private requireTokenizer(): HfTokenizer {
    if (!this.options.tokenizer) {
      throw failedPrecondition(
        `embedder ${this.model} has no local tokenizer for token counts: add ?tokenizer=<model folder or id> to its URL`,
      );
    }
    return this.options.tokenizer;
  }

  private body(batch: readonly string[]): unknown {
    return this.options.protocol === 'openai'
      ? { model: this.options.model, input: batch, encoding_format: 'float' }
      : { inputs: batch, truncate: true, normalize: true };
  }

  private async call(batch: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      signal?.throwIfAborted();
      if (attempt > 0) await sleep(Math.min(200 * 2 ** (attempt - 1), 5_000), undefined, { signal });
      try {
        return await this.attempt(batch, signal);
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err;
        lastError = err;
      }
    }
    throw unavailable(
      `embedder ${this.endpoint} failed after ${this.retries + 1} attempts: ${(lastError as Error).message}`,
      lastError,
    );
  }

  private async attempt(batch: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let res: Response;
    try {
      res = await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(this.body(batch)),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      const why = timeout.aborted ? `no answer within ${this.timeoutMs} ms` : (err as Error).message;
      throw new RetryableError(why, { cause: err });
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      const detail = errorDetail(text);
      if (RETRYABLE(res.status)) throw new RetryableError(`HTTP ${res.status}${detail}`);
      const kind =
        res.status === 401
          ? 'unauthenticated'
          : res.status === 403
            ? 'permission-denied'
            : res.status === 400 || res.status === 413 || res.status === 422
              ? 'invalid-argument'
              : 'failed-precondition';
      throw new DomainError(
        kind,
        `embedder ${this.endpoint} refused the request: HTTP ${res.status}${detail}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw unavailable(`embedder ${this.endpoint} answered with something that is not JSON`, err);
    }
    const vectors = this.options.protocol === 'openai' ? openAiVectors(json) : teiVectors(json);
    if (vectors.length !== batch.length) {
      throw unavailable(
        `embedder ${this.endpoint} returned ${vectors.length} vectors for ${batch.length} inputs`,
      );
    }
    return vectors.map((v) => this.checked(v));
  }

  private checked(values: readonly number[]): Float32Array {
    this.learntDimensions ??= values.length;
    if (values.length !== this.learntDimensions) {
      throw failedPrecondition(
        `embedder ${this.endpoint} returned ${values.length}-dimensional vectors, expected ${this.learntDimensions}`,
      );
    }
    // Unit length is part of the port's contract, and not every OpenAI-compatible server normalises.
    const v = Float32Array.from(values);
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) / norm;
    return v;
  }
}

function errorDetail(body: string): string {
  if (!body) return '';
  try {
    const json = JSON.parse(body) as { error?: unknown };
    const e = json.error;
    const message =
      typeof e === 'string'
        ? e
        : typeof (e as { message?: unknown })?.message === 'string'
          ? (e as { message: string }).message
          : undefined;
    if (message) return `: ${message.slice(0, 300)}`;
  } catch {
    // Not JSON: show the start of the text.
  }
  return `: ${body.slice(0, 300)}`;
}

const isNumberArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'number');

function teiVectors(json: unknown): number[][] {
  if (!Array.isArray(json) || !json.every(isNumberArray)) {
    throw unavailable('text-embeddings-inference answer is not an array of number arrays');
  }
  return json;
}

function openAiVectors(json: unknown): number[][] {
  const data = (json as { data?: unknown })?.data;
  if (!Array.isArray(data)) throw unavailable('OpenAI-compatible answer has no data array');
  const items = data as { index?: unknown; embedding?: unknown }[];
  if (!items.every((d) => typeof d.index === 'number' && isNumberArray(d.embedding))) {
    throw unavailable('OpenAI-compatible answer has items without index or float embedding');
  }
  return [...items]
    .sort((a, b) => (a.index as number) - (b.index as number))
    .map((d) => d.embedding as number[]);
}
