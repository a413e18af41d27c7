import { describe, expect, it } from '@jest/globals';
import { commonv1 } from '@llmtwin/contracts';
import {
  ExtractiveGenerator,
  GenerationError,
  parseInstruction,
  type PassageContext,
} from './example-generators.js';
import { TermStatistics, keyPoints, terms } from './key-terms.js';

const text =
  'A sourdough starter needs feeding. A starter on rye flour rises faster than one on white flour, because ' +
  'rye carries more wild yeast. Feed the starter twice a day when it lives on the counter.';

function context(extra: Partial<PassageContext> = {}): PassageContext {
  const stats = new TermStatistics();
  stats.add(text);
  stats.add('Bread needs an oven, and the oven needs to be hot before the loaf goes in.');
  return {
    documentId: 'doc1',
    passageIndex: 0,
    title: 'Living with a starter',
    text,
    category: commonv1.Category.ARTICLE,
    codePath: '',
    tokens: 50,
    key: keyPoints(text, stats),
    ...extra,
  };
}

describe('key terms', () => {
  it('drops function words, short words, numbers and contractions', () => {
    expect(terms("The starter's rye is 100% what it's about, isn't it? Flour.")).toEqual(['rye', 'flour']);
  });

  it('weighs terms by tf-idf and picks the sentence that holds the most weight', () => {
    const key = context().key;
    expect(key.terms).toEqual(['starter', 'flour', 'rye']);
    expect(key.sentence).toMatch(/^A starter on rye flour rises faster/);
  });
});

describe('the extractive generator', () => {
  it('writes an instruction from the title and the key terms, the same for the same seed', async () => {
    const a = await new ExtractiveGenerator(1n).instruction(context());
    expect(a).toMatch(/starter, flour and rye/);
    expect(a).toMatch(/"Living with a starter"/);
    expect(await new ExtractiveGenerator(1n).instruction(context())).toBe(a);
    const code = await new ExtractiveGenerator(1n).instruction(
      context({ category: commonv1.Category.CODE, codePath: 'src/bake.ts' }),
    );
    expect(code).toBe('Write the code in src/bake.ts that deals with starter, flour and rye.');
  });

  it('answers a generic, voice-less reply as the rejected answer', async () => {
    expect(await new ExtractiveGenerator(1n).rejectedAnswer('q', context())).toMatch(
      /^There are many ways to look at starter, flour and rye\. In general, it depends/,
    );
  });
});

describe("the instruction model's output", () => {
  it('is JSON with an instruction, possibly wrapped in other text', () => {
    expect(parseInstruction('Sure! {"instruction": "  How do I keep a\\n starter alive? "}', text)).toBe(
      'How do I keep a starter alive?',
    );
  });

  it('is refused when it is not JSON, too short, or copies the passage', () => {
    for (const bad of [
      'no json',
      '{"question": "x"}',
      '{"instruction": "Why?"}',
      JSON.stringify({ instruction: text.slice(0, 60) }),
    ]) {
      expect(() => parseInstruction(bad, text)).toThrow(GenerationError);
    }
  });
});
