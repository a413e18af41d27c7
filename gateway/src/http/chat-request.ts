// An OpenAI Chat Completions request, read into the InferenceService's GenerateRequest: the last message is
// the question, the ones before it the history; sampling options map to GenerationOptions; retrieval options
// and, for admin keys, the author come from the `llmtwin` extension object. Options the twin cannot honour
// (several choices, tool calls, JSON output, log probabilities) are refused rather than silently dropped.
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { commonv1, type inferencev1 } from '@llmtwin/contracts';
import type { Principal } from '../auth/principal.js';
import { scopedAuthor } from '../auth/auth.interceptor.js';
import { invalidRequest, unsupported } from './openai-errors.js';
import {
  isObject,
  optBoolean,
  optInteger,
  optNumber,
  optString,
  rejectUnknownKeys,
  requireObject,
  type JsonObject,
} from './request-fields.js';

/** Names that mean "the twin's default model": GenerationOptions.model left empty. */
export const DEFAULT_MODEL_ALIASES: readonly string[] = ['llmtwin', 'default'];

export const MAX_STOP_SEQUENCES = 4;

/** The fields GenerateRequest and GenerateStreamRequest share, so that one plan serves both calls. */
export interface GenerateRequestInit {
  query: string;
  authorId: string;
  history: { role: string; content: string }[];
  disableRag: boolean;
  retrieval: MessageInitShape<typeof inferencev1.RetrievalOptionsSchema>;
  generation: MessageInitShape<typeof inferencev1.GenerationOptionsSchema>;
}

export interface ChatPlan {
  stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage and no choices. */
  includeUsage: boolean;
  /** The model as asked for, echoed on stream chunks sent before the answer names the model it used. */
  requestedModel: string;
  request: GenerateRequestInit;
}

const categories: Readonly<Record<string, commonv1.Category>> = {
  article: commonv1.Category.ARTICLE,
  post: commonv1.Category.POST,
  code: commonv1.Category.CODE,
};

const platforms: Readonly<Record<string, commonv1.Platform>> = {
  medium: commonv1.Platform.MEDIUM,
  substack: commonv1.Platform.SUBSTACK,
  linkedin: commonv1.Platform.LINKEDIN,
  github: commonv1.Platform.GITHUB,
  web: commonv1.Platform.WEB,
};

export const LLMTWIN_FIELDS = [
  'author_id',
  'top_k',
  'categories',
  'platforms',
  'published_after',
  'published_before',
  'expand_queries',
  'self_query',
  'rerank',
  'disable_rag',
] as const;

function messageText(message: JsonObject, param: string): string {
  const content = message['content'];
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    throw invalidRequest(`${param} must be a string or an array of text parts`, param, 'invalid_type');
  }
  return content
    .map((part, i) => {
      const partParam = `${param}[${i}]`;
      if (!isObject(part)) throw invalidRequest(`${partParam} must be an object`, partParam, 'invalid_type');
      if (part['type'] !== 'text') {
        throw unsupported(
          `${partParam}.type '${String(part['type'])}' is not supported: the twin reads text parts only`,
          `${partParam}.type`,
        );
      }
      const text = optString(part, 'text', `${partParam}.text`);
      if (text === undefined) throw invalidRequest(`${partParam}.text is required`, `${partParam}.text`);
      return text;
    })
    .join('\n');
}

interface Turn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

