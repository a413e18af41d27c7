// The answer settings as the router reads them from its variables: a blank penalty is "not set" (the
// backend keeps its default), never 0, and a value out of range is refused at start with its name.
import { describe, expect, it } from '@jest/globals';
import { loadInferenceRouterConfig } from './config.js';
import { answerSettings } from './module.js';

const base = { LLMTWIN_WAREHOUSE_URL: 'sqlite::memory:', LLMTWIN_EMBED_URL: 'http://embed:8080' };

describe('answer settings', () => {
  it('sends no penalty that is unset or blank, and keeps the guard, attribution and the fallback on', () => {
    const settings = loadInferenceRouterConfig({ ...base, LLMTWIN_LLM_REPEAT_PENALTY: '' });
    expect(answerSettings(settings)).toEqual({ repeatSpanWords: 12, fallback: true, attribution: true });
  });

  it('passes the penalties that are set, and turns the guard, attribution and the fallback off when asked', () => {
    const settings = loadInferenceRouterConfig({
      ...base,
      LLMTWIN_LLM_REPEAT_PENALTY: '1.15',
      LLMTWIN_LLM_FREQUENCY_PENALTY: '0',
      LLMTWIN_LLM_DRY_MULTIPLIER: '0.8',
      LLMTWIN_REPEAT_GUARD_WORDS: '0',
      LLMTWIN_ANSWER_FALLBACK: 'off',
      LLMTWIN_ANSWER_ATTRIBUTION: 'off',
    });
    expect(answerSettings(settings)).toEqual({
      penalties: { repeat: 1.15, frequency: 0, dry: 0.8 },
      repeatSpanWords: 0,
      fallback: false,
      attribution: false,
    });
  });

  it('refuses a penalty out of range, naming the variable', () => {
    expect(() => loadInferenceRouterConfig({ ...base, LLMTWIN_LLM_REPEAT_PENALTY: '7' })).toThrow(
      /LLMTWIN_LLM_REPEAT_PENALTY/,
    );
  });
});
