// Versioned prompt templates. A template never changes once released: a new wording is a new version, so that
// every stored generation names exactly the words its model saw, and answers from two versions can be
// compared. The router uses the newest answer template unless configured to pin one
// (LLMTWIN_PROMPT_TEMPLATE).
import { invalidArgument } from '@llmtwin/runtime/errors';
import type { ChatMessage } from '@llmtwin/llm';
import { formatContext, type Passage } from './retrieve.js';

export interface AnswerInput {
  query: string;
  /** Who the twin speaks as: the author's display name, or their id. */
  author: string;
  passages: readonly Passage[];
  /** Earlier turns, oldest first. */
  history: readonly ChatMessage[];
}

export interface AnswerTemplate {
  /** `<name>/v<N>`, recorded with every generation. */
  version: string;
  render(input: AnswerInput): ChatMessage[];
}

const answerV1: AnswerTemplate = {
  version: 'twin-answer/v1',
  render({ query, author, passages, history }) {
    const system =
      `You are the digital twin of ${author}. Answer as ${author} would, in the first person and in their ` +
      `voice, using only the numbered passages from their own writing below. Cite the passages you use with ` +
      `their numbers in square brackets, like [1]. If the passages do not contain the answer, say that you ` +
      `have not written about it.\n\n` +
      (passages.length > 0 ? `Passages:\n${formatContext(passages)}` : 'Passages: none were found.');
    return [{ role: 'system', content: system }, ...history, { role: 'user', content: query }];
  },
};

/**
 * v2 numbers sources, not passages: one number per document, its excerpts under it separated by "…"
 * (formatContext), so that two chunks of one page are cited once. v1, still served when pinned, gets the same
 * grouped list under its own words.
 */
const answerV2: AnswerTemplate = {
  version: 'twin-answer/v2',
  render({ query, author, passages, history }) {
    const system =
      `You are the digital twin of ${author}. Answer as ${author} would, in the first person and in their ` +
      `voice, using only the numbered sources below. Each source is one of your own documents, with one or ` +
      `more excerpts from it separated by "…". Cite the sources you use with their numbers in square ` +
      `brackets, like [1]. If the sources do not contain the answer, say that you have not written about ` +
      `it.\n\n` +
      (passages.length > 0 ? `Sources:\n${formatContext(passages)}` : 'Sources: none were found.');
    return [{ role: 'system', content: system }, ...history, { role: 'user', content: query }];
  },
};

/** Without retrieval (disable_rag): the same persona, no passages and no citations. */
const answerNoRagV1: AnswerTemplate = {
  version: 'twin-answer-norag/v1',
  render({ query, author, history }) {
    return [
      {
        role: 'system',
        content: `You are the digital twin of ${author}. Answer as ${author} would, in the first person and in their voice.`,
      },
      ...history,
      { role: 'user', content: query },
    ];
  },
};

export const ANSWER_TEMPLATES: ReadonlyMap<string, AnswerTemplate> = new Map(
  [answerV1, answerV2].map((t) => [t.version, t]),
);
export const NO_RAG_TEMPLATE = answerNoRagV1;
export const LATEST_ANSWER_TEMPLATE = answerV2.version;

export function answerTemplate(version: string = LATEST_ANSWER_TEMPLATE): AnswerTemplate {
  const template = ANSWER_TEMPLATES.get(version);
  if (!template) {
    throw invalidArgument(
      `prompt template ${version} does not exist: known versions are ${[...ANSWER_TEMPLATES.keys()].join(', ')}`,
    );
  }
  return template;
}

export const EXPANSION_TEMPLATE_VERSION = 'query-expansion/v1';

/** Asks for `n` rewrites of the query, one per line, that a search engine would match differently. */
export function expansionPrompt(query: string, n: number): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        `You rewrite search queries. Write ${n} different versions of the user's question that ask for the same ` +
        `information with other words, so that a search over documents finds passages the original wording ` +
        `would miss. Write one version per line, without numbering or any other text.`,
    },
    { role: 'user', content: query },
  ];
}

export const SELF_QUERY_TEMPLATE_VERSION = 'self-query/v1';

export function selfQueryPrompt(query: string, today: string): ChatMessage[] {
  return [
    {
      role: 'system',
      content:
        `Extract search filters from the user's question as JSON. Only set a field when the question states it ` +
        `explicitly. categories: "article", "post" or "code". platforms: "medium", "substack", "linkedin" or ` +
        `"github". published_after / published_before: ISO dates (YYYY-MM-DD). Today is ${today}.`,
    },
    { role: 'user', content: query },
  ];
}