function readMessages(body: JsonObject): { query: string; history: Turn[] } {
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalidRequest(
      "messages must be a non-empty array ending with the user's question, e.g. [{role: 'user', content: '...'}]",
      'messages',
      messages === undefined ? 'missing_required_parameter' : 'invalid_type',
    );
  }
  const turns = messages.map((m, i): Turn => {
    const param = `messages[${i}]`;
    const message = requireObject(m, param, param);
    const role = message['role'];
    switch (role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: messageText(message, `${param}.content`) };
      case 'user':
      case 'assistant':
        return { role, content: messageText(message, `${param}.content`) };
      case 'tool':
      case 'function':
        throw unsupported(
          `${param}.role '${role}' is not supported: the twin does not call tools`,
          `${param}.role`,
        );
      default:
        throw invalidRequest(
          `${param}.role must be one of system, developer, user, assistant`,
          `${param}.role`,
          role === undefined ? 'missing_required_parameter' : 'invalid_value',
        );
    }
  });
  const last = turns[turns.length - 1]!;
  const lastParam = `messages[${turns.length - 1}]`;
  if (last.role !== 'user') {
    throw invalidRequest(
      `the last message must be the user's question (role 'user'), not a '${last.role}' message`,
      `${lastParam}.role`,
    );
  }
  if (last.content.trim() === '') {
    throw invalidRequest(
      "the user's question is empty: put it in the last message's content",
      `${lastParam}.content`,
    );
  }
  return {
    query: last.content,
    history: turns.slice(0, -1).filter((t) => t.content.trim() !== ''),
  };
}

function readStop(body: JsonObject): string[] {
  const stop = body['stop'];
  if (stop === undefined || stop === null) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s !== '')) {
    throw invalidRequest(
      'stop must be a non-empty string or an array of non-empty strings',
      'stop',
      'invalid_type',
    );
  }
  if (list.length > MAX_STOP_SEQUENCES) {
    throw invalidRequest(`stop takes at most ${MAX_STOP_SEQUENCES} sequences`, 'stop');
  }
  return list as string[];
}

function rejectUnsupported(body: JsonObject): void {
  const n = body['n'];
  if (n !== undefined && n !== null && n !== 1) {
    throw unsupported('n must be 1: the twin gives one answer per request', 'n');
  }
  const format = body['response_format'];
  if (format !== undefined && format !== null) {
    if (!isObject(format) || format['type'] !== 'text') {
      throw unsupported(
        "response_format must be {type: 'text'} or left out: the twin answers in prose with citations",
        'response_format',
      );
    }
  }
  if (body['logprobs'] === true) {
    throw unsupported('logprobs is not supported: leave it out or set it to false', 'logprobs');
  }
  for (const key of ['tools', 'functions']) {
    const value = body[key];
    if (Array.isArray(value) ? value.length > 0 : value !== undefined && value !== null) {
      throw unsupported(`${key} is not supported: the twin does not call tools`, key);
    }
  }
  const audio = body['modalities'];
  if (Array.isArray(audio) && audio.some((m) => m !== 'text')) {
    throw unsupported("modalities must be ['text']: the twin answers in text", 'modalities');
  }
}

function enumList<T>(
  obj: JsonObject,
  key: string,
  names: Readonly<Record<string, T>>,
  prefix: string,
): T[] | undefined {
  const param = `llmtwin.${key}`;
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  const allowed = Object.keys(names).join(', ');
  if (!Array.isArray(value)) {
    throw invalidRequest(`${param} must be an array of: ${allowed}`, param, 'invalid_type');
  }
  return value.map((v, i) => {
    const name = typeof v === 'string' ? v.toLowerCase().replace(new RegExp(`^${prefix}_`), '') : '';
    const found = names[name];
    if (found === undefined) {
      throw invalidRequest(`${param}[${i}] must be one of: ${allowed}`, `${param}[${i}]`);
    }
    return found;
  });
}

function optTime(obj: JsonObject, key: string) {
  const param = `llmtwin.${key}`;
  const value = optString(obj, key, param);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw invalidRequest(`${param} must be an ISO 8601 date or time, e.g. 2024-01-31T00:00:00Z`, param);
  }
  return timestampFromMs(ms);
}

interface Extension {
  authorId?: string;
  retrieval: GenerateRequestInit['retrieval'];
  disableRag: boolean;
}

