// The router's list of LLM backends, from one setting (LLMTWIN_LLM_BACKENDS): comma-separated entries
//   <model>=openai+<base url>      an OpenAI-compatible server, e.g. twin=openai+http://vllm:8000/v1
//   <model>=tgi+<base url>         text-generation-inference, e.g. base=tgi+http://tgi:80
//   <model>=local:<file.gguf>      a GGUF model in this process; local:<name> a model `npm run models:prepare`
//                                  prepared (Qwen2.5-Coder-0.5B-Instruct, SmolLM2-135M-Instruct), local:default the
//                                  default of them (local-backend.ts)
// each optionally followed by `;key=value` options: openai `upstream=<served model name>`,
// `json=json_schema|json_object` (how a JSON schema is asked for: OpenAI/vLLM, or llama.cpp and
// llama-cpp-python), `health=<path under the URL, or a URL>` (what the health check GETs) and
// `lora_root=<folder on the server>` (vLLM: per-author LoRA adapters are loaded at runtime from
// <folder>/<adapter name>); tgi `template=chatml|llama3|mistral`; local `threads=N`, `context=N`,
// `parallel=N`, `adapters=N` (authors' LoRA contexts kept), `base=<hf id>` (the checkpoint a GGUF file
// quantises, so that only adapters trained on it are applied; known for prepared models). Several entries with one model name form that
// model's pool. Parsing is pure; createBackend builds the adapter for an entry.
import { isAbsolute, resolve } from 'node:path';
import { CHAT_TEMPLATES, type ChatTemplateName } from './chat-template.js';
import type { LlmBackend } from '../llm.port.js';
import {
  LocalBackend,
  DEFAULT_LOCAL_MODEL,
  PREPARED_LOCAL_MODELS,
  preparedLocalModel,
  preparedModelPath,
} from './local-backend.js';
import { OpenAiBackend } from './openai-backend.js';
import { TgiBackend } from './tgi-backend.js';

interface SpecBase {
  model: string;
  /** The entry as written, for messages. */
  entry: string;
}

export const OPENAI_JSON_MODES = ['json_schema', 'json_object'] as const;
export type OpenAiJsonMode = (typeof OPENAI_JSON_MODES)[number];

export interface OpenAiBackendSpec extends SpecBase {
  kind: 'openai';
  url: string;
  upstreamModel?: string;
  jsonMode?: OpenAiJsonMode;
  /** A path under `url`, or an absolute URL. */
  healthPath?: string;
  /** vLLM: the folder on the server that holds one PEFT folder per adapter name. */
  loraRoot?: string;
}

export interface TgiBackendSpec extends SpecBase {
  kind: 'tgi';
  url: string;
  chatTemplate: ChatTemplateName;
}

export interface LocalBackendSpec extends SpecBase {
  kind: 'local';
  modelPath: string;
  /** Written as local:default (the prepared default model, DEFAULT_LOCAL_MODEL). */
  isDefault: boolean;
  /** The checkpoint the file quantises: the prepared model's, or `base=`. */
  baseModel?: string;
  threads?: number;
  contextSize?: number;
  parallel?: number;
  /** Authors' LoRA adapter contexts kept at once. */
  adapterContexts?: number;
}

export type BackendSpec = OpenAiBackendSpec | TgiBackendSpec | LocalBackendSpec;

export interface ModelBackends {
  model: string;
  backends: BackendSpec[];
}

