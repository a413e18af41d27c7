// What a generation request may ask for, checked once at the door: every limit the RPCs document lives here, so
// the stages after it can trust their input.
import { invalidArgument } from '@llmtwin/runtime/errors';
import type { ChatMessage } from '@llmtwin/llm';
import { resolveTopK, type RetrievalFilters } from './retrieve.js';

export const MAX_QUERY_CHARS = 4_000;
export const MAX_EXPANSIONS = 5;
export const MAX_HISTORY_MESSAGES = 50;
export const DEFAULT_MAX_TOKENS = 512;
export const MAX_MAX_TOKENS = 8_192;

export interface RagRequest {
  query: string;
  authorId: string;
  topK?: number;
  categories?: number[];
  platforms?: number[];
  publishedAfter?: number;
  publishedBefore?: number;
  expandQueries?: number;
  selfQuery?: boolean;
  rerank?: boolean;
  /** Empty for the default model. */
  model?: string;
  disableRag?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  history?: ChatMessage[];
}

export interface ValidRequest {
  query: string;
  filters: RetrievalFilters;
  topK: number;
  expand: number;
  selfQuery: boolean;
  rerank: boolean;
  history: ChatMessage[];
}

export function validateRequest(req: RagRequest): ValidRequest {
  const query = req.query.trim();
  if (!query)
    throw invalidArgument('query is empty: ask a question', [{ field: 'query', message: 'required' }]);
  if (query.length > MAX_QUERY_CHARS) {
    throw invalidArgument(`query is longer than ${MAX_QUERY_CHARS} characters`, [
      { field: 'query', message: `at most ${MAX_QUERY_CHARS} characters` },
    ]);
  }
  if (!req.authorId.trim()) {
    throw invalidArgument('author_id is empty: say whose twin should answer', [
      { field: 'author_id', message: 'required' },
    ]);
  }
  const topK = resolveTopK(req.topK);
  const expand = req.expandQueries ?? 0;
  if (!Number.isInteger(expand) || expand < 0 || expand > MAX_EXPANSIONS) {
    throw invalidArgument(`retrieval.expand_queries must be between 0 and ${MAX_EXPANSIONS}`, [
      { field: 'retrieval.expand_queries', message: `0..${MAX_EXPANSIONS}` },
    ]);
  }
  if (
    req.publishedAfter !== undefined &&
    req.publishedBefore !== undefined &&
    req.publishedAfter >= req.publishedBefore
  ) {
    throw invalidArgument('retrieval.published_after must be before retrieval.published_before', [
      { field: 'retrieval.published_after', message: 'before published_before' },
    ]);
  }
  const history = req.history ?? [];
  if (history.length > MAX_HISTORY_MESSAGES) {
    throw invalidArgument(
      `history has more than ${MAX_HISTORY_MESSAGES} messages: send the recent turns only`,
      [{ field: 'history', message: `at most ${MAX_HISTORY_MESSAGES}` }],
    );
  }
  history.forEach((m, i) => {
    if (!['system', 'user', 'assistant'].includes(m.role)) {
      throw invalidArgument(`history[${i}].role must be "system", "user" or "assistant", not "${m.role}"`, [
        { field: `history[${i}].role`, message: 'system | user | assistant' },
      ]);
    }
  });
  const historyChars = history.reduce((n, m) => n + m.content.length, 0);
  if (historyChars > 8 * MAX_QUERY_CHARS) {
    throw invalidArgument(
      `history is longer than ${8 * MAX_QUERY_CHARS} characters: send the recent turns only`,
      [{ field: 'history', message: 'too long' }],
    );
  }
  if (req.maxTokens !== undefined && req.maxTokens !== 0) {
    if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1 || req.maxTokens > MAX_MAX_TOKENS) {
      throw invalidArgument(
        `generation.max_tokens must be between 1 and ${MAX_MAX_TOKENS} (0 for the default)`,
        [{ field: 'generation.max_tokens', message: `1..${MAX_MAX_TOKENS}` }],
      );
    }
  }
  if (req.temperature !== undefined && !(req.temperature >= 0 && req.temperature <= 2)) {
    throw invalidArgument('generation.temperature must be between 0 and 2', [
      { field: 'generation.temperature', message: '0..2' },
    ]);
  }
  if (req.topP !== undefined && !(req.topP >= 0 && req.topP <= 1)) {
    throw invalidArgument('generation.top_p must be between 0 and 1 (0 for the default)', [
      { field: 'generation.top_p', message: '0..1' },
    ]);
  }
  if ((req.stop?.length ?? 0) > 4) {
    throw invalidArgument('generation.stop takes at most 4 sequences', [
      { field: 'generation.stop', message: 'at most 4' },
    ]);
  }
  return {
    query,
    topK,
    expand,
    selfQuery: req.selfQuery ?? false,
    rerank: req.rerank ?? false,
    history: history.map((m) => ({ role: m.role, content: m.content })),
    filters: {
      authorId: req.authorId.trim(),
      categories: req.categories ?? [],
      platforms: req.platforms ?? [],
      ...(req.publishedAfter !== undefined ? { publishedAfter: req.publishedAfter } : {}),
      ...(req.publishedBefore !== undefined ? { publishedBefore: req.publishedBefore } : {}),
    },
  };
}