function readExtension(body: JsonObject): Extension {
  const raw = body['llmtwin'];
  if (raw === undefined || raw === null) return { retrieval: {}, disableRag: false };
  const ext = requireObject(raw, 'llmtwin', 'llmtwin');
  rejectUnknownKeys(ext, LLMTWIN_FIELDS, 'llmtwin');
  const authorId = optString(ext, 'author_id', 'llmtwin.author_id');
  const topK = optInteger(ext, 'top_k', { min: 1 }, 'llmtwin.top_k');
  const expand = optInteger(ext, 'expand_queries', { min: 0 }, 'llmtwin.expand_queries');
  const selfQuery = optBoolean(ext, 'self_query', 'llmtwin.self_query');
  const rerank = optBoolean(ext, 'rerank', 'llmtwin.rerank');
  const cats = enumList(ext, 'categories', categories, 'category');
  const plats = enumList(ext, 'platforms', platforms, 'platform');
  const after = optTime(ext, 'published_after');
  const before = optTime(ext, 'published_before');
  return {
    ...(authorId !== undefined ? { authorId } : {}),
    retrieval: {
      ...(topK !== undefined ? { topK } : {}),
      ...(expand !== undefined ? { expandQueries: expand } : {}),
      ...(selfQuery !== undefined ? { selfQuery } : {}),
      ...(rerank !== undefined ? { rerank } : {}),
      ...(cats !== undefined ? { categories: cats } : {}),
      ...(plats !== undefined ? { platforms: plats } : {}),
      ...(after !== undefined ? { publishedAfter: after } : {}),
      ...(before !== undefined ? { publishedBefore: before } : {}),
    },
    disableRag: optBoolean(ext, 'disable_rag', 'llmtwin.disable_rag') ?? false,
  };
}

/**
 * Whose twin answers. An author key answers as its author (OpenAI's `user` is an end-user tag there, and is
 * ignored), and naming another author in llmtwin.author_id is refused, as on the Connect routes. An admin key
 * names the author in llmtwin.author_id, or in `user`.
 */
export function resolveAuthor(
  principal: Principal,
  extensionAuthor: string | undefined,
  user: string | undefined,
): string {
  const author = scopedAuthor(principal, extensionAuthor ?? (principal.admin ? user : undefined));
  if (author === '') {
    throw invalidRequest(
      "say whose twin answers: with an admin key, set llmtwin.author_id (or user) to the author's id",
      'llmtwin.author_id',
      'missing_required_parameter',
    );
  }
  return author;
}

export function parseChatRequest(value: unknown, principal: Principal): ChatPlan {
  const body = requireObject(value, null, 'the request body');
  rejectUnsupported(body);
  const { query, history } = readMessages(body);
  const model = optString(body, 'model') ?? '';
  const stream = optBoolean(body, 'stream') ?? false;
  const streamOptions = body['stream_options'];
  let includeUsage = false;
  if (streamOptions !== undefined && streamOptions !== null) {
    includeUsage =
      optBoolean(
        requireObject(streamOptions, 'stream_options', 'stream_options'),
        'include_usage',
        'stream_options.include_usage',
      ) ?? false;
  }
  // max_completion_tokens replaced max_tokens in OpenAI's API; the newer name wins when both are sent.
  const maxTokens =
    optInteger(body, 'max_completion_tokens', { min: 1 }) ?? optInteger(body, 'max_tokens', { min: 1 });
  const temperature = optNumber(body, 'temperature', { min: 0, max: 2 });
  const topP = optNumber(body, 'top_p', { min: 0, max: 1 });
  const stop = readStop(body);
  const user = optString(body, 'user');
  const ext = readExtension(body);
  const authorId = resolveAuthor(principal, ext.authorId, user);
  return {
    stream,
    includeUsage: stream && includeUsage,
    requestedModel: model,
    request: {
      query,
      authorId,
      history,
      disableRag: ext.disableRag,
      retrieval: ext.retrieval,
      generation: {
        model: DEFAULT_MODEL_ALIASES.includes(model) ? '' : model,
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ...(temperature !== undefined ? { temperature } : {}),
        ...(topP !== undefined ? { topP } : {}),
        stop,
      },
    },
  };
}