export class BackendSpecError extends Error {
  constructor(readonly problems: string[]) {
    super(`LLMTWIN_LLM_BACKENDS: ${problems.join('; ')}`);
    this.name = 'BackendSpecError';
  }
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;
const FORMAT = '<model>=openai+<url>, <model>=tgi+<url> or <model>=local:<path|name|default>';

const OPTION_KEYS: Record<BackendSpec['kind'], string[]> = {
  openai: ['upstream', 'json', 'health', 'lora_root'],
  tgi: ['template'],
  local: ['threads', 'context', 'parallel', 'adapters', 'base'],
};

export interface ParseOptions {
  /** For local:default and relative paths. Default process.env and process.cwd(). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Parses the setting into backends grouped by model, in the order the models first appear. Throws a
 * BackendSpecError that names every bad entry. A blank value gives an empty list.
 */
export function parseBackendSpecs(value: string, options: ParseOptions = {}): ModelBackends[] {
  const problems: string[] = [];
  const groups = new Map<string, BackendSpec[]>();
  const seen = new Set<string>();
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    try {
      const spec = parseEntry(entry, options);
      const key = `${spec.model}\u0000${spec.kind === 'local' ? spec.modelPath : spec.url}`;
      if (seen.has(key)) throw new Error('listed twice');
      seen.add(key);
      const list = groups.get(spec.model) ?? [];
      list.push(spec);
      groups.set(spec.model, list);
    } catch (err) {
      problems.push(`'${entry}': ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (problems.length > 0) throw new BackendSpecError(problems);
  return [...groups].map(([model, backends]) => ({ model, backends }));
}

function parseEntry(entry: string, options: ParseOptions): BackendSpec {
  const eq = entry.indexOf('=');
  if (eq < 0) throw new Error(`expected ${FORMAT}`);
  const model = entry.slice(0, eq).trim();
  if (!MODEL_NAME.test(model)) {
    throw new Error(
      `'${model}' is not a model name (letters, digits and . _ : / @ -, starting with a letter or digit)`,
    );
  }
  const [target = '', ...optionParts] = entry
    .slice(eq + 1)
    .split(';')
    .map((s) => s.trim());
  const opts = new Map<string, string>();
  for (const part of optionParts) {
    if (part === '') continue;
    const at = part.indexOf('=');
    if (at <= 0) throw new Error(`option '${part}' is not key=value`);
    opts.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }

  let spec: BackendSpec;
  if (target.startsWith('local:')) {
    const where = target.slice('local:'.length).trim();
    if (where === '') {
      throw new Error(
        `local: needs a GGUF file path, a prepared model (${Object.keys(PREPARED_LOCAL_MODELS).join(', ')}) or default`,
      );
    }
    const isDefault = where === 'default';
    const prepared = isDefault ? DEFAULT_LOCAL_MODEL : preparedLocalModel(where);
    const modelPath = prepared
      ? preparedModelPath(prepared, options.env ?? process.env)
      : isAbsolute(where)
        ? where
        : resolve(options.cwd ?? process.cwd(), where);
    spec = { model, kind: 'local', modelPath, isDefault, entry };
    const base = opts.get('base') ?? (prepared ? PREPARED_LOCAL_MODELS[prepared].baseModel : undefined);
    if (base === '') throw new Error('base= needs a model id, e.g. base=Qwen/Qwen2.5-0.5B-Instruct');
    if (base !== undefined) spec.baseModel = base;
    const threads = intOption(opts, 'threads', 1, 256);
    const contextSize = intOption(opts, 'context', 128, 1 << 20);
    const parallel = intOption(opts, 'parallel', 1, 64);
    if (threads !== undefined) spec.threads = threads;
    if (contextSize !== undefined) spec.contextSize = contextSize;
    if (parallel !== undefined) spec.parallel = parallel;
    const adapters = intOption(opts, 'adapters', 1, 64);
    if (adapters !== undefined) spec.adapterContexts = adapters;
  } else {
    const plus = target.indexOf('+');
    if (plus < 0) throw new Error(`expected ${FORMAT}`);
    const kind = target.slice(0, plus).trim();
    const url = parseUrl(target.slice(plus + 1).trim());
    if (kind === 'openai') {
      spec = { model, kind, url, entry };
      const upstream = opts.get('upstream');
      if (upstream !== undefined) {
        if (upstream === '') throw new Error('upstream= needs a model name');
        spec.upstreamModel = upstream;
      }
      const json = opts.get('json');
      if (json !== undefined) {
        if (!(OPENAI_JSON_MODES as readonly string[]).includes(json)) {
          throw new Error(`unknown json mode '${json}' (expected ${OPENAI_JSON_MODES.join(' or ')})`);
        }
        spec.jsonMode = json as OpenAiJsonMode;
      }
      const health = opts.get('health');
      if (health !== undefined) spec.healthPath = parseHealthPath(health);
      const loraRoot = opts.get('lora_root');
      if (loraRoot !== undefined) {
        if (!loraRoot.startsWith('/')) {
          throw new Error(`lora_root=${loraRoot}: an absolute folder on the vLLM server, e.g. /adapters`);
        }
        spec.loraRoot = loraRoot;
      }
    } else if (kind === 'tgi') {
      const template = opts.get('template') ?? 'chatml';
      if (!(CHAT_TEMPLATES as readonly string[]).includes(template)) {
        throw new Error(`unknown chat template '${template}' (expected ${CHAT_TEMPLATES.join(', ')})`);
      }
      spec = { model, kind, url, chatTemplate: template as ChatTemplateName, entry };
    } else {
      throw new Error(`unknown backend kind '${kind}' (expected openai, tgi or local:)`);
    }
  }
  for (const key of opts.keys()) {
    if (!OPTION_KEYS[spec.kind].includes(key)) {
      throw new Error(
        `unknown option '${key}' for a ${spec.kind} backend (known: ${OPTION_KEYS[spec.kind].join(', ')})`,
      );
    }
  }
  return spec;
}

function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`'${text}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`'${text}' is not an http(s) URL`);
  }
  if (url.username || url.password) {
    // The setting ends up in logs and process listings; keys belong in their own secret setting.
    throw new Error('credentials do not belong in the URL; configure the API key separately');
  }
  if (url.search || url.hash) throw new Error(`'${text}': no query or fragment expected`);
  return url.href.replace(/\/+$/, '');
}

/**
 * A health check target: a path under the base URL (`/models`), or an absolute URL for a server whose
 * cheap endpoint lies outside it (llama-cpp-python's GET /v1/models waits for the model lock, so under
 * load it answers only between generations; its `/openapi.json` does not).
 */
function parseHealthPath(text: string): string {
  if (text === '') throw new Error('health= needs a path or a URL');
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) return parseUrl(text);
  if (!text.startsWith('/')) throw new Error(`health=${text}: a path starts with '/'`);
  if (/[?#\s]/.test(text)) throw new Error(`health=${text}: no query, fragment or spaces expected`);
  return text;
}

function intOption(opts: Map<string, string>, key: string, min: number, max: number): number | undefined {
  const raw = opts.get(key);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${key}=${raw} is not an integer from ${min} to ${max}`);
  }
  return n;
}

export interface CreateBackendOptions {
  /** Bearer token for the remote backends. */
  apiKey?: string;
  firstTokenTimeoutMs?: number;
  idleTimeoutMs?: number;
  healthTimeoutMs?: number;
  /** Defaults for local backends whose entry does not set them. */
  localThreads?: number;
  localContextSize?: number;
  localParallel?: number;
}

/** Builds the adapter for one parsed entry. */
export function createBackend(spec: BackendSpec, options: CreateBackendOptions = {}): LlmBackend {
  const timeouts = {
    ...(options.firstTokenTimeoutMs !== undefined
      ? { firstTokenTimeoutMs: options.firstTokenTimeoutMs }
      : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.healthTimeoutMs !== undefined ? { healthTimeoutMs: options.healthTimeoutMs } : {}),
  };
  const apiKey = options.apiKey ? { apiKey: options.apiKey } : {};
  switch (spec.kind) {
    case 'openai':
      return new OpenAiBackend({
        model: spec.model,
        baseUrl: spec.url,
        ...(spec.upstreamModel ? { upstreamModel: spec.upstreamModel } : {}),
        ...(spec.jsonMode ? { jsonMode: spec.jsonMode } : {}),
        ...(spec.healthPath ? { healthPath: spec.healthPath } : {}),
        ...(spec.loraRoot ? { loraRoot: spec.loraRoot } : {}),
        ...apiKey,
        ...timeouts,
      });
    case 'tgi':
      return new TgiBackend({
        model: spec.model,
        baseUrl: spec.url,
        chatTemplate: spec.chatTemplate,
        ...apiKey,
        ...timeouts,
      });
    case 'local': {
      const threads = spec.threads ?? options.localThreads;
      const contextSize = spec.contextSize ?? options.localContextSize;
      const parallel = spec.parallel ?? options.localParallel;
      return new LocalBackend({
        model: spec.model,
        modelPath: spec.modelPath,
        ...(spec.baseModel ? { baseModel: spec.baseModel } : {}),
        ...(threads !== undefined ? { threads } : {}),
        ...(contextSize !== undefined ? { contextSize } : {}),
        ...(parallel !== undefined ? { parallel } : {}),
        ...(spec.adapterContexts !== undefined ? { maxAdapterContexts: spec.adapterContexts } : {}),
      });
    }
  }
}
