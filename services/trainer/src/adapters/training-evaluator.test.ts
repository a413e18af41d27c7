// The evaluator's settings are checked when it is built: a judge or a retriever named but not there fails at
// start with what to change (nothing here runs a model).
import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime/errors';
import { pino } from 'pino';
import { configSchema } from '../config.js';
import { createTrainingEvaluator } from './training-evaluator.js';
import type { ModelTable } from './router-llm.js';

const config = (env: Record<string, string> = {}) =>
  configSchema.parse({
    LLMTWIN_WAREHOUSE_URL: 'sqlite::memory:',
    LLMTWIN_EVENT_BUS_URL: 'log:/tmp/unused',
    LLMTWIN_CLEAN_URL: 'http://127.0.0.1:1',
    LLMTWIN_INGEST_URL: 'http://127.0.0.1:1',
    LLMTWIN_REGISTRY_URL: 'http://127.0.0.1:1',
    ...env,
  });
const logger = pino({ level: 'silent' });
const base = { python: 'python3', threads: 1, logger };
const caught = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
};

describe('createTrainingEvaluator', () => {
  it('reads the gate thresholds and sizes from the LLMTWIN_EVAL_* settings', () => {
    const c = config({ LLMTWIN_EVAL_MIN_PERPLEXITY_GAIN: '0.05', LLMTWIN_EVAL_MAX_PROMPTS: '3' });
    expect(c.LLMTWIN_EVAL_MIN_PERPLEXITY_GAIN).toBe(0.05);
    expect(c.LLMTWIN_EVAL_MAX_PROMPTS).toBe(3);
    expect(c.LLMTWIN_EVAL_JUDGE_MODEL).toBe('');
    expect(() => createTrainingEvaluator({ ...base, config: c })).not.toThrow();
  });

  it('refuses a judge model without a model table', () => {
    const err = caught(() =>
      createTrainingEvaluator({ ...base, config: config({ LLMTWIN_EVAL_JUDGE_MODEL: 'judge' }) }),
    );
    expect(isDomainError(err, 'failed-precondition')).toBe(true);
    expect((err as Error).message).toMatch(/LLMTWIN_EVAL_JUDGE_MODEL=judge .* no model table/);
  });

  it('resolves the judge from the table at start, so an unknown model fails then', () => {
    const models: ModelTable = {
      resolve: (id) => {
        throw new Error(`no model ${String(id)}`);
      },
    };
    expect(() =>
      createTrainingEvaluator({ ...base, models, config: config({ LLMTWIN_EVAL_JUDGE_MODEL: 'nope' }) }),
    ).toThrow(/no model nope/);
  });

  it('refuses router retrieval without the inference router', () => {
    const err = caught(() =>
      createTrainingEvaluator({ ...base, config: config({ LLMTWIN_EVAL_RETRIEVAL: 'router' }) }),
    );
    expect((err as Error).message).toMatch(/LLMTWIN_EVAL_RETRIEVAL=router needs the inference router/);
  });

  it('refuses a threshold out of range, naming it', () => {
    expect(() => config({ LLMTWIN_EVAL_MAX_STYLE_DISTANCE_INCREASE: '2' })).toThrow(
      /LLMTWIN_EVAL_MAX_STYLE_DISTANCE_INCREASE/,
    );
  });
});
