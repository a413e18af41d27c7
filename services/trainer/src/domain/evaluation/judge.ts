// The LLM judge: a model at temperature 0 rates an answer against the author's own answer to the same
// question, for accuracy and for style, each 1–3. The template is versioned and never edited once released
// (a new wording is a new version), and its SHA-256 goes into every report, so that two reports' judge scores
// are compared only when they were asked the same way.
//
// Small judges do not always answer in JSON: the reply is parsed leniently (code fences, text around the
// object, numbers as strings, or "accuracy: 2" without braces), a reply that still makes no sense is asked
// for once more with a reminder, and after that the answer counts as unscored. Only cancellation throws.
import { DomainError } from '@llmtwin/runtime/errors';
import type { CompletionMessage, GeneratorLlm } from '../generator-llm.port.js';
import { sha256Hex } from '../text-hash.js';

export const JUDGE_TEMPLATE = {
  version: 'eval-judge/v1',
  system:
    'You grade answers written in the voice of an author. You compare an answer with the reference answer ' +
    'that the author wrote to the same question, and you reply with JSON only.',
  user:
    'Question:\n{question}\n\n' +
    'Reference answer, written by the author:\n{reference}\n\n' +
    'Answer to grade:\n{answer}\n\n' +
    'Grade the answer on two scales from 1 to 3.\n' +
    'accuracy: 3 = it says what the reference says and contradicts nothing in it; 2 = partly right or ' +
    'incomplete; 1 = wrong, off topic or empty.\n' +
    'style: 3 = it reads as if the author of the reference wrote it (tone, sentence length, word choice); ' +
    '2 = somewhat like the author; 1 = clearly a different writer.\n' +
    'Reply with only this JSON object: {"accuracy": <1-3>, "style": <1-3>}',
  retry: 'That was not the JSON object asked for. Reply with only {"accuracy": <1-3>, "style": <1-3>}.',
} as const;

/** SHA-256 of the template as released (its version and every wording), hex. */
export const judgeTemplateSha256 = (): Promise<string> => sha256Hex(JSON.stringify(JUDGE_TEMPLATE));

export const JUDGEMENT_SCHEMA: Record<string, unknown> = {
  type: 'object',
  properties: { accuracy: { enum: [1, 2, 3] }, style: { enum: [1, 2, 3] } },
  required: ['accuracy', 'style'],
  additionalProperties: false,
};

export interface JudgeItem {
  question: string;
  reference: string;
  answer: string;
}

export interface Judgement {
  accuracy: number;
  style: number;
}

const MAX_JUDGE_TOKENS = 48;

export function judgeMessages(item: JudgeItem): CompletionMessage[] {
  // Replacement functions, so that a "$&" in an answer is kept as written.
  const user = JUDGE_TEMPLATE.user
    .replace('{question}', () => item.question)
    .replace('{reference}', () => item.reference)
    .replace('{answer}', () => (item.answer.trim() === '' ? '(empty)' : item.answer));
  return [
    { role: 'system', content: JUDGE_TEMPLATE.system },
    { role: 'user', content: user },
  ];
}

const grade = (value: unknown): number | undefined => {
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 3 ? n : undefined;
};

/** The two grades in a judge's reply, or undefined when it holds no valid pair. */
export function parseJudgement(reply: string): Judgement | undefined {
  const start = reply.indexOf('{');
  const end = reply.lastIndexOf('}');
  if (start !== -1 && end > start) {
    try {
      const value = JSON.parse(reply.slice(start, end + 1)) as unknown;
      if (value && typeof value === 'object') {
        const fields = Object.fromEntries(
          Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]),
        );
        const accuracy = grade(fields.accuracy);
        const style = grade(fields.style);
        if (accuracy !== undefined && style !== undefined) return { accuracy, style };
      }
    } catch {
      // Not JSON after all: the key–value scan below may still read it.
    }
  }
  const accuracy = /accuracy"?\s*[:=]\s*"?([1-3])(?![\d.])/i.exec(reply)?.[1];
  const style = /style"?\s*[:=]\s*"?([1-3])(?![\d.])/i.exec(reply)?.[1];
  return accuracy && style ? { accuracy: Number(accuracy), style: Number(style) } : undefined;
}

export interface JudgeOutcome {
  judgement?: Judgement;
  /** Why it is unscored, when it is. */
  problem?: string;
}

export class Judge {
  constructor(private readonly llm: GeneratorLlm) {}

  get model(): string {
    return this.llm.model;
  }

  /** Grades one answer; an answer the judge could not grade after one retry comes back unscored. */
  async score(item: JudgeItem, signal: AbortSignal): Promise<JudgeOutcome> {
    const messages = judgeMessages(item);
    let last: { error: string } | { reply: string } | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      // After an unreadable reply the judge sees what it wrote and a reminder; after an error, the same ask.
      const asked: CompletionMessage[] =
        last && 'reply' in last
          ? [
              ...messages,
              { role: 'assistant', content: last.reply.slice(0, 500) },
              { role: 'user', content: JUDGE_TEMPLATE.retry },
            ]
          : messages;
      try {
        const reply = await this.llm.complete(
          { messages: asked, maxTokens: MAX_JUDGE_TOKENS, temperature: 0, jsonSchema: JUDGEMENT_SCHEMA },
          signal,
        );
        const judgement = parseJudgement(reply);
        if (judgement) return { judgement };
        last = { reply };
      } catch (err) {
        if (signal.aborted)
          throw new DomainError('cancelled', 'the evaluation was cancelled', { cause: err });
        last = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return {
      problem:
        last && 'error' in last
          ? `the judge failed: ${last.error}`
          : `the judge replied without a valid grade: ${JSON.stringify((last?.reply ?? '').slice(0, 120))}`,
    };
  }
}
