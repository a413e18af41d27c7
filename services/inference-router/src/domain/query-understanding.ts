// The LLM's two reading jobs before retrieval: query expansion (rewrites searched beside the original) and
// self-query (filters the question states, extracted as constrained JSON). Both only read the query: they
// never widen what the request may see (the author is fixed by the caller), and a failure or an unusable
// answer degrades to "no rewrites" / "no extra filters" rather than failing the generation.
import { commonv1 } from '@llmtwin/contracts';
import { z } from 'zod';
import type { ChatRequest, LlmBackend } from '@llmtwin/llm';
import { expansionPrompt, selfQueryPrompt } from './prompts.js';
import type { RetrievalFilters } from './retrieve.js';

export interface LlmText {
  text: string;
  promptTokens: number;
  completionTokens: number;
}

/** Runs one completion to the end and joins its pieces. */
export async function completeText(
  llm: LlmBackend,
  request: ChatRequest,
  signal?: AbortSignal,
): Promise<LlmText> {
  let text = '';
  let promptTokens = 0;
  let completionTokens = 0;
  for await (const event of llm.chat(request, signal)) {
    if (event.type === 'delta') text += event.text;
    else {
      promptTokens = event.promptTokens ?? 0;
      completionTokens = event.completionTokens ?? 0;
    }
  }
  return { text, promptTokens, completionTokens };
}

/** Turns the model's lines into distinct rewrites, dropping numbering, quotes and copies of the original. */
export function parseRewrites(text: string, original: string, n: number): string[] {
  const seen = new Set([normalise(original)]);
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw
      .replace(/^\s*(?:[-*•]|\d+[.):]|\(\d+\))\s*/, '')
      .replace(/^["'“]|["'”]$/g, '')
      .trim();
    if (line.length < 3 || line.length > 500) continue;
    const key = normalise(line);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(line);
    if (out.length === n) break;
  }
  return out;
}

const normalise = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

export async function expandQuery(
  llm: LlmBackend,
  query: string,
  n: number,
  signal?: AbortSignal,
): Promise<string[]> {
  if (n <= 0) return [];
  const { text } = await completeText(
    llm,
    { messages: expansionPrompt(query, n), maxTokens: 48 * n, temperature: 0.7 },
    signal,
  );
  return parseRewrites(text, query, n);
}

const CATEGORY_NAMES = { article: 1, post: 2, code: 3 } as const;
const PLATFORM_NAMES = { medium: 1, substack: 2, linkedin: 3, github: 4 } as const;
// Compile-time check that the names above follow the contract's enums.
const _categoryCheck: number[] = [
  commonv1.Category.ARTICLE,
  commonv1.Category.POST,
  commonv1.Category.CODE,
] satisfies (typeof CATEGORY_NAMES)[keyof typeof CATEGORY_NAMES][];
const _platformCheck: number[] = [
  commonv1.Platform.MEDIUM,
  commonv1.Platform.SUBSTACK,
  commonv1.Platform.LINKEDIN,
  commonv1.Platform.GITHUB,
] satisfies (typeof PLATFORM_NAMES)[keyof typeof PLATFORM_NAMES][];
void _categoryCheck;
void _platformCheck;

/** The JSON the model is constrained to (OpenAI json_schema, TGI grammar, llama.cpp grammar). */
export const SELF_QUERY_SCHEMA = {
  type: 'object',
  properties: {
    categories: { type: 'array', items: { type: 'string', enum: Object.keys(CATEGORY_NAMES) } },
    platforms: { type: 'array', items: { type: 'string', enum: Object.keys(PLATFORM_NAMES) } },
    published_after: { type: 'string' },
    published_before: { type: 'string' },
  },
  additionalProperties: false,
} as const;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}/)
  .transform((s) => Date.parse(s.slice(0, 10) + 'T00:00:00Z'))
  .refine((ms) => Number.isFinite(ms));

// Lenient on purpose: each field is kept only when it is valid on its own; a bad field never spoils the rest.
const extracted = z.object({
  categories: z
    .array(z.enum(Object.keys(CATEGORY_NAMES) as [string, ...string[]]))
    .optional()
    .catch(undefined),
  platforms: z
    .array(z.enum(Object.keys(PLATFORM_NAMES) as [string, ...string[]]))
    .optional()
    .catch(undefined),
  published_after: isoDate.optional().catch(undefined),
  published_before: isoDate.optional().catch(undefined),
});

export interface ExtractedFilters {
  categories: number[];
  platforms: number[];
  publishedAfter?: number;
  publishedBefore?: number;
}

/** Parses the model's JSON into filters; anything unusable yields no filter rather than an error. */
export function parseSelfQuery(text: string): ExtractedFilters {
  let json: unknown;
  try {
    json = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1));
  } catch {
    return { categories: [], platforms: [] };
  }
  const parsed = extracted.safeParse(json);
  if (!parsed.success) return { categories: [], platforms: [] };
  const f = parsed.data;
  const out: ExtractedFilters = {
    categories: [
      ...new Set((f.categories ?? []).map((c) => CATEGORY_NAMES[c as keyof typeof CATEGORY_NAMES])),
    ],
    platforms: [...new Set((f.platforms ?? []).map((p) => PLATFORM_NAMES[p as keyof typeof PLATFORM_NAMES]))],
  };
  if (f.published_after !== undefined) out.publishedAfter = f.published_after;
  if (f.published_before !== undefined) out.publishedBefore = f.published_before;
  if (
    out.publishedAfter !== undefined &&
    out.publishedBefore !== undefined &&
    out.publishedAfter >= out.publishedBefore
  ) {
    delete out.publishedAfter;
    delete out.publishedBefore;
  }
  return out;
}

export async function selfQuery(
  llm: LlmBackend,
  query: string,
  signal?: AbortSignal,
  now = new Date(),
): Promise<ExtractedFilters> {
  const { text } = await completeText(
    llm,
    {
      messages: selfQueryPrompt(query, now.toISOString().slice(0, 10)),
      maxTokens: 96,
      temperature: 0,
      jsonSchema: SELF_QUERY_SCHEMA as unknown as Record<string, unknown>,
    },
    signal,
  );
  return parseSelfQuery(text);
}

/**
 * Adds what the question stated to the request's filters. The request's own filters win wherever it set one;
 * the author never changes.
 */
export function mergeFilters(
  request: RetrievalFilters,
  extractedFilters: ExtractedFilters,
): RetrievalFilters {
  const merged: RetrievalFilters = {
    authorId: request.authorId,
    categories: request.categories.length > 0 ? request.categories : extractedFilters.categories,
    platforms: request.platforms.length > 0 ? request.platforms : extractedFilters.platforms,
  };
  if (request.publishedAfter !== undefined) merged.publishedAfter = request.publishedAfter;
  if (request.publishedBefore !== undefined) merged.publishedBefore = request.publishedBefore;
  // An extracted bound is added only where the request set none and it leaves a non-empty range.
  const after = extractedFilters.publishedAfter;
  if (
    merged.publishedAfter === undefined &&
    after !== undefined &&
    !(after >= (merged.publishedBefore ?? Infinity))
  )
    merged.publishedAfter = after;
  const before = extractedFilters.publishedBefore;
  if (
    merged.publishedBefore === undefined &&
    before !== undefined &&
    !((merged.publishedAfter ?? -Infinity) >= before)
  )
    merged.publishedBefore = before;
  return merged;
}
