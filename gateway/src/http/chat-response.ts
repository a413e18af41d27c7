// The InferenceService's answers in the Chat Completions shapes: a `chat.completion` object, or the
// `chat.completion.chunk` objects of a stream. The twin's citations (one per document, with the passages of
// it the answer was given) ride along as a top-level `citations` array and its own record as `llmtwin`;
// clients that do not know them ignore them. The citation markers in the text ([1], [2]) are also given as
// OpenAI `url_citation` annotations, which some clients render.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { inferencev1 } from '@llmtwin/contracts';

export interface OpenAiCitation {
  index: number;
  title: string;
  url: string;
  /** RFC 3339, or null when the source has no publication time. */
  published_at: string | null;
  document_id: string;
  /** The best passage's chunk and score; `passages` lists every passage of the document the answer had. */
  chunk_id: string;
  score: number;
  passages: { chunk_id: string; score: number; snippet: string; rank: number }[];
}

export interface LlmtwinInfo {
  generation_id: string;
  prompt_template_version: string;
  extractive: boolean;
  /** The author's model version that answered, "<name>/<version>", or null when the stock model did. */
  model_version: string | null;
  model_version_id: string | null;
  /** Why the model's answer was replaced by quotes ("repetition" | "no_citations"), or null. */
  fallback: string | null;
}

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface UrlCitationAnnotation {
  type: 'url_citation';
  url_citation: { start_index: number; end_index: number; title: string; url: string };
}

export const citationsOf = (res: inferencev1.GenerateResponse): OpenAiCitation[] =>
  res.citations.map((c) => ({
    index: c.index,
    title: c.title,
    url: c.url,
    published_at: c.publishTime ? new Date(timestampMs(c.publishTime)).toISOString() : null,
    document_id: c.documentId,
    chunk_id: c.chunkId,
    score: c.score,
    passages: c.passages.map((p) => ({
      chunk_id: p.chunkId,
      score: p.score,
      snippet: p.snippet,
      rank: p.rank,
    })),
  }));

export const llmtwinInfoOf = (res: inferencev1.GenerateResponse): LlmtwinInfo => ({
  generation_id: res.generationId,
  prompt_template_version: res.promptTemplateVersion,
  extractive: res.extractive,
  model_version: res.modelVersion || null,
  model_version_id: res.modelVersionId || null,
  fallback: res.fallback || null,
});

/**
 * OpenAI's system_fingerprint names the backend configuration an answer came from; here, the model version
 * id of the author's fine-tuned adapter (null for the stock model), which generic clients already surface.
 */
export const systemFingerprintOf = (res: inferencev1.GenerateResponse): string | null =>
  res.modelVersionId || null;

export function usageOf(res: inferencev1.GenerateResponse): OpenAiUsage {
  const prompt = res.usage?.promptTokens ?? 0;
  const completion = res.usage?.completionTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** OpenAI knows 'stop' and 'length'; anything else the router reports ends the answer as 'stop'. */
export const finishReasonOf = (reason: string): 'stop' | 'length' =>
  reason === 'length' ? 'length' : 'stop';

/** Each [n] in the answer that names a citation, as an annotation over those characters. */
export function annotationsOf(answer: string, citations: readonly OpenAiCitation[]): UrlCitationAnnotation[] {
  const byIndex = new Map(citations.map((c) => [c.index, c]));
  const annotations: UrlCitationAnnotation[] = [];
  for (const match of answer.matchAll(/\[(\d+)\]/g)) {
    const cited = byIndex.get(Number(match[1]));
    if (!cited) continue;
    annotations.push({
      type: 'url_citation',
      url_citation: {
        start_index: match.index,
        end_index: match.index + match[0].length,
        title: cited.title,
        url: cited.url,
      },
    });
  }
  return annotations;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function chatCompletion(res: inferencev1.GenerateResponse, created = nowSeconds()) {
  const citations = citationsOf(res);
  return {
    id: `chatcmpl-${res.generationId}`,
    object: 'chat.completion' as const,
    created,
    model: res.model,
    system_fingerprint: systemFingerprintOf(res),
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: res.answer,
          refusal: null,
          annotations: annotationsOf(res.answer, citations),
        },
        logprobs: null,
        finish_reason: finishReasonOf(res.finishReason),
      },
    ],
    usage: usageOf(res),
    citations,
    llmtwin: llmtwinInfoOf(res),
  };
}

/** Builds the chunks of one streamed completion; every chunk shares the id, creation time and model. */
export class ChunkWriter {
  readonly created = nowSeconds();
  constructor(
    readonly id: string,
    private model: string,
    private readonly includeUsage: boolean,
  ) {}

  private base() {
    return {
      id: this.id,
      object: 'chat.completion.chunk' as const,
      created: this.created,
      model: this.model,
      // With include_usage, OpenAI sends usage: null on every chunk but the last.
      ...(this.includeUsage ? { usage: null } : {}),
    };
  }

  private choice(delta: Record<string, unknown>, finishReason: 'stop' | 'length' | null = null) {
    return { index: 0, delta, logprobs: null, finish_reason: finishReason };
  }

  first() {
    return { ...this.base(), choices: [this.choice({ role: 'assistant', content: '' })] };
  }

  delta(content: string) {
    return { ...this.base(), choices: [this.choice({ content })] };
  }

  /** The last chunk with a choice: why the answer ended, and the citations. */
  final(res: inferencev1.GenerateResponse) {
    // The answer names the model that actually answered; the chunks before it echoed the one asked for.
    if (res.model) this.model = res.model;
    return {
      ...this.base(),
      system_fingerprint: systemFingerprintOf(res),
      choices: [this.choice({}, finishReasonOf(res.finishReason))],
      citations: citationsOf(res),
      llmtwin: llmtwinInfoOf(res),
    };
  }

  usage(res: inferencev1.GenerateResponse) {
    return { ...this.base(), choices: [], usage: usageOf(res) };
  }
}
