import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { invalidArgument } from '@llmtwin/runtime';
import type { Embedder } from './embedder.port.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { defaultCacheDir, OnnxEmbedder, type OnnxDtype, type Pooling } from './onnx-embedder.js';
import { RemoteEmbedder } from './remote-embedder.js';

export interface EmbedderSettings {
  /** Root of the model cache (LLMTWIN_CACHE_DIR); default ~/.cache/llmtwin. */
  readonly cacheDir?: string;
  /** LLMTWIN_ALLOW_MODEL_DOWNLOAD: let a hub id missing from the cache be downloaded. */
  readonly allowModelDownload?: boolean;
  /** Bearer token for the remote endpoint; kept out of the URL so it never lands in logs. */
  readonly apiKey?: string;
}

/** The settings createEmbedder reads from the environment, for the service's config to call once. */
export const embedderSettingsFromEnv = (env: NodeJS.ProcessEnv): EmbedderSettings => ({
  cacheDir: env.LLMTWIN_CACHE_DIR || undefined,
  allowModelDownload: ['1', 'true', 'yes'].includes((env.LLMTWIN_ALLOW_MODEL_DOWNLOAD ?? '').toLowerCase()),
  apiKey: env.LLMTWIN_EMBEDDER_API_KEY || undefined,
});

const ONNX_PARAMS = ['dtype', 'pooling', 'max_tokens', 'batch', 'threads', 'query_prefix', 'passage_prefix'];
const REMOTE_PARAMS = [
  'model',
  'dimensions',
  'max_tokens',
  'tokenizer',
  'batch',
  'timeout_ms',
  'retries',
  'query_prefix',
  'passage_prefix',
];
const DTYPES: readonly OnnxDtype[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'bnb4', 'q4f16'];

const USAGE =
  'expected onnx:<model folder or hub id>[?dtype=&batch=&threads=&max_tokens=&pooling=mean|cls&query_prefix=&passage_prefix=], ' +
  'tei+http(s)://host:port[?model=&dimensions=&tokenizer=…], or openai+http(s)://host[/v1]?model=<name>[&dimensions=&tokenizer=…]';

function params(query: string, allowed: readonly string[], url: string): URLSearchParams {
  const p = new URLSearchParams(query);
  const unknown = [...p.keys()].filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw invalidArgument(
      `embedder URL ${url}: unknown parameter(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`,
    );
  }
  return p;
}

function intParam(p: URLSearchParams, name: string, url: string): number | undefined {
  const raw = p.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw invalidArgument(`embedder URL ${url}: ${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

/**
 * Builds the embedder a URL names. The scheme picks the adapter explicitly; anything else is an error,
 * never a silent fallback to another adapter.
 */
export async function createEmbedder(url: string, settings: EmbedderSettings = {}): Promise<Embedder> {
  const cacheDir = settings.cacheDir ?? defaultCacheDir();
  const q = url.indexOf('?');
  const head = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);

  if (head.startsWith('onnx:')) {
    const spec = decodeURIComponent(head.slice('onnx:'.length));
    if (!spec) throw invalidArgument(`embedder URL ${url}: no model; ${USAGE}`);
    const p = params(query, ONNX_PARAMS, url);
    const dtype = p.get('dtype') ?? undefined;
    if (dtype !== undefined && !DTYPES.includes(dtype as OnnxDtype)) {
      throw invalidArgument(`embedder URL ${url}: dtype must be one of ${DTYPES.join(', ')}`);
    }
    const pooling = p.get('pooling') ?? undefined;
    if (pooling !== undefined && pooling !== 'mean' && pooling !== 'cls') {
      throw invalidArgument(`embedder URL ${url}: pooling must be mean or cls`);
    }
    return OnnxEmbedder.load({
      model: spec,
      cacheDir,
      allowDownload: settings.allowModelDownload ?? false,
      dtype: dtype as OnnxDtype | undefined,
      pooling: pooling as Pooling | undefined,
      maxTokens: intParam(p, 'max_tokens', url),
      batchSize: intParam(p, 'batch', url),
      threads: intParam(p, 'threads', url),
      queryPrefix: p.get('query_prefix') ?? undefined,
      passagePrefix: p.get('passage_prefix') ?? undefined,
    });
  }

  const remote = /^(tei|openai)\+(https?:\/\/.+)$/.exec(head);
  if (remote) {
    const protocol = remote[1] as 'tei' | 'openai';
    const p = params(query, REMOTE_PARAMS, url);
    const tokenizerSpec = p.get('tokenizer');
    return new RemoteEmbedder({
      protocol,
      baseUrl: remote[2] as string,
      model: p.get('model') ?? undefined,
      apiKey: settings.apiKey,
      dimensions: intParam(p, 'dimensions', url),
      maxTokens: intParam(p, 'max_tokens', url),
      batchSize: intParam(p, 'batch', url),
      timeoutMs: intParam(p, 'timeout_ms', url),
      retries: intParam(p, 'retries', url),
      queryPrefix: p.get('query_prefix') ?? undefined,
      passagePrefix: p.get('passage_prefix') ?? undefined,
      tokenizer: tokenizerSpec
        ? await loadTokenizer(tokenizerSpec, cacheDir, settings.allowModelDownload ?? false)
        : undefined,
    });
  }

  throw invalidArgument(`embedder URL "${url}" is not understood; ${USAGE}`);
}

async function loadTokenizer(spec: string, cacheDir: string, allowDownload: boolean): Promise<HfTokenizer> {
  const cached = join(cacheDir, 'models', spec);
  const source = existsSync(join(cached, 'tokenizer.json')) ? cached : spec;
  const tokenizer = await AutoTokenizer.from_pretrained(source, { local_files_only: !allowDownload });
  return new HfTokenizer(tokenizer);
}
