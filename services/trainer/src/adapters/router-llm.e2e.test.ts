// The LLM generator through the router's LLM port with a real model: the router's model table serving the
// in-process SmolLM2-135M-Instruct (prepared by npm run models:prepare), as the embedded twin hands it to the
// trainer. The instruction comes back as JSON held to {"instruction": string} by the backend's grammar.
import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { commonv1 } from '@llmtwin/contracts';
import { buildModelRouter } from '@llmtwin/inference-router';
import { pino } from 'pino';
import { defaultTokenizerModel } from '../config.js';
import {
  GenerationError,
  INSTRUCTION_SCHEMA,
  LlmGenerator,
  instructionPrompt,
  type PassageContext,
} from '../domain/example-generators.js';
import { routerModels } from './router-llm.js';

const model = defaultTokenizerModel(
  process.env.LLMTWIN_CACHE_DIR || path.join(homedir(), '.cache', 'llmtwin'),
);
if (!existsSync(model)) throw new Error(`SmolLM2 is not prepared at ${model}: run npm run models:prepare`);

const { models } = buildModelRouter({
  backends: `smol=local:${model}`,
  backendOptions: { localThreads: 1 },
  logger: pino({ level: 'silent' }),
});
afterAll(async () => {
  await models.close();
});

const passage =
  'Sourdough needs a starter: flour and water that wild yeast and bacteria have colonised. Feed it every ' +
  'morning with equal weights of flour and water, keep it at room temperature, and it will double in a few hours.';

const context: PassageContext = {
  documentId: 'doc1',
  passageIndex: 0,
  title: 'Keeping a sourdough starter',
  text: passage,
  category: commonv1.Category.ARTICLE,
  codePath: '',
  tokens: 50,
  key: { terms: ['starter', 'flour', 'water'], sentence: '' },
};

describe('the LLM generator on the router model table (SmolLM2, in process)', () => {
  it('gets the instruction as JSON held to the schema, and a rejected answer', async () => {
    const llm = routerModels(models).resolve('smol');
    const raw = await llm.complete({
      messages: instructionPrompt(context),
      maxTokens: 160,
      temperature: 0,
      jsonSchema: INSTRUCTION_SCHEMA as unknown as Record<string, unknown>,
    });
    const json = JSON.parse(raw) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['instruction']);
    expect(typeof json['instruction']).toBe('string');

    const generator = new LlmGenerator(llm, { temperature: 0, seed: 1n });
    expect(generator.info).toMatchObject({
      kind: 'llm',
      modelId: 'smol',
      promptTemplateVersion: 'dataset-instruct/1',
    });
    // A 135M model often just repeats the passage: the generator refuses that as a generation failure.
    const instruction = await generator.instruction(context).catch((err: unknown) => {
      if (err instanceof GenerationError) return undefined;
      throw err;
    });
    if (instruction !== undefined) expect(passage).not.toContain(instruction);
    const rejected = await generator.rejectedAnswer('How do I keep a sourdough starter alive?', context);
    expect(rejected.trim().length).toBeGreaterThan(0);
  }, 120_000);

  it('answers not found for a model the router does not serve', () => {
    expect(() => routerModels(models).resolve('gpt-nonexistent')).toThrow(/not served/);
  });
});
