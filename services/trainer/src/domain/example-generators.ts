// What turns a passage into an example: the instruction a reader would give to get the passage as the
// answer, and (for preference datasets) a rejected answer to the same instruction. Two generators:
//   llm         a configured model writes both, with versioned prompt templates; the instruction comes back as
//               JSON {"instruction": string}, validated here;
//   extractive  no model: the instruction is built from the document's title and the passage's key terms (or
//               key sentence), the rejected answer is a generic reply around the same terms — a deliberately
//               weak baseline that teaches "the author's text beats boilerplate" and nothing more.
// Both are deterministic for a seed (the LLM one as far as its backend is at temperature 0).
import { z } from 'zod';
import { commonv1 } from '@llmtwin/contracts';
import type { GeneratorLlm } from './generator-llm.port.js';
import type { KeyPoints } from './key-terms.js';
import { fnv1a32 } from './text-hash.js';

export const EXTRACTIVE = 'extractive';
export const INSTRUCT_TEMPLATE_VERSION = 'dataset-instruct/1';
export const REJECTED_TEMPLATE_VERSION = 'dataset-rejected/1';
export const EXTRACTIVE_TEMPLATE_VERSION = 'extractive-instruct/1';

export interface PassageContext {
  documentId: string;
  passageIndex: number;
  title: string;
  text: string;
  category: commonv1.Category;
  codePath: string;
  tokens: number;
  key: KeyPoints;
}

export interface GeneratorInfo {
  kind: 'llm' | 'extractive';
  modelId: string;
  promptTemplateVersion: string;
  temperature: number;
  seed: bigint;
}

export interface ExampleGenerator {
  readonly info: GeneratorInfo;
  instruction(passage: PassageContext, signal?: AbortSignal): Promise<string>;
  rejectedAnswer(instruction: string, passage: PassageContext, signal?: AbortSignal): Promise<string>;
}

/** A model's output that cannot be used; counted in stats.generation_failures, the passage left out. */
export class GenerationError extends Error {
  override readonly name = 'GenerationError';
}

const listTerms = (t: readonly string[]) =>
  t.length <= 1 ? (t[0] ?? '') : `${t.slice(0, -1).join(', ')} and ${t[t.length - 1]}`;

const quoteTitle = (title: string) => (title.trim() ? `"${title.trim()}"` : 'your writing');

export class ExtractiveGenerator implements ExampleGenerator {
  readonly info: GeneratorInfo;

  constructor(seed: bigint) {
    this.info = {
      kind: 'extractive',
      modelId: EXTRACTIVE,
      promptTemplateVersion: EXTRACTIVE_TEMPLATE_VERSION,
      temperature: 0,
      seed,
    };
  }

  private pick(p: PassageContext, n: number): number {
    return fnv1a32(`${this.info.seed}:${p.documentId}:${p.passageIndex}`) % n;
  }

  instruction(p: PassageContext): Promise<string> {
    const title = quoteTitle(p.title);
    const terms = listTerms(p.key.terms);
    if (p.category === commonv1.Category.CODE) {
      const where = p.codePath || p.title || 'the repository';
      return Promise.resolve(
        terms ? `Write the code in ${where} that deals with ${terms}.` : `Write the code in ${where}.`,
      );
    }
    if (p.key.terms.length < 2 && p.key.sentence) {
      return Promise.resolve(`Write a passage for ${title} that makes this point: ${p.key.sentence}`);
    }
    const templates = [
      `Write about ${terms}, as you did in ${title}.`,
      `In your own words, explain ${terms} (from ${title}).`,
      `What do you have to say about ${terms}? Answer as in ${title}.`,
    ];
    return Promise.resolve(templates[this.pick(p, templates.length)]!);
  }

  rejectedAnswer(_instruction: string, p: PassageContext): Promise<string> {
    const terms = listTerms(p.key.terms) || 'this topic';
    return Promise.resolve(
      `There are many ways to look at ${terms}. In general, it depends on your situation and goals, ` +
        'so it is best to weigh the pros and cons before deciding. Many people find that a balanced ' +
        'approach works well, and it can help to read more about it.',
    );
  }
}

/** The JSON the instruction model is held to. */
export const INSTRUCTION_SCHEMA = {
  type: 'object',
  properties: { instruction: { type: 'string' } },
  required: ['instruction'],
  additionalProperties: false,
} as const;

const instructionJson = z.object({ instruction: z.string() });

/** The instruction in a model's JSON output; throws GenerationError when there is none worth keeping. */
export function parseInstruction(output: string, passage: string): string {
  let json: unknown;
  try {
    json = JSON.parse(output.slice(output.indexOf('{'), output.lastIndexOf('}') + 1));
  } catch {
    throw new GenerationError('the model did not answer with JSON');
  }
  const parsed = instructionJson.safeParse(json);
  if (!parsed.success) throw new GenerationError('the JSON has no "instruction" string');
  const instruction = parsed.data.instruction.replace(/\s+/g, ' ').trim();
  if (instruction.length < 8) throw new GenerationError('the instruction is too short');
  if (instruction.length > 600) throw new GenerationError('the instruction is too long');
  if (passage.length > 40 && passage.includes(instruction)) {
    throw new GenerationError('the instruction copies the passage');
  }
  return instruction;
}

export function instructionPrompt(p: PassageContext) {
  return [
    {
      role: 'system' as const,
      content:
        'You write training data for a model that learns to write like an author. Given a passage the ' +
        'author wrote, write the one instruction or question a reader could give for which this passage ' +
        'is the ideal answer. Be specific to its content; do not quote it; do not mention "the passage", ' +
        '"the text" or "the author". Reply with JSON only: {"instruction": "..."}',
    },
    {
      role: 'user' as const,
      content: `${p.title.trim() ? `Title: ${p.title.trim()}\n\n` : ''}Passage:\n${p.text}`,
    },
  ];
}

export function rejectedPrompt(instruction: string, words: number) {
  return [
    {
      role: 'system' as const,
      content: `You are a helpful assistant. Answer in about ${words} words.`,
    },
    { role: 'user' as const, content: instruction },
  ];
}

export interface LlmGeneratorOptions {
  temperature: number;
  seed: bigint;
}

export class LlmGenerator implements ExampleGenerator {
  readonly info: GeneratorInfo;

  constructor(
    private readonly llm: GeneratorLlm,
    options: LlmGeneratorOptions,
  ) {
    this.info = {
      kind: 'llm',
      modelId: llm.model,
      promptTemplateVersion: INSTRUCT_TEMPLATE_VERSION,
      temperature: options.temperature,
      seed: options.seed,
    };
  }

  async instruction(p: PassageContext, signal?: AbortSignal): Promise<string> {
    const output = await this.llm.complete(
      {
        messages: instructionPrompt(p),
        maxTokens: 160,
        temperature: this.info.temperature,
        jsonSchema: INSTRUCTION_SCHEMA as unknown as Record<string, unknown>,
      },
      signal,
    );
    return parseInstruction(output, p.text);
  }

  async rejectedAnswer(instruction: string, p: PassageContext, signal?: AbortSignal): Promise<string> {
    const words = Math.max(20, Math.round(p.tokens * 0.75));
    const output = await this.llm.complete(
      {
        messages: rejectedPrompt(instruction, words),
        maxTokens: Math.min(1024, Math.max(64, Math.round(p.tokens * 1.5))),
        temperature: this.info.temperature,
      },
      signal,
    );
    const answer = output.trim();
    if (!answer) throw new GenerationError('the model gave an empty answer');
    return answer;
  }
}
