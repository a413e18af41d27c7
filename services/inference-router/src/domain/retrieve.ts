// The retrieval half of RAG: hybrid search per query (the original and, later, its expansions), reciprocal-rank
// fusion across the result lists, dedupe by chunk, keep top_k, then fit the passages into a context budget.
// Search itself is a port (`SearchFn`) so that this stays free of transports; the module backs it with
// EmbedService.SearchChunks.
import { invalidArgument } from '@llmtwin/runtime/errors';

export interface RetrievalFilters {
  authorId: string;
  /** Category and platform names as the vector store knows them ('article', 'medium', ...), as proto enums. */
  categories: number[];
  platforms: number[];
  /** Epoch milliseconds. */
  publishedAfter?: number;
  publishedBefore?: number;
}

export interface Passage {
  chunkId: string;
  documentId: string;
  text: string;
  score: number;
  title: string;
  url: string;
  /** Epoch milliseconds, when the source had one. */
  publishedAt?: number;
  category: number;
  platform: number;
}

export type SearchFn = (
  query: string,
  filters: RetrievalFilters,
  limit: number,
  signal?: AbortSignal,
) => Promise<Passage[]>;

export const DEFAULT_TOP_K = 5;
export const MAX_TOP_K = 50;
/** Over-fetch so that fusion and dedupe have candidates beyond the first top_k of each list. */
export const OVERFETCH = 4;
/** The usual RRF constant (Cormack et al., 2009): damps the weight of the very first ranks. */
export const RRF_K = 60;

export function resolveTopK(topK: number | undefined): number {
  const k = topK ?? 0;
  if (k === 0) return DEFAULT_TOP_K;
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOP_K) {
    throw invalidArgument(
      `retrieval.top_k must be between 1 and ${MAX_TOP_K} (0 for the default ${DEFAULT_TOP_K})`,
      [{ field: 'retrieval.top_k', message: `1..${MAX_TOP_K}` }],
    );
  }
  return k;
}

/**
 * Fuses ranked lists by reciprocal rank: a chunk's score is the sum of 1/(k + rank) over the lists that hold
 * it. Scores from different queries are not comparable, ranks are. A single list keeps its own order and its
 * search scores, which say more to a reader than 1/(k + rank).
 */
export function reciprocalRankFusion(lists: readonly (readonly Passage[])[], k = RRF_K): Passage[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length <= 1) return dedupe(nonEmpty[0] ?? []);
  const fused = new Map<string, { passage: Passage; score: number; best: number }>();
  for (const list of nonEmpty) {
    dedupe(list).forEach((passage, rank) => {
      const entry = fused.get(passage.chunkId);
      const add = 1 / (k + rank + 1);
      if (entry) {
        entry.score += add;
        entry.best = Math.min(entry.best, rank);
      } else {
        fused.set(passage.chunkId, { passage, score: add, best: rank });
      }
    });
  }
  return [...fused.values()]
    .sort(
      (a, b) => b.score - a.score || a.best - b.best || a.passage.chunkId.localeCompare(b.passage.chunkId),
    )
    .map(({ passage, score }) => ({ ...passage, score }));
}

function dedupe(list: readonly Passage[]): Passage[] {
  const seen = new Set<string>();
  return list.filter((p) => (seen.has(p.chunkId) ? false : (seen.add(p.chunkId), true)));
}

export interface RetrieveInput {
  /** The user's query first, then any rewrites; each is searched with the same filters. */
  queries: readonly string[];
  filters: RetrievalFilters;
  topK: number;
}

export async function retrieve(
  input: RetrieveInput,
  search: SearchFn,
  signal?: AbortSignal,
): Promise<Passage[]> {
  const queries = [...new Set(input.queries.map((q) => q.trim()).filter(Boolean))];
  const lists = await Promise.all(
    queries.map((q) => search(q, input.filters, input.topK * OVERFETCH, signal)),
  );
  return reciprocalRankFusion(lists).slice(0, input.topK);
}

/** Characters per token, roughly, for English prose with the usual BPE tokenizers. */
export const CHARS_PER_TOKEN = 4;
export const approxTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);

/**
 * Keeps passages in rank order while they fit the budget (in approximate tokens). The first passage is always
 * kept, cut to the budget if it alone is too long, so that a small budget never yields an empty context.
 */
export function assembleContext(passages: readonly Passage[], budgetTokens: number): Passage[] {
  const budget = Math.max(1, budgetTokens) * CHARS_PER_TOKEN;
  const kept: Passage[] = [];
  let used = 0;
  for (const p of passages) {
    if (used + p.text.length <= budget) {
      kept.push(p);
      used += p.text.length;
    } else if (kept.length === 0) {
      kept.push({ ...p, text: p.text.slice(0, budget) });
      break;
    }
  }
  return kept;
}

/** One document of the context as it is cited: its passages in the context, best first. */
export interface Source {
  documentId: string;
  title: string;
  url: string;
  publishedAt?: number;
  /** In rank order; each keeps its rank in the whole context (1 first). */
  passages: (Passage & { rank: number })[];
}

/**
 * The context by document, documents in the rank of their best passage. Two chunks of one page are one
 * source to a reader, so the prompt, the answer's [n] and the citations all number documents, not chunks.
 */
export function groupByDocument(passages: readonly Passage[]): Source[] {
  const sources = new Map<string, Source>();
  passages.forEach((p, i) => {
    let source = sources.get(p.documentId);
    if (!source) {
      source = {
        documentId: p.documentId,
        title: p.title,
        url: p.url,
        ...(p.publishedAt !== undefined ? { publishedAt: p.publishedAt } : {}),
        passages: [],
      };
      sources.set(p.documentId, source);
    }
    source.passages.push({ ...p, rank: i + 1 });
  });
  return [...sources.values()];
}

/** Between two excerpts of one document in the prompt: text was left out between them. */
export const EXCERPT_SEPARATOR = '\n…\n';

/**
 * The context as the prompt numbers it: `[n] title (url)` once per document, then its passages, best first,
 * separated by a line with "…". A document with one passage reads as it always did.
 */
export function formatContext(passages: readonly Passage[]): string {
  return groupByDocument(passages)
    .map(
      (s, i) => `[${i + 1}] ${s.title} (${s.url})\n${s.passages.map((p) => p.text).join(EXCERPT_SEPARATOR)}`,
    )
    .join('\n\n');
}
